-- How the search index takes a sync (SyncBladeIndexes), measured on a
-- first sync of 100,000 devices, which took 21 s, two thirds of it in the
-- index: FTS5 flushes its pending entries to a new segment whenever they
-- pass 'hashsize' (1 MB by default, a few hundred devices' grams), and
-- merges segments as it goes ('automerge'). A chunk of the sync now makes
-- one segment (32 MB holds its grams), and the segments are merged once,
-- at the end of each sync, which SyncBladeIndexes does anyway: 13 s.
INSERT INTO devices_search (devices_search, rank) VALUES ('hashsize', 33554432);
INSERT INTO devices_search (devices_search, rank) VALUES ('automerge', 0);
