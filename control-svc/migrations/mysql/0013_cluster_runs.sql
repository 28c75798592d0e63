-- Work that one control of a cluster does for all of them once a day (issue 15: log retention). A control claims
-- a day's run by moving `last_day` forward with a conditional update; the others see it moved and skip.
CREATE TABLE cluster_runs (
    name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    last_day BIGINT NOT NULL DEFAULT 0
) DEFAULT CHARSET = utf8mb4;
