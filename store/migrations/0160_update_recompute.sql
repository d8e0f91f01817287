-- Whether the update status must be recomputed (SPEC §12). A discovery
-- recomputes every registered device's update status; on an hourly run
-- that changed nothing, that walk was more than half the run's cost.
-- update_status is a function of the devices' columns below, the policy
-- (releases, schedules, pauses, gates: their changes recompute at once, in
-- their own transaction) and the clock. So the recomputation records the
-- next instant at which the clock changes anything (valid_until), and the
-- triggers mark the state dirty when a device column it reads changes; a
-- discovery recomputes only when either says so.
CREATE TABLE IF NOT EXISTS update_recompute (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    dirty       INTEGER NOT NULL,
    computed_at INTEGER NOT NULL, -- the clock of the last recomputation
    valid_until INTEGER NOT NULL  -- recompute at or after this instant
);
INSERT OR IGNORE INTO update_recompute (id, dirty, computed_at, valid_until) VALUES (1, 1, 0, 0);

-- Each trigger tests the flag first: once dirty, a bulk write costs one
-- lookup per row, not one update.
CREATE TRIGGER IF NOT EXISTS update_dirty_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL AND (SELECT dirty FROM update_recompute WHERE id = 1) = 0 BEGIN
    UPDATE update_recompute SET dirty = 1 WHERE id = 1;
END;

CREATE TRIGGER IF NOT EXISTS update_dirty_update AFTER UPDATE OF status, ring, os_version, edition, last_checkin,
    display_name, device_id, serial_number ON devices
WHEN (old.status IS NOT new.status OR old.ring IS NOT new.ring OR old.os_version IS NOT new.os_version
      OR old.edition IS NOT new.edition OR old.last_checkin IS NOT new.last_checkin
      OR old.display_name IS NOT new.display_name OR old.device_id IS NOT new.device_id
      OR old.serial_number IS NOT new.serial_number)
  AND (SELECT dirty FROM update_recompute WHERE id = 1) = 0 BEGIN
    UPDATE update_recompute SET dirty = 1 WHERE id = 1;
END;

CREATE TRIGGER IF NOT EXISTS update_dirty_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL AND (SELECT dirty FROM update_recompute WHERE id = 1) = 0 BEGIN
    UPDATE update_recompute SET dirty = 1 WHERE id = 1;
END;
