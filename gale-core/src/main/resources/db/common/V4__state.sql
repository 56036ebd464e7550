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

-- Samplers (docs/state.md#samplers): items drawn for respondents, each item shown at most
-- target times (confirmed plus leased), no respondent shown an item twice.
CREATE TABLE samplers (
    name            VARCHAR(63) PRIMARY KEY,
    target          INTEGER NOT NULL,
    lease_ms        BIGINT NOT NULL,
    items           INTEGER NOT NULL,
    created_at      BIGINT NOT NULL
);

-- shown = confirmed + leased now; a draw walks the index from the least shown item on.
CREATE TABLE sampler_items (
    sampler         VARCHAR(63) NOT NULL,
    item_id         VARCHAR(512) NOT NULL,
    position        INTEGER NOT NULL,
    item            TEXT NOT NULL,
    confirmed       INTEGER NOT NULL,
    shown           INTEGER NOT NULL,
    PRIMARY KEY (sampler, item_id)
);
CREATE INDEX sampler_items_by_shown ON sampler_items (sampler, shown, position);

-- One row per item a respondent was ever shown: the primary key is the "never twice" rule.
CREATE TABLE sampler_draws (
    sampler         VARCHAR(63) NOT NULL,
    respondent      VARCHAR(256) NOT NULL,
    item_id         VARCHAR(512) NOT NULL,
    state           VARCHAR(12) NOT NULL,
    lease_expires_at BIGINT,
    drawn_at        BIGINT NOT NULL,
    PRIMARY KEY (sampler, respondent, item_id)
);
CREATE INDEX sampler_draws_by_lease ON sampler_draws (sampler, state, lease_expires_at);
