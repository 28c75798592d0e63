-- Work that one control of a cluster does for all of them once a day (issue 15: log retention). A control claims
-- a day's run by moving `last_day` forward with a conditional update; the others see it moved and skip.
CREATE TABLE cluster_runs (
    name TEXT PRIMARY KEY,
    last_day INTEGER NOT NULL DEFAULT 0
);
