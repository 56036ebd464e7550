-- Schedules (docs/schedules.md). Slot times are epoch milliseconds (BIGINT), not ISO strings:
-- SQL compares them ("which schedules are due"), and ISO strings of varying precision sort wrong.
CREATE TABLE schedules (
    name            VARCHAR(63) PRIMARY KEY,
    function_name   VARCHAR(63) NOT NULL,
    cron            VARCHAR(200),
    every_ms        BIGINT,
    time_zone       VARCHAR(64) NOT NULL,
    catch_up        VARCHAR(8) NOT NULL,
    payload         TEXT,
    paused          BOOLEAN NOT NULL,
    -- The next slot not yet claimed; NULL while paused. Claiming a slot moves it on with a
    -- compare-and-set, which is the lease: two schedulers (threads, nodes, a restart) never both win.
    next_fire_ms    BIGINT,
    created_at      VARCHAR(40) NOT NULL,
    updated_at      VARCHAR(40) NOT NULL
);
CREATE INDEX schedules_due ON schedules (paused, next_fire_ms);
CREATE INDEX schedules_by_function ON schedules (function_name);

-- One row per fired slot, written in the transaction that claims it, before the call: the primary
-- key makes a second firing of the same slot impossible, whatever the scheduler computes.
CREATE TABLE schedule_firings (
    schedule_name   VARCHAR(63) NOT NULL,
    slot_ms         BIGINT NOT NULL,
    fired_ms        BIGINT NOT NULL,
    finished_at     VARCHAR(40),
    status          INTEGER,
    outcome         VARCHAR(24),
    request_id      VARCHAR(80),
    error           TEXT,
    PRIMARY KEY (schedule_name, slot_ms)
);
