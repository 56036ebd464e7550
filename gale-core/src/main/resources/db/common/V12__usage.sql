-- What functions used (docs/cost.md): per function version per minute, written by the usage sampler in
-- batches. Portable SQL: the same statements run on PostgreSQL (BIGINT epoch millis and integer units).
CREATE TABLE usage_minutes (
    minute_ms         BIGINT NOT NULL,
    function_name     VARCHAR(63) NOT NULL,
    version           INTEGER NOT NULL,
    -- '': everything the version's instances did; a job id: the part of it that map job's tasks did
    -- (so job rows are a share of the '' rows, never to be added to them).
    job_id            VARCHAR(40) NOT NULL,
    memory_mb         INTEGER NOT NULL,
    cpu_allocated     DOUBLE PRECISION NOT NULL,
    calls             BIGINT NOT NULL,
    duration_us       BIGINT NOT NULL,
    -- Call durations summed with each call rounded up to 1 ms (Lambda) and to 100 ms (Cloud Functions).
    billed_ms_1       BIGINT NOT NULL,
    billed_ms_100     BIGINT NOT NULL,
    -- Time an instance had a call in flight, each such stretch rounded up to 100 ms (Cloud Run's request-based billing).
    active_ms         BIGINT NOT NULL,
    -- Time instances were alive, from start to exit (Cloud Run's instance-based billing); for a job, its busy time.
    instance_ms       BIGINT NOT NULL,
    -- CPU time the kernel counted (the instances' cgroups, or /proc where there are none).
    cpu_us            BIGINT NOT NULL,
    peak_memory_bytes BIGINT NOT NULL,
    peak_instances    INTEGER NOT NULL,
    source            VARCHAR(16) NOT NULL,
    PRIMARY KEY (function_name, version, job_id, minute_ms)
);
CREATE INDEX usage_minutes_by_minute ON usage_minutes (minute_ms);
CREATE INDEX usage_minutes_by_job ON usage_minutes (job_id, minute_ms);
