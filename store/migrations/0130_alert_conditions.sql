-- The remaining tenant alerts (SPEC §13): their settings and the facts
-- about the Microsoft Graph connector they look at. Re-runnable (IF NOT
-- EXISTS), like 0085.

-- The alert settings: one row. jump_percent is the growth of the Not ready
-- or Not registered tab at one discovery, in percent of the registered
-- devices, that raises an alert; discovery_interval (seconds) is the
-- server's schedule, from which "discovery did not run" is measured (0:
-- no server has said, no such alert).
CREATE TABLE IF NOT EXISTS alert_settings (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    jump_percent       INTEGER NOT NULL DEFAULT 5 CHECK (jump_percent BETWEEN 1 AND 100),
    discovery_interval INTEGER NOT NULL DEFAULT 0
);

-- The connector's last failure of each kind of run (sync, write-back),
-- kept until a run of that kind succeeds: what a person must fix, named.
CREATE TABLE IF NOT EXISTS connector_faults (
    kind               TEXT    PRIMARY KEY,
    permission         TEXT    NOT NULL DEFAULT '', -- the Graph permission missing
    credential_expired INTEGER NOT NULL DEFAULT 0,  -- the secret or certificate expired
    message            TEXT    NOT NULL,
    since              INTEGER NOT NULL
);

-- When the connector's credential (client secret or certificate) expires,
-- as the server was told at start-up; no row when unknown.
CREATE TABLE IF NOT EXISTS connector_credential (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    kind       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The ring policy settings the latest comparison with Intune found changed
-- outside Patchboard, one row per ring; replaced at every comparison (the
-- history is update_policy_drift).
CREATE TABLE IF NOT EXISTS ring_drift_open (
    ring        TEXT    PRIMARY KEY,
    changes     TEXT    NOT NULL, -- "setting: want → found", '; '-joined
    detected_at INTEGER NOT NULL
);

-- When the last backup of this database was written (SPEC §13's readiness
-- check "backed up in the last 24 hours once backups exist"); no row
-- until one is.
CREATE TABLE IF NOT EXISTS backup_log (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    last_at INTEGER NOT NULL
);

-- Readiness assessments (SPEC §13), kept 12 months: each run's checks as
-- JSON (key, name, result, detail, remediation).
CREATE TABLE IF NOT EXISTS readiness_runs (
    id      INTEGER PRIMARY KEY,
    ran_at  INTEGER NOT NULL,
    trigger TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    overall TEXT    NOT NULL CHECK (overall IN ('ready','advisory','not-ready')),
    checks  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS readiness_runs_ran ON readiness_runs (ran_at);
