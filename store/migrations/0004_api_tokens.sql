-- API tokens: what the registration API (/api/v1) authenticates with.
--
-- A token is shown once, when it is made; only its SHA-256 is stored, so a
-- copy of the database hands out no working tokens. prefix is the start of
-- the token ("pbt_" and a few characters), kept so that admins can tell
-- tokens apart in the list. A revoked token stays listed, and its name stays
-- in the audit log; the name is unique among the tokens in use, so that
-- "token:NAME" in the audit log means one token at a time.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('service-admin','service-reader')),
    token_hash   TEXT    NOT NULL UNIQUE,   -- hex SHA-256 of the whole token
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at INTEGER,                   -- updated at most once a minute
    revoked_at   INTEGER,
    revoked_by   TEXT
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name COLLATE NOCASE) WHERE revoked_at IS NULL;
