-- What a node holds in memory of the store and another node of a shared store may change (docs/postgresql.md):
-- one counter per kind, raised in the transaction of each change, so each node reads these few rows every second
-- and reloads only what another node changed. Plain SQL that SQLite and PostgreSQL run as it is.
CREATE TABLE store_changes (
    topic   VARCHAR(32) PRIMARY KEY,
    counter BIGINT NOT NULL
);
INSERT INTO store_changes (topic, counter) VALUES ('traffic', 0);
INSERT INTO store_changes (topic, counter) VALUES ('triggers', 0);
INSERT INTO store_changes (topic, counter) VALUES ('access_keys', 0);
