-- Readiness signals reported by devices (POST /api/v1/signals): when the
-- device last reported, so that a report older than the one applied (a
-- retried or delayed upload) changes nothing. NULL: never reported.
ALTER TABLE devices ADD COLUMN signals_at INTEGER;

-- The API token role "reporter", which may only report signals. SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('service-admin','service-reader','reporter')),
    token_hash   TEXT    NOT NULL UNIQUE,   -- hex SHA-256 of the whole token
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at INTEGER,                   -- updated at most once a minute
    revoked_at   INTEGER,
    revoked_by   TEXT
);
INSERT INTO api_tokens_new (id, name, role, token_hash, prefix, created_at, created_by, last_used_at, revoked_at, revoked_by)
    SELECT id, name, role, token_hash, prefix, created_at, created_by, last_used_at, revoked_at, revoked_by FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name COLLATE NOCASE) WHERE revoked_at IS NULL;
