-- Access keys and the audit log (docs/access.md). Portable SQL: the same statements run on
-- PostgreSQL (BIGINT epoch millis, a partial unique index, no SQLite-only types or functions).

-- A key is stored as its SHA-256 only; the key itself is shown once, when it is created.
CREATE TABLE access_keys (
    id              VARCHAR(16) PRIMARY KEY,    -- gk_ and the key's first 8 characters: public, shown in listings
    name            VARCHAR(63) NOT NULL,
    key_hash        VARCHAR(64) NOT NULL,       -- hex SHA-256 of the whole key
    scopes          TEXT NOT NULL,              -- space-separated: admin deploy invoke:a,b logs
    rate            VARCHAR(32),                -- 10/s, 600/m, 5000/h; NULL for no limit
    rate_burst      BIGINT,
    created_at      BIGINT NOT NULL,
    created_by      VARCHAR(80) NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,                     -- written in batches, not per call: a few seconds behind at most
    revoked_at      BIGINT
);
-- A name is unique among keys that are not revoked; a revoked key's name may be given again.
CREATE UNIQUE INDEX access_keys_live_name ON access_keys (name) WHERE revoked_at IS NULL;

-- Every administrative action: written (outcome 'pending') before the action runs, so an action
-- that took effect always has its entry; its outcome follows once it is done. An entry still
-- 'pending' at the next start becomes 'interrupted' (Gale stopped during the action).
CREATE TABLE audit_log (
    id              VARCHAR(36) PRIMARY KEY,    -- time-ordered (UUID version 7)
    at              BIGINT NOT NULL,
    actor           VARCHAR(80) NOT NULL,       -- admin-token, or the key's name
    key_id          VARCHAR(16),
    action          VARCHAR(80) NOT NULL,       -- function.deploy, key.create, ...
    target          TEXT NOT NULL,              -- the request path after /v1/
    function_name   VARCHAR(63),
    client          VARCHAR(64) NOT NULL,       -- the caller's address
    outcome         VARCHAR(16) NOT NULL,       -- pending, ok, failed, refused, interrupted
    status          INTEGER,
    detail          TEXT,
    finished_at     BIGINT
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_function ON audit_log (function_name, at);
