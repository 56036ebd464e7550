-- PostgreSQL: as db/sqlite/V2 but for job_items.result, BYTEA (Gale writes the result's bytes as they are).
-- Map jobs: one row per job, one row per input. A task (a chunk of inputs) is not
-- stored: it is derived from chunkSize, so a restart re-forms tasks from what is left.
CREATE TABLE jobs (
    id              VARCHAR(40) PRIMARY KEY,
    function_name   VARCHAR(63) NOT NULL,
    state           VARCHAR(16) NOT NULL,
    options         TEXT NOT NULL,
    context         TEXT,
    inputs          INTEGER NOT NULL,
    error           TEXT,
    created_at      VARCHAR(40) NOT NULL,
    started_at      VARCHAR(40),
    finished_at     VARCHAR(40)
);
CREATE INDEX jobs_by_function ON jobs (function_name, created_at);

CREATE TABLE job_items (
    job_id          VARCHAR(40) NOT NULL,
    idx             INTEGER NOT NULL,
    input           TEXT NOT NULL,
    state           VARCHAR(12) NOT NULL,
    result          BYTEA,  -- the result as the function sent it (bytes; SQLite keeps bytes in a TEXT column as they are)
    error           TEXT,
    traceback       TEXT,
    status          INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    duration_ms     DOUBLE PRECISION,
    PRIMARY KEY (job_id, idx)
);
