-- Update management (SPEC §12): ring schedules, releases, pauses, the
-- feature update target, and every registered device's update status with
-- the counts the reports read. Times are Unix seconds (UTC); a day (release
-- date, feature start) is its 00:00 UTC.

-- One schedule per ring, in days. The rollout gate (Patchboard's own) holds
-- a ring's offer until the ring before it has gate_percent of its eligible
-- devices up to date on the release.
CREATE TABLE ring_schedules (
    ring             TEXT    PRIMARY KEY CHECK (ring IN ('test','first','fast','broad')),
    quality_deferral INTEGER NOT NULL CHECK (quality_deferral BETWEEN 0 AND 30),
    quality_deadline INTEGER NOT NULL CHECK (quality_deadline BETWEEN 0 AND 30),
    quality_grace    INTEGER NOT NULL CHECK (quality_grace BETWEEN 0 AND 7),
    feature_deferral INTEGER NOT NULL DEFAULT 0 CHECK (feature_deferral BETWEEN 0 AND 365),
    gate_enabled     INTEGER NOT NULL DEFAULT 0,
    gate_percent     INTEGER NOT NULL DEFAULT 90 CHECK (gate_percent BETWEEN 1 AND 100),
    updated_at       INTEGER,
    updated_by       TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

INSERT INTO ring_schedules (ring, quality_deferral, quality_deadline, quality_grace) VALUES
    ('test', 0, 0, 0), ('first', 1, 2, 2), ('fast', 6, 2, 2), ('broad', 9, 5, 2);

-- Quality releases. slo_* is the SLO figure measured at the first
-- recomputation on or after the 21-day line (NULL until then).
CREATE TABLE releases (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    release_date    INTEGER NOT NULL,
    classification  TEXT    NOT NULL CHECK (classification IN ('security','non-security','out-of-band')),
    expedited_at    INTEGER,
    expedited_by    TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    slo_on          INTEGER,
    slo_eligible    INTEGER,
    slo_measured_at INTEGER
);

-- One target revision per Windows build line.
CREATE TABLE release_builds (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    build      INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    PRIMARY KEY (release_id, build)
) WITHOUT ROWID;

-- When the rollout gate let a release into a ring: an opened gate stays
-- open, whatever the ring before it does next.
CREATE TABLE release_gates (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    ring       TEXT    NOT NULL,
    opened_at  INTEGER NOT NULL,
    PRIMARY KEY (release_id, ring)
) WITHOUT ROWID;

-- Customer pauses, one row per ring and kind; a pause of all rings is four
-- rows. It ends at resumed_at, or by itself at until_at (35 days).
CREATE TABLE pauses (
    id         INTEGER PRIMARY KEY,
    ring       TEXT    NOT NULL CHECK (ring IN ('test','first','fast','broad')),
    kind       TEXT    NOT NULL CHECK (kind IN ('quality','feature')),
    reason     TEXT    NOT NULL,
    paused_by  TEXT    NOT NULL,
    paused_at  INTEGER NOT NULL,
    until_at   INTEGER NOT NULL,
    resumed_at INTEGER,
    resumed_by TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX pauses_ring ON pauses (ring, kind, paused_at);

-- Feature update targets: a Windows build line rolled out from a start date.
CREATE TABLE feature_targets (
    id         INTEGER PRIMARY KEY,
    build      INTEGER NOT NULL,
    start_date INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL
);

-- Every registered device's update status as of the last recomputation
-- (at every discovery and every change of releases, schedules, pauses or
-- the feature target). It copies the name, serial and ID so that the All
-- devices report pages through its own indexes, as the blades do through
-- blade_order. Whether a device's ring is paused is not copied: the report
-- reads it from pauses, so that a pause rewrites only the rows whose
-- status it changes.
CREATE TABLE update_status (
    id              INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    device_id       TEXT    NOT NULL,
    display_name    TEXT    NOT NULL COLLATE NOCASE,
    serial_number   TEXT    NOT NULL COLLATE NOCASE,
    ring            TEXT    NOT NULL,
    readiness       TEXT    NOT NULL,
    build           INTEGER NOT NULL,
    revision        INTEGER NOT NULL,
    last_checkin    INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    sub_status      TEXT    NOT NULL,
    target_build    INTEGER NOT NULL,  -- 0: no target
    target_revision INTEGER NOT NULL,
    release_id      INTEGER,
    offer_at        INTEGER,
    due_at          INTEGER,
    restart_at      INTEGER,
    feature_status  TEXT    NOT NULL,
    feature_sub     TEXT    NOT NULL,
    feature_target  INTEGER NOT NULL,  -- the build line, 0: none
    sig             INTEGER NOT NULL   -- hash of the columns above: a recomputation compares it alone
);
CREATE INDEX update_status_name ON update_status (display_name, id);
CREATE INDEX update_status_status ON update_status (status, display_name, id);
CREATE INDEX update_status_ring ON update_status (ring, display_name, id);
CREATE INDEX update_status_feature ON update_status (feature_status, display_name, id);

-- The reports' counts, written by each recomputation (one JSON document per
-- kind), so a report never counts rows.
CREATE TABLE update_summary (
    kind        TEXT    PRIMARY KEY CHECK (kind IN ('quality','feature')),
    computed_at INTEGER NOT NULL,
    body        TEXT    NOT NULL
) WITHOUT ROWID;

-- The 90-day trend: one row per day, kind, ring and status; the last
-- recomputation of a day wins.
CREATE TABLE update_snapshots (
    day    INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    ring   TEXT    NOT NULL,
    status TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (kind, day, ring, status)
) WITHOUT ROWID;
