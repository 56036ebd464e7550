-- Triggers (docs/triggers.md): a function subscribes to state changes under a prefix of a namespace, or to
-- blobs written under a prefix of a bucket. Each event is an async call of the function (async_invocations),
-- stored in the same transaction as the write that causes it: an outbox. Plain SQL that PostgreSQL runs as it is.
CREATE TABLE trigger_subscriptions (
    id              VARCHAR(40) PRIMARY KEY,
    function_name   VARCHAR(63) NOT NULL,
    -- 'state' (source_name is a namespace) or 'blob' (a bucket)
    source_kind     VARCHAR(8) NOT NULL,
    source_name     VARCHAR(63) NOT NULL,
    prefix          VARCHAR(1024) NOT NULL,
    -- comma-separated: put,delete for state; finalize,delete for blobs
    events          VARCHAR(64) NOT NULL,
    created_ms      BIGINT NOT NULL
);
CREATE INDEX trigger_subscriptions_by_function ON trigger_subscriptions (function_name);

-- One counter for every event: events of one key are delivered in the order of their numbers. (A SEQUENCE on PostgreSQL.)
CREATE TABLE trigger_sequence (
    id              INTEGER PRIMARY KEY,
    seq             BIGINT NOT NULL
);
INSERT INTO trigger_sequence (id, seq) VALUES (1, 0);

-- An event is an async call with an order: trigger_id names its subscription; order_key (a digest of the
-- subscription and the key) groups the events of one key, order_seq orders them. Only the first pending
-- event of a key is QUEUED; the ones behind it are WAITING until it succeeds or becomes a dead letter.
ALTER TABLE async_invocations ADD COLUMN trigger_id VARCHAR(40);
ALTER TABLE async_invocations ADD COLUMN order_key VARCHAR(64);
ALTER TABLE async_invocations ADD COLUMN order_seq BIGINT;
CREATE INDEX async_invocations_by_order ON async_invocations (order_key, state, order_seq);
CREATE INDEX async_invocations_by_trigger ON async_invocations (trigger_id, state);
