-- patchboard:foreign-keys-off
-- Accounts from an identity provider (SPEC §10). An SSO account is keyed by
-- its issuer and subject, never by e-mail, so a local account and an SSO
-- account may share an address: the table is rebuilt without UNIQUE (email)
-- (SQLite cannot drop a constraint), keeping every id so that sessions,
-- columns and group owners still point at the same people. The migrator runs
-- this file with foreign keys off (dropping the old table would otherwise
-- cascade into them) and checks them before it commits.
CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY,
    email           TEXT    NOT NULL COLLATE NOCASE,
    name            TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL DEFAULT '', -- '' = no access
    password_hash   TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- '' for a local account; the provider's issuer URL for an SSO account.
    issuer          TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    -- Where the role comes from: 'manual' (set by hand or on the command
    -- line) or 'directory' (the role map, applied at every sign-in).
    role_source     TEXT    NOT NULL DEFAULT 'manual' CHECK (role_source IN ('manual','directory')),
    disabled_at     INTEGER,
    last_sign_in_at INTEGER,
    CHECK ((issuer = '') = (subject = ''))
);
INSERT INTO users_new (id, email, name, role, password_hash, created_at, updated_at)
    SELECT id, email, name, role, password_hash, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
-- A local account signs in by e-mail: one per address.
CREATE UNIQUE INDEX users_local_email ON users (email) WHERE issuer = '';
CREATE UNIQUE INDEX users_identity ON users (issuer, subject) WHERE issuer <> '';

-- Portal settings edited by Global Administrators (the role map).
CREATE TABLE IF NOT EXISTS settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
) WITHOUT ROWID;

-- A sign-in through the identity provider between /auth/oidc and its
-- callback: the state, nonce and PKCE verifier, bound to the browser by a
-- cookie holding a random token (only its SHA-256 is stored) and deleted by
-- the callback that uses it, so it works once.
CREATE TABLE IF NOT EXISTS sign_in_flows (
    token_hash TEXT    PRIMARY KEY,
    data       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
