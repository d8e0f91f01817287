-- The outbox (SPEC §13): every event a webhook subscription or an e-mail may
-- carry is written here in the same transaction as the change it reports,
-- so a crash neither loses an event nor invents one. Delivery reads it.
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY,          -- order of the changes
    type       TEXT    NOT NULL,             -- an EventType
    subject    TEXT    NOT NULL DEFAULT '',  -- what it concerns (a ring, an alert id, a request id)
    data       TEXT    NOT NULL,             -- the event's JSON payload
    created_at INTEGER NOT NULL
);
