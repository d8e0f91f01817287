-- Intune update policies (issue 12, item 6): what Patchboard last wrote to
-- each ring's update ring policy, so that the next sync tells a change
-- made in Intune from a change made in Patchboard, and every drift found.
CREATE TABLE IF NOT EXISTS update_policy_written (
    ring       TEXT    PRIMARY KEY,
    policy     TEXT    NOT NULL, -- JSON of the RingPolicy written
    written_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS update_policy_drift (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ring        TEXT    NOT NULL,
    setting     TEXT    NOT NULL,
    want        TEXT    NOT NULL,
    found       TEXT    NOT NULL,
    detected_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS update_policy_drift_detected ON update_policy_drift (detected_at);
-- The quality and feature update profiles written (key: expedite:<release
-- id> or feature:<target id>), each written once.
CREATE TABLE IF NOT EXISTS update_profiles_written (
    key        TEXT    PRIMARY KEY,
    written_at INTEGER NOT NULL
);
