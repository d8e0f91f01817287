-- Search, second form: an index of 4-byte grams instead of trigrams
-- (searchindex.go says why and how a search reads it). It holds the same
-- values as devices_fts did: the name and serial number without their
-- first character, and the device ID, of the devices on the blades; the
-- sync (SyncBladeIndexes) keeps it as it kept devices_fts. Contentless, with
-- deletes by rowid: the grams are ten times the text, and the text is in
-- devices; detail=none: a gram is found, its position is of no use.
DROP TABLE devices_fts;

CREATE VIRTUAL TABLE devices_search USING fts5(
    grams,
    tokenize = 'ascii', prefix = '6', detail = none,
    content = '', contentless_delete = 1
);

INSERT INTO devices_search (rowid, grams)
    SELECT id, search_grams(substr(display_name, 2), substr(serial_number, 2), device_id)
    FROM devices WHERE status IS NOT NULL;
INSERT INTO devices_search (devices_search) VALUES ('optimize');
