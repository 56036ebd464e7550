-- Secrets (docs/secrets.md). A value is stored sealed only: AES-256-GCM under the data dir's
-- secrets.key, base64 of nonce || ciphertext || tag, its name bound in as associated data.
CREATE TABLE secrets (
    name        VARCHAR(63) PRIMARY KEY,
    version     INTEGER NOT NULL,
    sealed      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    updated_at  VARCHAR(40) NOT NULL
);

-- Which function gets which secret, as which environment variable of its instances.
CREATE TABLE secret_grants (
    function_name VARCHAR(63) NOT NULL,
    env_name      VARCHAR(128) NOT NULL,
    secret_name   VARCHAR(63) NOT NULL,
    granted_at    VARCHAR(40) NOT NULL,
    PRIMARY KEY (function_name, env_name)
);
CREATE INDEX secret_grants_by_secret ON secret_grants (secret_name);
