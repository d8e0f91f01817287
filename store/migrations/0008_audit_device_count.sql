-- How many devices an audit entry concerns, so that the log can show
-- "14 devices" for a bulk action without counting audit_devices per row.
ALTER TABLE audit_log ADD COLUMN device_count INTEGER NOT NULL DEFAULT 0;
UPDATE audit_log SET device_count = (SELECT count(*) FROM audit_devices WHERE audit_id = audit_log.id)
WHERE id IN (SELECT DISTINCT audit_id FROM audit_devices);
