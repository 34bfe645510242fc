-- The trust service: uploads waiting for a scan, and the API keys that may call it
-- (PostgreSQL dialect of migrations/sqlite/0003; the same text).

-- One upload to scan. `state` is queued, running, done or failed. A queued or running job
-- survives a restart and runs again; its scan is recorded in the same store, so a re-run after
-- a crash that followed the commit is served from `scans` and adds no second verdict.
CREATE TABLE scan_jobs (
    id           TEXT PRIMARY KEY,
    upload_hash  TEXT NOT NULL,
    archive_path TEXT NOT NULL,
    state        TEXT NOT NULL,
    skill_hash   TEXT,
    report       TEXT,
    error        TEXT,
    actor        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX scan_jobs_by_upload ON scan_jobs (upload_hash, state);
CREATE INDEX scan_jobs_by_state ON scan_jobs (state, created_at);

-- Bearer API keys: only a SHA-256 of the secret is kept. Revocation sets `revoked_at`.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
