-- Corpus audits shared by many workers (`skillgate audit submit`, `skillgate worker`).

-- One submission: the paths it was given, and the engine and policy it is judged under.
CREATE TABLE audits (
    id          TEXT PRIMARY KEY,
    engine      TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    roots       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Every skill a submission found, at its path. `error` says why one could not be read then;
-- such a skill has no hash and no job, and the audit's report carries the error.
CREATE TABLE audit_skills (
    audit_id    TEXT NOT NULL REFERENCES audits (id),
    path        TEXT NOT NULL,
    skill_hash  TEXT,
    error       TEXT,
    PRIMARY KEY (audit_id, path)
);
CREATE INDEX audit_skills_by_hash ON audit_skills (skill_hash);

-- One job per content hash, engine and policy, whichever audit found it first. `state` is
-- queued, running, done or failed. A running job's lease ends at `lease_until`; a worker that
-- is alive renews it, and a job whose lease ran out (its worker died) is leased again, until
-- `attempts` reaches the workers' limit and it ends failed with `error`.
CREATE TABLE audit_jobs (
    id          INTEGER PRIMARY KEY,
    skill_hash  TEXT NOT NULL,
    engine      TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    path        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    ready_at    BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (skill_hash, engine, policy_hash)
);
-- Leasing takes the oldest queued job of an engine and policy: an ordered range on this index,
-- as cheap with 100,000 queued as with ten.
CREATE INDEX audit_jobs_queue ON audit_jobs (engine, policy_hash, state, id);
-- Expired leases are found by time.
CREATE INDEX audit_jobs_leases ON audit_jobs (state, lease_until);
