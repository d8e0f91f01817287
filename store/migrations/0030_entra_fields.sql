-- The Entra and Intune device properties that membership rules target
-- (SPEC §1, §2), and the update alerts devices report. Lists are stored as
-- the ;-joined text the inventory schema uses. The fifteen extension
-- attributes share one column, joined by the group separator (char 29,
-- which no inventory text may hold) with trailing empty ones left out, so
-- an upsert binds one value for them rather than fifteen and a device
-- without any stores ''.
ALTER TABLE devices ADD COLUMN object_id               TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN physical_ids            TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN enrollment_profile_name TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN device_category         TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN profile_type            TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN management_type         TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN management_app_id       TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN system_labels           TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN is_rooted               INTEGER; -- NULL = not reported
ALTER TABLE devices ADD COLUMN extension_attributes    TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN update_alerts           TEXT NOT NULL DEFAULT '';
