-- Notifications (SPEC §13): webhook subscriptions with their place in the
-- outbox, the delivery log, the mail sender's place, and which release
-- offers were announced. IF NOT EXISTS throughout: migrations may run again.

-- A subscription reads the outbox in order from cursor (the last event it
-- has, or skipped as not subscribed). While the event after cursor fails,
-- attempts and next_attempt_at back off; retrying_since is when it first
-- failed, and after 24 h of that the subscription is failing (an alert).
CREATE TABLE IF NOT EXISTS webhooks (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,            -- HMAC key; never shown again after creation
    event_types     TEXT    NOT NULL,            -- space-separated EventTypes
    cursor          INTEGER NOT NULL DEFAULT 0,  -- outbox id delivered up to
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    retrying_since  INTEGER,
    failing_since   INTEGER,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- The delivery log: every request sent, with the body as sent, so a
-- delivery can be redelivered after the outbox row is pruned.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,        -- 0: no answer
    duration_ms INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    redeliver   INTEGER NOT NULL DEFAULT 0         -- 1: an administrator asked to send it again
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_redeliver ON webhook_deliveries (redeliver) WHERE redeliver = 1;

-- The mail sender's place in the outbox and its backoff, and when the last
-- daily digest went out (the day, as YYYY-MM-DD UTC).
CREATE TABLE IF NOT EXISTS mail_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    cursor          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    retrying_since  INTEGER,
    digest_day      TEXT    NOT NULL DEFAULT ''
);
INSERT OR IGNORE INTO mail_state (id, cursor) VALUES (1, (SELECT coalesce(max(id), 0) FROM outbox));

-- Every mail sent or given up: to whom, in what language (the contact's,
-- recorded for when the mails are translated; they are in English now).
CREATE TABLE IF NOT EXISTS mail_log (
    id        INTEGER PRIMARY KEY,
    event_id  INTEGER NOT NULL DEFAULT 0,   -- 0: the daily digest
    kind      TEXT    NOT NULL,
    recipient TEXT    NOT NULL,
    language  TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    error     TEXT    NOT NULL DEFAULT '',
    at        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS release_offer_events (
    release_id INTEGER NOT NULL,
    ring       TEXT    NOT NULL,
    at         INTEGER NOT NULL DEFAULT 0,  -- when it was announced
    PRIMARY KEY (release_id, ring)
) WITHOUT ROWID;

-- The pauses whose end by themselves (35 days on) was announced.
CREATE TABLE IF NOT EXISTS pause_end_events (
    pause_id INTEGER PRIMARY KEY
);
