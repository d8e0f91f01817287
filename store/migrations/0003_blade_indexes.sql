-- Blade paging and search.

-- Sort indexes: one per sortable column (Column.Sortable in columns.go), on
-- (tab, <the column's sort expression>, id) for the devices on the blades.
-- A page walks one from the cursor on and stops after a page, however deep.
-- The expressions must match Column.sort exactly (without the "d."
-- qualifier), or SQLite cannot use them. The name sort uses
-- devices_tab_name, the status sort and filter devices_status_name, both
-- from migration 1.
--
-- Each index costs every device that joins the blades an index entry, and
-- discovery writes every device's status: they cost about 0.4 s per index
-- per 100,000 newly registered devices, which is why the columns users
-- seldom sort by (device ID, manufacturer, edition, architecture, join
-- type, management, ownership, device kind, reasons, ring assigned by,
-- discovered via) are not sortable.
CREATE INDEX devices_tab_serial ON devices (tab, serial_number COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_model ON devices (tab, model COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_os_build ON devices (tab, os_build, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_last_checkin ON devices (tab, coalesce(last_checkin, 0), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_registered_at ON devices (tab, coalesce(registered_at, 0), id) WHERE status IS NOT NULL;
-- Also the ring filter's way to the few devices of a small ring.
CREATE INDEX devices_tab_ring ON devices (tab, coalesce(ring, ''), id) WHERE status IS NOT NULL;

-- Search: a trigram index for substring search of 3 or more characters.
-- It holds the name and serial number without their first character, and
-- the device ID, of the devices on the blades. Names and serials starting
-- with a search are ranges of devices_tab_name and devices_tab_serial
-- instead: a common search is a name prefix ("AP-LT", "5CG"), which would
-- otherwise make the index list a large part of the fleet, and a search of
-- the tails alone finds few devices.
--
-- FTS5 writes its buffered changes to disk at every statement savepoint,
-- and discovery updates devices one statement at a time: a trigger writing
-- to the index would make one index segment per device (measured: 100,000
-- registrations went from 5 s to 11 s). So triggers only queue the devices
-- whose entry must change (a B-tree append), and SyncSearchIndex (query.go)
-- moves the queue into the index in large statements, in the background.
-- Until then, searches test the queued devices one by one.
CREATE VIRTUAL TABLE devices_fts USING fts5(
    name_tail, serial_tail, device_id,
    tokenize = 'trigram', columnsize = 0
);

CREATE TABLE devices_search_queue (id INTEGER PRIMARY KEY);

-- Not INSERT OR IGNORE: the statement firing a trigger imposes its own
-- conflict resolution on the trigger's statements (an upsert, ABORT).
CREATE TRIGGER devices_search_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL BEGIN
    INSERT INTO devices_search_queue (id) SELECT new.id
    WHERE NOT EXISTS (SELECT 1 FROM devices_search_queue WHERE id = new.id);
END;

-- Joining or leaving the blades, or a new name or serial while on them.
CREATE TRIGGER devices_search_update AFTER UPDATE OF status, display_name, serial_number, device_id ON devices
WHEN (old.status IS NULL) <> (new.status IS NULL)
  OR (new.status IS NOT NULL AND (old.display_name IS NOT new.display_name
      OR old.serial_number IS NOT new.serial_number OR old.device_id IS NOT new.device_id)) BEGIN
    INSERT INTO devices_search_queue (id) SELECT new.id
    WHERE NOT EXISTS (SELECT 1 FROM devices_search_queue WHERE id = new.id);
END;

CREATE TRIGGER devices_search_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL BEGIN
    INSERT INTO devices_search_queue (id) SELECT old.id
    WHERE NOT EXISTS (SELECT 1 FROM devices_search_queue WHERE id = old.id);
END;

-- The devices already on the blades are indexed by the first sync.
INSERT INTO devices_search_queue (id) SELECT id FROM devices WHERE status IS NOT NULL;
