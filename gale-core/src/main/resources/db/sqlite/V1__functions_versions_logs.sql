-- Gale's durable state. Written to run on SQLite (embedded default) and PostgreSQL.
CREATE TABLE functions (
    name            VARCHAR(63) PRIMARY KEY,
    active_version  INTEGER,
    created_at      VARCHAR(40) NOT NULL,
    updated_at      VARCHAR(40) NOT NULL
);

CREATE TABLE versions (
    function_name   VARCHAR(63) NOT NULL,
    version         INTEGER NOT NULL,
    state           VARCHAR(16) NOT NULL,
    reason          TEXT,
    config          TEXT NOT NULL,
    bundle_digest   VARCHAR(80) NOT NULL,
    bundle_bytes    BIGINT NOT NULL,
    created_at      VARCHAR(40) NOT NULL,
    ready_at        VARCHAR(40),
    activated_at    VARCHAR(40),
    PRIMARY KEY (function_name, version)
);

CREATE TABLE logs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    time            VARCHAR(40) NOT NULL,
    function_name   VARCHAR(63) NOT NULL,
    version         INTEGER,
    instance        VARCHAR(80),
    request_id      VARCHAR(80),
    stream          VARCHAR(16) NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX logs_by_function ON logs (function_name, seq);

CREATE TABLE invocations (
    request_id      VARCHAR(80) PRIMARY KEY,
    function_name   VARCHAR(63) NOT NULL,
    version         INTEGER NOT NULL,
    instance        VARCHAR(80),
    status          INTEGER NOT NULL,
    outcome         VARCHAR(24) NOT NULL,
    duration_ms     DOUBLE PRECISION NOT NULL,
    cold_start      BOOLEAN NOT NULL,
    memory_mb       INTEGER,
    time            VARCHAR(40) NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function_name, time);
