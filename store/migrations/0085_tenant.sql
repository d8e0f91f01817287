-- Tenant operations (SPEC §13): admin contacts and tenant alerts.

CREATE TABLE IF NOT EXISTS admin_contacts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    phone       TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT 'en',
    area        TEXT    NOT NULL CHECK (area IN ('devices','updates')),
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS admin_contacts_area_email ON admin_contacts (area, email COLLATE NOCASE);

-- One row per alert raised. An open alert (resolved_at NULL) is unique per
-- condition: its type and the subject it concerns, so the same open
-- condition is never raised twice.
CREATE TABLE IF NOT EXISTS alerts (
    id            INTEGER PRIMARY KEY,
    type          TEXT    NOT NULL,
    subject       TEXT    NOT NULL DEFAULT '',
    severity      TEXT    NOT NULL CHECK (severity IN ('critical','warning','information')),
    title         TEXT    NOT NULL,
    what_happened TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    who_acts      TEXT    NOT NULL CHECK (who_acts IN ('customer','service')),
    objects       TEXT    NOT NULL DEFAULT '', -- '; '-joined names of what it concerns
    baseline      INTEGER NOT NULL DEFAULT 0,  -- the count before a jump
    raised_at     INTEGER NOT NULL,
    resolved_at   INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (type, subject) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_by_raised ON alerts (raised_at);

-- The tab counts seen by the last alert evaluation after a discovery, from
-- which the next one measures a jump.
CREATE TABLE IF NOT EXISTS alert_baseline (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    not_ready      INTEGER NOT NULL,
    not_registered INTEGER NOT NULL
);
