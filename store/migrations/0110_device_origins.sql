-- Where a device came from when Patchboard did not read it from the
-- directory: a CSV import (the file's name) or the API. Written when the
-- device is created; a device synced from Microsoft Entra ID shows its
-- directory source instead (directory_devices). May run twice.
CREATE TABLE IF NOT EXISTS device_origins (
    device_pk INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL CHECK (kind IN ('import','api')),
    source    TEXT    NOT NULL,  -- the file name, or the API route
    actor     TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
