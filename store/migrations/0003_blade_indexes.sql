-- Blade paging and search.
--
-- A first discovery registers a whole fleet one UPDATE at a time, each in a
-- statement journal (devices has triggers): every index on devices costs
-- each registered device a B-tree insert and a page copy, 0.4 to 0.7 s per
-- 100,000 devices here, against a budget of 8 s for that discovery, most
-- of it spent already. So the sort orders and the search index live in
-- tables of their own, for which triggers only queue the device (one
-- append), and which SyncBladeIndexes (query.go) brings up to date in large
-- statements, in the background. Until then, queries read the queued
-- devices from devices itself, so they are exact at every moment, and fast
-- once the queue is short.

-- Sort orders: one row per device on the blades, holding the values of the
-- sortable columns exactly as Column.sort computes them from devices, with
-- one (tab, value, id) index per column, (tab, status, name, id) for the
-- status filter and sort, and (tab, ring, name, id) for the ring filter. A
-- page walks one from the cursor on and stops after a page, however deep.
-- They replace migration 1's devices_tab_name and devices_status_name,
-- which discovery paid for; names are also in devices_name, which it does
-- not touch. The columns users seldom sort by (edition, architecture, join
-- type, management, ownership, device kind, reasons, ring assigned by,
-- discovered via) have none: each index costs the sync and the file.
CREATE TABLE blade_order (
    id            INTEGER PRIMARY KEY,   -- devices.id
    tab           TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    display_name  TEXT    NOT NULL COLLATE NOCASE,
    device_id     TEXT    NOT NULL,
    serial_number TEXT    NOT NULL COLLATE NOCASE,
    manufacturer  TEXT    NOT NULL COLLATE NOCASE,
    model         TEXT    NOT NULL COLLATE NOCASE,
    os_build      INTEGER NOT NULL,
    last_checkin  INTEGER NOT NULL,      -- coalesce(last_checkin, 0)
    ring          TEXT    NOT NULL,      -- coalesce(ring, '')
    registered_at INTEGER NOT NULL       -- coalesce(registered_at, 0)
);
CREATE INDEX blade_order_name ON blade_order (tab, display_name, id);
CREATE INDEX blade_order_status_name ON blade_order (tab, status, display_name, id);
CREATE INDEX blade_order_ring_name ON blade_order (tab, ring, display_name, id);
CREATE INDEX blade_order_device_id ON blade_order (tab, device_id, id);
CREATE INDEX blade_order_serial ON blade_order (tab, serial_number, id);
CREATE INDEX blade_order_manufacturer ON blade_order (tab, manufacturer, id);
CREATE INDEX blade_order_model ON blade_order (tab, model, id);
CREATE INDEX blade_order_os_build ON blade_order (tab, os_build, id);
CREATE INDEX blade_order_last_checkin ON blade_order (tab, last_checkin, id);
CREATE INDEX blade_order_ring ON blade_order (tab, ring, id);
CREATE INDEX blade_order_registered_at ON blade_order (tab, registered_at, id);

-- Search: a trigram index for substring search of 3 or more characters.
-- It holds the name and serial number without their first character, and
-- the device ID, of the devices on the blades. Names and serials starting
-- with a search are ranges of devices_name and devices_serial instead: a
-- common search is a name prefix ("AP-LT", "5CG"), which would otherwise
-- make the index list a large part of the fleet, and a search of the
-- tails alone finds few devices. (FTS5 also writes its buffered
-- changes at every statement savepoint: a trigger writing to it made one
-- index segment per device, and 100,000 registrations took 11 s, not 5.)
CREATE VIRTUAL TABLE devices_fts USING fts5(
    name_tail, serial_tail, device_id,
    tokenize = 'trigram', columnsize = 0
);

DROP INDEX devices_tab_name;
DROP INDEX devices_status_name;

-- The queue: devices whose blade_order row must change (joined or left the
-- blades, moved tab, or a sorted value changed while on them), flagged
-- search when their search entry must change too (joined or left the
-- blades, or a new name, serial or device ID while on them). A log: a
-- device changed twice before a sync is in it twice. Each trigger is one
-- plain INSERT, an append, because that is what a registration pays for
-- (a queue with a unique id and a lookup before the insert cost 0.65 s per
-- 100,000 registrations; two queues twice that).
CREATE TABLE blade_queue (
    seq    INTEGER PRIMARY KEY,
    id     INTEGER NOT NULL,     -- devices.id
    search INTEGER NOT NULL      -- 1: the search entry must change too
);

CREATE TRIGGER blade_queue_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL BEGIN
    INSERT INTO blade_queue (id, search) VALUES (new.id, 1);
END;

CREATE TRIGGER blade_queue_update AFTER UPDATE OF status, display_name, device_id, serial_number, manufacturer,
    model, os_build, last_checkin, ring, registered_at ON devices
WHEN old.status IS NOT new.status
  OR (new.status IS NOT NULL AND (old.display_name IS NOT new.display_name
      OR old.device_id IS NOT new.device_id OR old.serial_number IS NOT new.serial_number
      OR old.manufacturer IS NOT new.manufacturer OR old.model IS NOT new.model
      OR old.os_build IS NOT new.os_build OR old.last_checkin IS NOT new.last_checkin
      OR old.ring IS NOT new.ring OR old.registered_at IS NOT new.registered_at)) BEGIN
    INSERT INTO blade_queue (id, search) VALUES (new.id,
        (old.status IS NULL) <> (new.status IS NULL) OR (new.status IS NOT NULL
            AND (old.display_name IS NOT new.display_name OR old.serial_number IS NOT new.serial_number
                 OR old.device_id IS NOT new.device_id)));
END;

CREATE TRIGGER blade_queue_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL BEGIN
    INSERT INTO blade_queue (id, search) VALUES (old.id, 1);
END;

-- The devices already on the blades are indexed by the first sync.
INSERT INTO blade_queue (id, search) SELECT id, 1 FROM devices WHERE status IS NOT NULL ORDER BY id;
