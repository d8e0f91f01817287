-- The search index with long grams and run tokens (searchindex.go: longLen,
-- runToken): a search of 5 bytes or more is tiled with 5-byte windows, and
-- a run of one byte has a token of its own. Written again from blade_order,
-- whose tabs the sync deletes by, as migration 0006 wrote it; a device
-- queued for the search index is written again by the sync, from devices
-- as it is then. The table is made anew, as migrations 0005 and 0007 made
-- it: deleting a million entries one by one cost more than writing them.
DROP TABLE devices_search;
CREATE VIRTUAL TABLE devices_search USING fts5(
    grams,
    tokenize = 'ascii', prefix = '6', detail = none,
    content = '', contentless_delete = 1
);
INSERT INTO devices_search (devices_search, rank) VALUES ('hashsize', 33554432);
INSERT INTO devices_search (devices_search, rank) VALUES ('automerge', 0);
INSERT INTO devices_search (rowid, grams)
    SELECT o.id * 4 + CASE o.tab WHEN 'ready' THEN 1 WHEN 'not-ready' THEN 2 WHEN 'not-registered' THEN 3 END,
        search_grams(substr(d.display_name, 2), substr(d.serial_number, 2), d.device_id)
    FROM blade_order o JOIN devices d ON d.id = o.id;
INSERT INTO devices_search (devices_search) VALUES ('optimize');
