-- Releases read from the Windows Update catalog (issue 12): each catalog
-- entry Patchboard has seen, and the release it became. An entry is read
-- once: a later sync never rewrites its release, and an entry whose name an
-- administrator's release already holds is linked to that release and
-- leaves it as the administrator entered it.
CREATE TABLE IF NOT EXISTS release_catalog (
    catalog_id TEXT    PRIMARY KEY,
    release_id INTEGER REFERENCES releases (id) ON DELETE SET NULL,
    adopted    INTEGER NOT NULL, -- 1: the release was added from the entry
    read_at    INTEGER NOT NULL
) WITHOUT ROWID;
