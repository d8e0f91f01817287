-- The directory sync (SPEC §11): Patchboard mirrors Microsoft Entra ID and
-- Intune through Microsoft Graph. Every statement may run twice.

-- One row per Entra device object the last good sync left. record is the
-- source's own copy of the object (the Graph properties Patchboard reads):
-- a delta sync returns only the changed properties of the changed objects,
-- and merges them into this copy. hash is the hash of the inventory record
-- last written from it, so a sync writes only the devices that changed;
-- source_hash is the source's own fingerprint of everything it mapped the
-- record from, so a sync need not even map the devices that did not change.
CREATE TABLE IF NOT EXISTS directory_devices (
    object_id   TEXT    PRIMARY KEY,
    device_id   TEXT    NOT NULL,  -- devices.device_id
    record      BLOB    NOT NULL,
    hash        INTEGER NOT NULL,
    source_hash INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS directory_devices_device ON directory_devices (device_id);

-- The source's cursors (delta links) as the last good sync left them.
CREATE TABLE IF NOT EXISTS directory_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Groups mirrored from the directory (read-only in the portal), with their
-- Entra object IDs. A table of its own rather than columns of groups, so
-- that this migration, like the others, can run again on a database that
-- was set back to an earlier version.
CREATE TABLE IF NOT EXISTS directory_groups (
    group_id  INTEGER PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    object_id TEXT    NOT NULL UNIQUE
);

-- Each sync and each ring write-back, recorded like a discovery run.
CREATE TABLE IF NOT EXISTS sync_runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('sync','write-back')),
    trigger     TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running','completed','failed')),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    full_read   INTEGER NOT NULL DEFAULT 0,
    read        INTEGER NOT NULL DEFAULT 0, -- devices read, or memberships wanted
    added       INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,
    requests    INTEGER NOT NULL DEFAULT 0, -- Graph requests made
    error       TEXT    NOT NULL DEFAULT ''
);
