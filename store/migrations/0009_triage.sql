-- Triage: the devices failing one check, found by the check (the blades'
-- "filter by failing check" and its chips), and lists of devices pasted
-- into the search, kept so that the blade's URL can name them.
CREATE INDEX check_results_failing ON check_results (check_id, device_pk) WHERE passed = 0;

CREATE TABLE device_lists (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a URL names one list
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    entries    TEXT    NOT NULL -- JSON array of the names, serial numbers and device IDs pasted
);
