-- experiment
CREATE INDEX devices_tab_device_id ON devices (tab, device_id, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_serial ON devices (tab, serial_number COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_manufacturer ON devices (tab, manufacturer COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_model ON devices (tab, model COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_os_build ON devices (tab, os_build, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_edition ON devices (tab, edition COLLATE NOCASE, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_architecture ON devices (tab, architecture, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_join_type ON devices (tab, join_type, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_management ON devices (tab, management, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_ownership ON devices (tab, ownership, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_device_kind ON devices (tab, device_kind, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_last_checkin ON devices (tab, coalesce(last_checkin, 0), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_status ON devices (tab, coalesce(status, ''), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_reasons ON devices (tab, reasons, id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_ring ON devices (tab, coalesce(ring, ''), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_ring_by ON devices (tab, coalesce(ring_by, ''), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_registered_at ON devices (tab, coalesce(registered_at, 0), id) WHERE status IS NOT NULL;
CREATE INDEX devices_tab_discovered_via ON devices (tab, coalesce(discovered_via, ''), id) WHERE status IS NOT NULL;
CREATE VIRTUAL TABLE devices_fts USING fts5(
    display_name, serial_number, device_id,
    content = 'devices', content_rowid = 'id', tokenize = 'trigram'
);

INSERT INTO devices_fts (rowid, display_name, serial_number, device_id)
SELECT id, display_name, serial_number, device_id FROM devices WHERE status IS NOT NULL;

CREATE TRIGGER devices_fts_insert AFTER INSERT ON devices
WHEN new.status IS NOT NULL BEGIN
    INSERT INTO devices_fts (rowid, display_name, serial_number, device_id)
    VALUES (new.id, new.display_name, new.serial_number, new.device_id);
END;

CREATE TRIGGER devices_fts_delete AFTER DELETE ON devices
WHEN old.status IS NOT NULL BEGIN
    INSERT INTO devices_fts (devices_fts, rowid, display_name, serial_number, device_id)
    VALUES ('delete', old.id, old.display_name, old.serial_number, old.device_id);
END;

CREATE TRIGGER devices_fts_update AFTER UPDATE OF status, display_name, serial_number, device_id ON devices
WHEN (old.status IS NULL) <> (new.status IS NULL)
  OR (new.status IS NOT NULL AND (old.display_name IS NOT new.display_name
      OR old.serial_number IS NOT new.serial_number OR old.device_id IS NOT new.device_id)) BEGIN
    INSERT INTO devices_fts (devices_fts, rowid, display_name, serial_number, device_id)
    SELECT 'delete', old.id, old.display_name, old.serial_number, old.device_id WHERE old.status IS NOT NULL;
    INSERT INTO devices_fts (rowid, display_name, serial_number, device_id)
    SELECT new.id, new.display_name, new.serial_number, new.device_id WHERE new.status IS NOT NULL;
END;
