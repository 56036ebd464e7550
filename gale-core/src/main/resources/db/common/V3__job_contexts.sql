-- A job's context can be megabytes (a pickled callable with its data). It lives apart from the
-- job's state, as SQLite rewrites a whole row on every UPDATE (marking a job started or finished
-- would rewrite the context too), and once per distinct context, keyed by its SHA-256 (the
-- contextId of docs/jobs.md), as jobs that map the same callable send the same context.
CREATE TABLE job_contexts (
    context_key     VARCHAR(80) PRIMARY KEY,
    context         TEXT NOT NULL
);
ALTER TABLE jobs ADD COLUMN context_key VARCHAR(80) REFERENCES job_contexts (context_key);
-- SQL has no SHA-256: a context stored before keeps a key of its own.
INSERT INTO job_contexts (context_key, context) SELECT 'job:' || id, context FROM jobs WHERE context IS NOT NULL;
UPDATE jobs SET context_key = 'job:' || id WHERE context IS NOT NULL;
ALTER TABLE jobs DROP COLUMN context;
