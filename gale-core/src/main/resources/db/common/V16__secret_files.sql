-- Secrets mounted as files (docs/secrets.md): function_name's instances find secret_name's value in the
-- file file_name of their own $GALE_SECRETS_DIR.
CREATE TABLE secret_file_grants (
    function_name VARCHAR(63) NOT NULL,
    file_name     VARCHAR(128) NOT NULL,
    secret_name   VARCHAR(63) NOT NULL,
    granted_at    VARCHAR(40) NOT NULL,
    PRIMARY KEY (function_name, file_name)
);
CREATE INDEX secret_file_grants_by_secret ON secret_file_grants (secret_name);
