-- The search index's entries carry the device's tab in their rowid: the
-- device's id × 4 + 1 (Ready), 2 (Not ready) or 3 (Not registered)
-- (searchRowid in searchindex.go). A search then reads only the devices of
-- its tab, where it read every device the index found and threw away those
-- of the other tabs, a third of the Ready tab's and most of the others'.
--
-- The sync deletes a device's entry by the tab blade_order holds for it,
-- which is the tab the entry was written with: a device whose tab changes
-- is now queued for the search index too (its name, serial and ID may be
-- the same), so that blade_order and the index always change tab together.

DROP TRIGGER blade_queue_update;
CREATE TRIGGER blade_queue_update AFTER UPDATE OF status, display_name, device_id, serial_number, manufacturer,
    model, os_build, last_checkin, ring, registered_at ON devices
WHEN old.status IS NOT new.status
  OR (new.status IS NOT NULL AND (old.display_name IS NOT new.display_name
      OR old.device_id IS NOT new.device_id OR old.serial_number IS NOT new.serial_number
      OR old.manufacturer IS NOT new.manufacturer OR old.model IS NOT new.model
      OR old.os_build IS NOT new.os_build OR old.last_checkin IS NOT new.last_checkin
      OR old.ring IS NOT new.ring OR old.registered_at IS NOT new.registered_at)) BEGIN
    INSERT INTO blade_queue (id, search) VALUES (new.id,
        (old.status IS NULL) <> (new.status IS NULL) OR old.tab IS NOT new.tab OR (new.status IS NOT NULL
            AND (old.display_name IS NOT new.display_name OR old.serial_number IS NOT new.serial_number
                 OR old.device_id IS NOT new.device_id)));
END;

-- Rebuilt from blade_order, whose tabs the sync will delete by. The devices
-- queued before this migration may have changed tab without being flagged
-- for the search index: flag them all.
DELETE FROM devices_search;
INSERT INTO devices_search (rowid, grams)
    SELECT o.id * 4 + CASE o.tab WHEN 'ready' THEN 1 WHEN 'not-ready' THEN 2 WHEN 'not-registered' THEN 3 END,
        search_grams(substr(d.display_name, 2), substr(d.serial_number, 2), d.device_id)
    FROM blade_order o JOIN devices d ON d.id = o.id;
INSERT INTO devices_search (devices_search) VALUES ('optimize');
UPDATE blade_queue SET search = 1 WHERE search = 0;
