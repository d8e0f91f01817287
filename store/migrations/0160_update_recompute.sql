-- What the next update status recomputation must do (SPEC §12). A
-- discovery recomputes every registered device's update status; walking
-- the whole fleet for it cost more than the rest of an hourly run.
-- update_status is a function of the devices' columns below, the policy
-- (releases, schedules, pauses, gates: their changes recompute at once, in
-- their own transaction) and the clock. So a recomputation records the
-- next instant at which a date of the policy changes anything
-- (valid_until), and the triggers list the devices whose columns it reads
-- changed (update_dirty). Until valid_until, a discovery recomputes those
-- devices only, and nothing when there are none.
--
-- A device's check-in turning five days old changes its status too, and in
-- a real fleet some device crosses that line every hour: the next
-- recomputation finds those devices by their stored check-in, between
-- five days before checked_at and five days before now, and lists them.
CREATE TABLE IF NOT EXISTS update_recompute (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    valid_until INTEGER NOT NULL, -- recompute every device at or after this instant
    checked_at  INTEGER NOT NULL  -- the clock of the last recomputation of any kind
);
INSERT OR IGNORE INTO update_recompute (id, valid_until, checked_at) VALUES (1, 0, 0);

CREATE TABLE IF NOT EXISTS update_dirty (
    id INTEGER PRIMARY KEY -- devices.id
);

-- Not INSERT OR IGNORE: in a trigger, the conflict clause of the statement
-- that fired it (an upsert's OR REPLACE, say) replaces the trigger's own.

CREATE TRIGGER IF NOT EXISTS update_dirty_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL BEGIN
    INSERT INTO update_dirty (id) SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM update_dirty WHERE id = new.id);
END;

-- A check-in lists the device only when it can change its status: when it
-- goes back in time, or when the stored row is missing or says the last
-- check-in is too old. A device that stays eligible (most check-ins) is
-- left alone; its stored check-in is then older than the device's (the
-- report reads the device's), and turns five days old first, which lists
-- the device once, to be found fresh.
CREATE TRIGGER IF NOT EXISTS update_dirty_update AFTER UPDATE OF status, ring, os_version, edition, last_checkin,
    display_name, device_id, serial_number ON devices
WHEN old.status IS NOT new.status OR old.ring IS NOT new.ring OR old.os_version IS NOT new.os_version
  OR old.edition IS NOT new.edition
  OR old.display_name IS NOT new.display_name OR old.device_id IS NOT new.device_id
  OR old.serial_number IS NOT new.serial_number
  OR (old.last_checkin IS NOT new.last_checkin AND (coalesce(new.last_checkin, 0) < coalesce(old.last_checkin, 0)
      OR NOT EXISTS (SELECT 1 FROM update_status u WHERE u.id = new.id AND u.sub_status <> 'intune-sync-older-than-5-days'))) BEGIN
    INSERT INTO update_dirty (id) SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM update_dirty WHERE id = new.id);
END;

CREATE TRIGGER IF NOT EXISTS update_dirty_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL BEGIN
    INSERT INTO update_dirty (id) SELECT old.id WHERE NOT EXISTS (SELECT 1 FROM update_dirty WHERE id = old.id);
END;
