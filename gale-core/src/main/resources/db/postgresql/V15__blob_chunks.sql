-- PostgreSQL: as db/sqlite/V15 but the bytes are BYTEA. The bytes of bundles and blobs, content-addressed, where every
-- node of a shared store can fetch them (docs/postgresql.md): 1 MB chunks numbered from 0, all of a digest written in
-- one transaction, so chunk 0 present means all are. A node keeps what it fetched in its data dir as a cache.
CREATE TABLE blob_chunks (
    digest          VARCHAR(71) NOT NULL,
    chunk           INTEGER NOT NULL,
    bytes           BYTEA NOT NULL,
    PRIMARY KEY (digest, chunk)
);
