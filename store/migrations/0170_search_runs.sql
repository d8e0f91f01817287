-- Run tokens in the search index (searchindex.go, runToken): a search for a
-- run of one byte longer than a gram ("00000") asks for the token of the
-- run besides its grams. The entries of the devices whose name, serial
-- number or device ID holds such a run are written again, with their
-- tokens; every other entry is what search_grams writes now already.
-- Entries are found by the tab blade_order holds, which is the one they
-- were written with (migration 0006); a device queued for the search index
-- is written again by the sync, from devices as it is then.
CREATE TEMP TABLE search_runs AS
    SELECT rowid, grams FROM (
        SELECT o.id * 4 + CASE o.tab WHEN 'ready' THEN 1 WHEN 'not-ready' THEN 2 WHEN 'not-registered' THEN 3 END AS rowid,
            search_grams(substr(d.display_name, 2), substr(d.serial_number, 2), d.device_id) AS grams
        FROM blade_order o JOIN devices d ON d.id = o.id)
    WHERE instr(grams, 'r') > 0;
DELETE FROM devices_search WHERE rowid IN (SELECT rowid FROM search_runs);
INSERT INTO devices_search (rowid, grams) SELECT rowid, grams FROM search_runs;
DROP TABLE search_runs;
