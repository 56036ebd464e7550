-- Shared state (docs/state.md): namespaced keys with JSON values. Portable SQL: the same
-- statements run on PostgreSQL (BIGINT epoch millis, no SQLite-only functions or types).
CREATE TABLE state_entries (
    namespace       VARCHAR(63) NOT NULL,
    state_key       VARCHAR(512) NOT NULL,
    value           TEXT NOT NULL,
    version         BIGINT NOT NULL,
    expires_at      BIGINT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (namespace, state_key)
);
CREATE INDEX state_entries_by_expiry ON state_entries (expires_at);

-- One counter for every write of every key: a key's version only grows, even across a delete
-- and a new put, so a compare-and-set never mistakes a new value for the one it read. (A
-- SEQUENCE on PostgreSQL.)
CREATE TABLE state_revision (
    id              INTEGER PRIMARY KEY,
    revision        BIGINT NOT NULL
);
INSERT INTO state_revision (id, revision) VALUES (1, 0);
