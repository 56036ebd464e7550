-- Async calls (docs/async.md): POST /fn/NAME with Prefer: respond-async stores the whole request here
-- before it answers 202. Times are epoch milliseconds (BIGINT) so SQL can compare them. Plain SQL that
-- PostgreSQL runs as it is (BYTEA is a blob to SQLite).
CREATE TABLE async_invocations (
    id              VARCHAR(40) PRIMARY KEY,
    function_name   VARCHAR(63) NOT NULL,
    -- QUEUED (waiting for next_attempt_ms) -> RUNNING (leased until lease_until_ms) -> SUCCEEDED | DEAD
    state           VARCHAR(12) NOT NULL,
    method          VARCHAR(10) NOT NULL,
    path            TEXT NOT NULL,
    query           TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BYTEA NOT NULL,
    remote_addr     VARCHAR(64) NOT NULL,
    scheme          VARCHAR(8) NOT NULL,
    host            VARCHAR(255) NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    -- The lease: a worker claims a row with a compare-and-set on state and lease; one whose lease
    -- expired (its worker crashed, or Gale was killed) is claimed again, so every call runs at least once.
    lease_owner     VARCHAR(40),
    lease_until_ms  BIGINT,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    finished_ms     BIGINT,
    version         INTEGER,
    result_status   INTEGER,
    result_headers  TEXT,
    result_body     BYTEA,
    error           TEXT,
    traceback       TEXT
);
CREATE INDEX async_invocations_due ON async_invocations (state, next_attempt_ms);
CREATE INDEX async_invocations_by_function ON async_invocations (function_name, state, created_ms);
