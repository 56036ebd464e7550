-- Several nodes on one store (docs/postgresql.md). Each node has a row while it runs, its heartbeat renewed every
-- --node-heartbeat; a row whose heartbeat is older than --node-dead-after belongs to a dead node, and the node that
-- notices deletes it and hands that node's leases back. Times are epoch milliseconds (BIGINT), as in async_invocations.
CREATE TABLE nodes (
    id              VARCHAR(40) PRIMARY KEY,
    url             TEXT NOT NULL,
    -- ACTIVE, or DRAINING once it was told to stop (it takes no new lease)
    state           VARCHAR(12) NOT NULL,
    started_ms      BIGINT NOT NULL,
    heartbeat_ms    BIGINT NOT NULL,
    instances       INTEGER NOT NULL DEFAULT 0,
    in_flight       INTEGER NOT NULL DEFAULT 0,
    jobs            INTEGER NOT NULL DEFAULT 0,
    -- free slots per function as JSON, for forwarding calls to a node with room (not filled yet)
    free_slots      TEXT NOT NULL DEFAULT '{}'
);

-- A map job runs on the node that holds its lease (owner, until lease_until_ms); the owner renews it with its
-- heartbeat. One whose lease expired (its node died) is claimed by another node with a compare-and-set UPDATE.
-- cancel_requested: a cancel that reached another node, for the owner to act on.
ALTER TABLE jobs ADD COLUMN owner VARCHAR(40);
ALTER TABLE jobs ADD COLUMN lease_until_ms BIGINT;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_by_state ON jobs (state, lease_until_ms);
