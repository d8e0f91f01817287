-- Portal state: server-side sessions and per-user column choices.

-- Sessions are stored server-side so they can be revoked and are not bound
-- by a cookie's 4 KB. The cookie holds a random token; only its SHA-256 is
-- stored, so a copy of the database does not hand out live sessions.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    data         TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Modify columns, saved per user and per tab.
CREATE TABLE user_columns (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tab     TEXT    NOT NULL CHECK (tab IN ('ready','not-ready','not-registered')),
    columns TEXT    NOT NULL, -- comma-separated column keys
    PRIMARY KEY (user_id, tab)
) WITHOUT ROWID;
