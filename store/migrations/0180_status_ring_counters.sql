-- Counters of the devices of each status in each ring, kept by triggers as
-- the status and ring counters are (migration 0001), so that a blade
-- filtered by ring (and status) tells its exact total without counting:
-- it counted up to 10,000 in blade_order's ring index and said "more than
-- 10,000" for the Broad ring of a large fleet. Devices without a status or
-- a ring have no key: 'statusring:' || NULL is NULL and updates no row.
-- The counts are taken again and the triggers made only when missing, so
-- that the migration can run again over a database taken back to an older
-- version (as the migration tests do).
INSERT OR IGNORE INTO counters (key) SELECT 'statusring:' || s.value || ':' || r.value
    FROM json_each('["active","readiness-failed","inactive","prerequisites-failed","excluded"]') s,
         json_each('["test","first","fast","broad"]') r;
INSERT INTO counters (key, n)
    SELECT 'statusring:' || status || ':' || ring, count(*) FROM devices
    WHERE status IS NOT NULL AND ring IS NOT NULL GROUP BY status, ring
    ON CONFLICT (key) DO UPDATE SET n = excluded.n;

CREATE TRIGGER IF NOT EXISTS devices_count_status_ring_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL AND new.ring IS NOT NULL BEGIN
    UPDATE counters SET n = n + 1 WHERE key = 'statusring:' || new.status || ':' || new.ring;
END;

CREATE TRIGGER IF NOT EXISTS devices_count_status_ring_update AFTER UPDATE OF status, ring ON devices
WHEN old.status IS NOT new.status OR old.ring IS NOT new.ring BEGIN
    UPDATE counters SET n = n - 1 WHERE key = 'statusring:' || old.status || ':' || old.ring;
    UPDATE counters SET n = n + 1 WHERE key = 'statusring:' || new.status || ':' || new.ring;
END;

CREATE TRIGGER IF NOT EXISTS devices_count_status_ring_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL AND old.ring IS NOT NULL BEGIN
    UPDATE counters SET n = n - 1 WHERE key = 'statusring:' || old.status || ':' || old.ring;
END;
