-- Support requests (SPEC §13): raised by administrators, handled by Global
-- Administrators as the service desk. Everything is kept with its request:
-- the devices as they were named when it was raised, the notes, and the
-- attachments' bytes (at most 10 MB each), so a backup of the database is a
-- backup of the requests. Re-runnable like 0070 and 0085.

CREATE TABLE IF NOT EXISTS support_requests (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    severity      TEXT    NOT NULL CHECK (severity IN ('critical','moderate','minimal')),
    state         TEXT    NOT NULL CHECK (state IN ('active','assigned','mitigated','closed')),
    raised_by     TEXT    NOT NULL,           -- the raiser's e-mail: they add notes and reactivate
    assigned_to   TEXT    NOT NULL DEFAULT '',
    contact_name  TEXT    NOT NULL DEFAULT '', -- the primary contact as chosen (a later edit of
    contact_email TEXT    NOT NULL DEFAULT '', -- the contact does not rewrite the request)
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    mitigated_at  INTEGER                       -- the last mitigation; reactivation is open 24 h after it
);
CREATE INDEX IF NOT EXISTS support_requests_by_created ON support_requests (created_at);

CREATE TABLE IF NOT EXISTS support_devices (
    request_id    INTEGER NOT NULL REFERENCES support_requests (id) ON DELETE CASCADE,
    device_id     TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    serial_number TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, device_id)
) WITHOUT ROWID;

-- The request's history: what each person wrote and what changed (assigned,
-- mitigated, reactivated), in order.
CREATE TABLE IF NOT EXISTS support_notes (
    id         INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES support_requests (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    author     TEXT    NOT NULL,
    kind       TEXT    NOT NULL DEFAULT 'note', -- note, or the change it records
    body       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS support_notes_by_request ON support_notes (request_id, id);

CREATE TABLE IF NOT EXISTS support_attachments (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES support_requests (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,  -- sniffed from the bytes, never the browser's word
    size         INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    added_at     INTEGER NOT NULL,
    added_by     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS support_attachments_by_request ON support_attachments (request_id, id);
