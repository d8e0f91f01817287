-- The overview page: devices per failing check per tab, kept by triggers,
-- and a daily snapshot of the tabs' counts for the 30-day trend.

-- How many devices of each tab fail each check. A device's failing checks
-- are devices.reasons (check ids, ';'-joined, the same ids as its
-- check_results rows), so the counts follow every write of status or
-- reasons: discovery, deregistration, restore. Kept, like the tab counters,
-- so that the overview and the blades' check chips never count rows.
-- Rows whose count falls to 0 stay; readers skip them.
CREATE TABLE check_counts (
    tab      TEXT    NOT NULL,
    check_id TEXT    NOT NULL,
    n        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tab, check_id)
) WITHOUT ROWID;

-- reasons as a JSON array, for json_each: check ids hold no quotes or ';'.
-- (Triggers cannot use WITH, so the split is inline in each.)
CREATE TRIGGER devices_check_counts_insert AFTER INSERT ON devices
WHEN new.tab IS NOT NULL AND new.reasons <> '' BEGIN
    INSERT INTO check_counts (tab, check_id, n)
        SELECT new.tab, value, 1 FROM json_each('["' || replace(new.reasons, ';', '","') || '"]') WHERE true
        ON CONFLICT (tab, check_id) DO UPDATE SET n = n + 1;
END;

-- A change of status or reasons takes the device's old failures out of its
-- old tab and puts its new ones into its new tab; two triggers, so that the
-- common writes (a device that registers Active, with no failures) run
-- neither body.
CREATE TRIGGER devices_check_counts_leave AFTER UPDATE OF status, reasons ON devices
WHEN old.tab IS NOT NULL AND old.reasons <> '' AND (old.tab IS NOT new.tab OR old.reasons IS NOT new.reasons) BEGIN
    UPDATE check_counts SET n = n - 1
        WHERE tab = old.tab
            AND check_id IN (SELECT value FROM json_each('["' || replace(old.reasons, ';', '","') || '"]'));
END;

CREATE TRIGGER devices_check_counts_enter AFTER UPDATE OF status, reasons ON devices
WHEN new.tab IS NOT NULL AND new.reasons <> '' AND (old.tab IS NOT new.tab OR old.reasons IS NOT new.reasons) BEGIN
    INSERT INTO check_counts (tab, check_id, n)
        SELECT new.tab, value, 1 FROM json_each('["' || replace(new.reasons, ';', '","') || '"]') WHERE true
        ON CONFLICT (tab, check_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER devices_check_counts_delete AFTER DELETE ON devices
WHEN old.tab IS NOT NULL AND old.reasons <> '' BEGIN
    UPDATE check_counts SET n = n - 1
        WHERE tab = old.tab
            AND check_id IN (SELECT value FROM json_each('["' || replace(old.reasons, ';', '","') || '"]'));
END;

INSERT INTO check_counts (tab, check_id, n)
    SELECT d.tab, j.value, count(*)
    FROM devices d, json_each('["' || replace(d.reasons, ';', '","') || '"]') j
    WHERE d.tab IS NOT NULL AND d.reasons <> ''
    GROUP BY d.tab, j.value;

-- One row per UTC day: the tabs' counts when the day's first discovery
-- finished. Kept 90 days (the overview draws the last 30).
CREATE TABLE daily_snapshots (
    day            TEXT    PRIMARY KEY, -- YYYY-MM-DD, UTC
    taken_at       INTEGER NOT NULL,
    ready          INTEGER NOT NULL,
    not_ready      INTEGER NOT NULL,
    not_registered INTEGER NOT NULL
) WITHOUT ROWID;
