-- Patchboard schema, version 1. Times are Unix seconds (UTC); NULL means never.

-- The directory: one row per device (SPEC §1), plus its registration state.
-- Registration is 1:1 with a device, so its record (status, ring, who set the
-- ring, when it registered, when it was last evaluated) lives on the device
-- row: the blades filter and sort on inventory and registration columns
-- together, and SQLite can only serve that from one table's indexes.
CREATE TABLE devices (
    id                            INTEGER PRIMARY KEY,
    device_id                     TEXT    NOT NULL UNIQUE,  -- lower-case GUID
    display_name                  TEXT    NOT NULL,
    serial_number                 TEXT    NOT NULL DEFAULT '',
    manufacturer                  TEXT    NOT NULL DEFAULT '',
    model                         TEXT    NOT NULL DEFAULT '',
    os                            TEXT    NOT NULL DEFAULT '',
    os_version                    TEXT    NOT NULL DEFAULT '',
    os_build                      INTEGER NOT NULL DEFAULT 0, -- derived from os_version, for sorting
    edition                       TEXT    NOT NULL DEFAULT '',
    architecture                  TEXT    NOT NULL DEFAULT '',
    join_type                     TEXT    NOT NULL DEFAULT '',
    ownership                     TEXT    NOT NULL DEFAULT 'unknown',
    management                    TEXT    NOT NULL DEFAULT 'none',
    workload_windows_update       TEXT    NOT NULL DEFAULT '',
    workload_device_configuration TEXT    NOT NULL DEFAULT '',
    workload_office_c2r           TEXT    NOT NULL DEFAULT '',
    last_checkin                  INTEGER,
    device_kind                   TEXT    NOT NULL DEFAULT 'physical',
    account_enabled               INTEGER NOT NULL DEFAULT 1,
    wu_policy_source              TEXT    NOT NULL DEFAULT '',
    office_policy_source          TEXT    NOT NULL DEFAULT '',
    unreachable_endpoints         TEXT    NOT NULL DEFAULT '',
    internet_connected            INTEGER,                  -- NULL = not reported
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL,
    -- Bumped by every inventory change; discovery writes a device's outcome
    -- only if the version it evaluated is still current.
    version                       INTEGER NOT NULL DEFAULT 1,

    -- Registration state. status NULL: on no blade (not a candidate, never registered).
    status          TEXT CHECK (status IN ('active','readiness-failed','inactive','prerequisites-failed','excluded')),
    tab             TEXT GENERATED ALWAYS AS (CASE status
                        WHEN 'active' THEN 'ready'
                        WHEN 'readiness-failed' THEN 'not-ready'
                        WHEN 'inactive' THEN 'not-ready'
                        WHEN 'prerequisites-failed' THEN 'not-registered'
                        WHEN 'excluded' THEN 'not-registered' END) VIRTUAL,
    reasons         TEXT    NOT NULL DEFAULT '', -- failing check ids in order, ';'-joined
    reason_count    INTEGER NOT NULL DEFAULT 0,
    outcome_sig     INTEGER NOT NULL DEFAULT 0, -- hash of the failing checks and reasons
    ring            TEXT CHECK (ring IN ('test','first','fast','broad')),
    ring_by         TEXT CHECK (ring_by IN ('service','admin')),
    ring_actor      TEXT,
    ring_at         INTEGER,
    registered_at   INTEGER,
    evaluated_at    INTEGER,
    discovered_via  TEXT              -- name of the group the device was found through
);

CREATE INDEX devices_serial ON devices (serial_number COLLATE NOCASE) WHERE serial_number <> '';
CREATE INDEX devices_name ON devices (display_name COLLATE NOCASE);
CREATE INDEX devices_tab_name ON devices (tab, display_name COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_status_name ON devices (status, display_name COLLATE NOCASE, id) WHERE status IS NOT NULL;

-- Counters kept by triggers so that tab counts and ring shares never need a
-- COUNT(*) over the directory.
CREATE TABLE counters (
    key TEXT PRIMARY KEY,  -- 'status:<status>' or 'ring:<ring>'
    n   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO counters (key) VALUES
    ('status:active'), ('status:readiness-failed'), ('status:inactive'),
    ('status:prerequisites-failed'), ('status:excluded'),
    ('ring:test'), ('ring:first'), ('ring:fast'), ('ring:broad');

CREATE TRIGGER devices_count_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL OR new.ring IS NOT NULL BEGIN
    UPDATE counters SET n = n + 1 WHERE key IN ('status:' || new.status, 'ring:' || new.ring);
END;

CREATE TRIGGER devices_count_status AFTER UPDATE OF status ON devices
WHEN old.status IS NOT new.status BEGIN
    UPDATE counters SET n = n - 1 WHERE key = 'status:' || old.status;
    UPDATE counters SET n = n + 1 WHERE key = 'status:' || new.status;
END;

CREATE TRIGGER devices_count_ring AFTER UPDATE OF ring ON devices
WHEN old.ring IS NOT new.ring BEGIN
    UPDATE counters SET n = n - 1 WHERE key = 'ring:' || old.ring;
    UPDATE counters SET n = n + 1 WHERE key = 'ring:' || new.ring;
END;

CREATE TRIGGER devices_count_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL OR old.ring IS NOT NULL BEGIN
    UPDATE counters SET n = n - 1 WHERE key IN ('status:' || old.status, 'ring:' || old.ring);
END;

-- Failing checks of each device's last evaluation. Passing checks are not
-- stored: a device passes every check that has no row here, which keeps a
-- discovery at about one write per changed device.
CREATE TABLE check_results (
    device_pk    INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    check_id     TEXT    NOT NULL,
    position     INTEGER NOT NULL, -- order of evaluation; 0 is the primary reason
    passed       INTEGER NOT NULL DEFAULT 0,
    reason       TEXT    NOT NULL,
    remediation  TEXT    NOT NULL,
    evaluated_at INTEGER NOT NULL,
    PRIMARY KEY (device_pk, check_id)
) WITHOUT ROWID;

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    kind       TEXT    NOT NULL CHECK (kind IN ('assigned','dynamic')),
    rule       TEXT    NOT NULL DEFAULT '',
    builtin    INTEGER NOT NULL DEFAULT 0, -- the Device Registration group
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Members of assigned groups: a device or a group, never both.
CREATE TABLE group_members (
    group_id        INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    device_pk       INTEGER REFERENCES devices (id) ON DELETE CASCADE,
    member_group_id INTEGER REFERENCES groups (id) ON DELETE CASCADE,
    added_at        INTEGER NOT NULL,
    added_by        TEXT    NOT NULL DEFAULT '',
    CHECK ((device_pk IS NULL) <> (member_group_id IS NULL)),
    CHECK (member_group_id IS NOT group_id)
);
CREATE UNIQUE INDEX group_members_device ON group_members (group_id, device_pk) WHERE device_pk IS NOT NULL;
CREATE UNIQUE INDEX group_members_group ON group_members (group_id, member_group_id) WHERE member_group_id IS NOT NULL;
CREATE INDEX group_members_by_device ON group_members (device_pk) WHERE device_pk IS NOT NULL;
CREATE INDEX group_members_by_group ON group_members (member_group_id) WHERE member_group_id IS NOT NULL;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '', -- '' = no access
    password_hash TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE group_owners (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

CREATE TABLE discovery_runs (
    id                   INTEGER PRIMARY KEY,
    trigger              TEXT    NOT NULL CHECK (trigger IN ('schedule','button','cli','api')),
    actor                TEXT    NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN ('running','completed','failed','interrupted')),
    started_at           INTEGER NOT NULL,
    heartbeat_at         INTEGER NOT NULL,
    finished_at          INTEGER,
    total                INTEGER NOT NULL DEFAULT 0, -- devices to write
    processed            INTEGER NOT NULL DEFAULT 0,
    candidates           INTEGER NOT NULL DEFAULT 0,
    registered           INTEGER NOT NULL DEFAULT 0,
    prerequisites_failed INTEGER NOT NULL DEFAULT 0,
    status_changes       INTEGER NOT NULL DEFAULT 0,
    error                TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    outcome TEXT    NOT NULL,
    detail  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor COLLATE NOCASE, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- The devices an audit entry concerns, for a device's history.
CREATE TABLE audit_devices (
    audit_id  INTEGER NOT NULL REFERENCES audit_log (id) ON DELETE CASCADE,
    device_id TEXT    NOT NULL,
    PRIMARY KEY (device_id, audit_id)
) WITHOUT ROWID;

-- The Device Registration group exists from the first start and cannot be deleted.
INSERT INTO groups (name, kind, builtin, created_at, updated_at)
VALUES ('Device Registration', 'assigned', 1, unixepoch(), unixepoch());
