-- Saved views of the device blades: a name, a tab with its filters, search
-- and sort (as the blade's URL query), and columns; private to their owner
-- or shared with everyone.
CREATE TABLE IF NOT EXISTS saved_views (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    shared     INTEGER NOT NULL DEFAULT 0,
    tab        TEXT    NOT NULL,
    query      TEXT    NOT NULL, -- the blade's URL query, page and cursor left out
    columns    TEXT    NOT NULL, -- JSON array of column keys
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS saved_views_owner_name ON saved_views (owner_id, name COLLATE NOCASE);
