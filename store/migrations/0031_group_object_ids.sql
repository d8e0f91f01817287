-- Every group gets an Entra-style object ID (a GUID), which membership rules
-- name in device.memberOf -any (group.objectId -in ["…"]). A local group
-- gets a random version 4 GUID when it is created; a group synced from
-- Entra ID keeps its own.
ALTER TABLE groups ADD COLUMN object_id TEXT NOT NULL DEFAULT '';

UPDATE groups SET object_id = (SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a'
    || substr(h, 18, 3) || '-' || substr(h, 21, 12)) FROM (SELECT hex(randomblob(16)) AS h));

CREATE TRIGGER groups_object_id AFTER INSERT ON groups WHEN new.object_id = '' BEGIN
    UPDATE groups SET object_id = (SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a'
        || substr(h, 18, 3) || '-' || substr(h, 21, 12)) FROM (SELECT hex(randomblob(16)) AS h))
    WHERE id = new.id;
END;

CREATE UNIQUE INDEX groups_object_id ON groups (object_id) WHERE object_id <> '';
