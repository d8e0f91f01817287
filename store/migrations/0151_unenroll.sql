-- Unenrollment (SPEC §13): a Global Administrator's request, confirmed by
-- typing the organisation name, carried out when its 14-day wait ends
-- unless cancelled. One row per request, kept after it ends (the history of
-- who asked, who cancelled, when it was done); at most one pending (the
-- store checks it in the write transaction that adds one).
CREATE TABLE IF NOT EXISTS unenrollments (
    id             INTEGER PRIMARY KEY,
    requested_at   INTEGER NOT NULL,
    requested_by   TEXT    NOT NULL,
    due_at         INTEGER NOT NULL,
    cancelled_at   INTEGER,
    cancelled_by   TEXT    NOT NULL DEFAULT '',
    completed_at   INTEGER,          -- the devices were deregistered
    devices        INTEGER NOT NULL DEFAULT 0,
    -- In Entra mode the ring groups' members and Patchboard's update
    -- policies are removed after the database's part; until that worked,
    -- remote_error says why and the next check tries again.
    remote_done_at INTEGER,
    remote_error   TEXT    NOT NULL DEFAULT ''
);
