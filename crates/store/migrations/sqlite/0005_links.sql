-- Composition: the skills each scanned skill loads, invokes, requires or installs, by name. The
-- tier an agent is told is the lowest along these links (an unknown name counts as T1).
CREATE TABLE skill_links (
    from_hash TEXT NOT NULL REFERENCES skills(hash),
    to_name   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    PRIMARY KEY (from_hash, to_name, kind)
);
CREATE INDEX skill_links_to ON skill_links (to_name);
