-- Buckets of versioned blobs with aliases (docs/blobs.md). The bytes live in the blob directory
-- under their SHA-256; these tables say which key's version is which digest. Portable SQL: the
-- same statements run on PostgreSQL (BIGINT epoch millis, ON CONFLICT upserts, no SQLite-only
-- functions or types; on PostgreSQL blob_key needs the C collation so keys sort by bytes).
CREATE TABLE blob_keys (
    bucket          VARCHAR(63) NOT NULL,
    blob_key        VARCHAR(1024) NOT NULL,
    -- The highest version number ever given to this key: numbers are never reused, even after a
    -- delete, so an alias or a cache that names v7 never meets different bytes under that name.
    last_version    INTEGER NOT NULL,
    PRIMARY KEY (bucket, blob_key)
);

CREATE TABLE blob_versions (
    bucket          VARCHAR(63) NOT NULL,
    blob_key        VARCHAR(1024) NOT NULL,
    version         INTEGER NOT NULL,
    digest          VARCHAR(71) NOT NULL,
    bytes           BIGINT NOT NULL,
    content_type    VARCHAR(255) NOT NULL,
    metadata        TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (bucket, blob_key, version)
);
-- "Is this digest still used?" before its file is deleted.
CREATE INDEX blob_versions_by_digest ON blob_versions (digest);

-- An alias names one version, or two with weights (a canary): weight_a + weight_b = 100.
CREATE TABLE blob_aliases (
    bucket          VARCHAR(63) NOT NULL,
    blob_key        VARCHAR(1024) NOT NULL,
    alias           VARCHAR(63) NOT NULL,
    version_a       INTEGER NOT NULL,
    weight_a        INTEGER NOT NULL,
    version_b       INTEGER,
    weight_b        INTEGER NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (bucket, blob_key, alias)
);

-- How often each version answered a resolution of the alias, to judge a canary.
CREATE TABLE blob_alias_counts (
    bucket          VARCHAR(63) NOT NULL,
    blob_key        VARCHAR(1024) NOT NULL,
    alias           VARCHAR(63) NOT NULL,
    version         INTEGER NOT NULL,
    calls           BIGINT NOT NULL,
    PRIMARY KEY (bucket, blob_key, alias, version)
);
