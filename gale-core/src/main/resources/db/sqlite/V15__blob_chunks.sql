-- The bytes of bundles and blobs for the nodes of a shared store (docs/postgresql.md); on PostgreSQL the bytes are
-- BYTEA (db/postgresql/V15). One node on SQLite keeps its bytes in the data dir only and leaves this table empty.
CREATE TABLE blob_chunks (
    digest          VARCHAR(71) NOT NULL,
    chunk           INTEGER NOT NULL,
    bytes           BLOB NOT NULL,
    PRIMARY KEY (digest, chunk)
);
