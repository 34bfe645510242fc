-- skillgate trust store, first schema.
-- Portable SQL where it can be: TEXT, BIGINT, no SQLite-only column types. Times are Unix
-- milliseconds (BIGINT) so that ordering and windows ("20 clean runs over 7 days") are plain
-- integer comparisons on every backend.

-- A skill is a content hash. The name links versions; a changed bundle is a new row.
CREATE TABLE skills (
    hash        TEXT PRIMARY KEY,
    name        TEXT,
    version     TEXT,
    publisher   TEXT,
    source        TEXT NOT NULL,
    allowed_tools TEXT,
    first_seen    BIGINT NOT NULL
);
CREATE INDEX skills_by_name ON skills (name, first_seen);

-- One evaluation of one skill by one engine (tool version + rules + gates) under one policy.
CREATE TABLE scans (
    id           INTEGER PRIMARY KEY,
    skill_hash   TEXT NOT NULL REFERENCES skills (hash),
    tool_version TEXT NOT NULL,
    engine       TEXT NOT NULL,
    policy_hash  TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL,
    report       TEXT NOT NULL
);
CREATE INDEX scans_by_key ON scans (skill_hash, engine, policy_hash, id);

CREATE TABLE gate_reports (
    scan_id      BIGINT NOT NULL REFERENCES scans (id),
    gate         TEXT NOT NULL,
    status       TEXT NOT NULL,
    note         TEXT,
    capabilities TEXT NOT NULL,
    PRIMARY KEY (scan_id, gate)
);

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    scan_id     BIGINT NOT NULL REFERENCES scans (id),
    gate        TEXT NOT NULL,
    code        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    confidence  TEXT NOT NULL,
    category    TEXT NOT NULL,
    message     TEXT NOT NULL,
    file        TEXT,
    line        BIGINT,
    evidence    TEXT
);
CREATE INDEX findings_by_scan ON findings (scan_id);
CREATE INDEX findings_by_code ON findings (code);

CREATE TABLE verdicts (
    scan_id     BIGINT PRIMARY KEY REFERENCES scans (id),
    skill_hash  TEXT NOT NULL REFERENCES skills (hash),
    decision    TEXT NOT NULL,
    tier        TEXT,
    worst       TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX verdicts_by_skill ON verdicts (skill_hash, scan_id);

-- Append-only: the state of a skill is its newest row. `to_state` is T1..T4, rejected or revoked.
CREATE TABLE tier_history (
    id          INTEGER PRIMARY KEY,
    skill_hash  TEXT NOT NULL REFERENCES skills (hash),
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX tier_history_by_skill ON tier_history (skill_hash, id);

CREATE TABLE runtime_events (
    id          INTEGER PRIMARY KEY,
    skill_hash  TEXT NOT NULL REFERENCES skills (hash),
    kind        TEXT NOT NULL,
    severity    TEXT,
    capability  TEXT,
    detail      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX runtime_events_by_skill ON runtime_events (skill_hash, id);

CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    skill_hash  TEXT NOT NULL REFERENCES skills (hash),
    approved    BIGINT NOT NULL,
    reviewer    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX reviews_by_skill ON reviews (skill_hash, id);

-- Trusted public keys. Distrust is a new row with trusted = 0, never a delete.
CREATE TABLE keys (
    id          INTEGER PRIMARY KEY,
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    role        TEXT NOT NULL,
    label       TEXT NOT NULL,
    trusted     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX keys_by_key_id ON keys (key_id, id);

CREATE TABLE signatures (
    id          INTEGER PRIMARY KEY,
    skill_hash  TEXT NOT NULL REFERENCES skills (hash),
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX signatures_by_skill ON signatures (skill_hash);

CREATE TABLE advisories (
    id          TEXT PRIMARY KEY,
    ecosystem   TEXT NOT NULL,
    packages    TEXT NOT NULL,
    record      TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- LLM judge answers, keyed by what they depend on.
CREATE TABLE judge_cache (
    skill_hash     TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    answer         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (skill_hash, model, prompt_version)
);
