-- Routing and health (issue 5).
-- Veloera's per-channel model prefix: the channel's models are also reachable as <prefix><model>.
ALTER TABLE channels ADD COLUMN model_prefix VARCHAR(64) NOT NULL DEFAULT '';
-- Why and when the channel was last disabled (Veloera keeps these in other_info).
ALTER TABLE channels ADD COLUMN status_reason VARCHAR(512) NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN status_time BIGINT NOT NULL DEFAULT 0;
-- Last test: latency in milliseconds and when (unix seconds).
ALTER TABLE channels ADD COLUMN response_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN test_time BIGINT NOT NULL DEFAULT 0;
-- Upstream balance in USD as last read, and when.
ALTER TABLE channels ADD COLUMN balance DOUBLE NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN balance_updated_time BIGINT NOT NULL DEFAULT 0;
-- Circuit breaker: transient failures counted in a window; an open circuit is probed at probe_at, with the
-- back-off doubling after each failed probe.
ALTER TABLE channels ADD COLUMN fail_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN fail_window_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN probe_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN backoff_secs BIGINT NOT NULL DEFAULT 0;

-- Health of each key of a multi-key channel, identified by the SHA-256 of the key so it survives edits that
-- reorder or add keys. Status as channels: 1 enabled, 2 disabled by an admin, 3 disabled automatically.
CREATE TABLE channel_keys (
    channel_id BIGINT NOT NULL,
    key_digest VARCHAR(64) NOT NULL,
    status INT NOT NULL DEFAULT 1,
    status_reason VARCHAR(512) NOT NULL DEFAULT '',
    status_time BIGINT NOT NULL DEFAULT 0,
    last_error VARCHAR(512) NOT NULL DEFAULT '',
    last_error_time BIGINT NOT NULL DEFAULT 0,
    request_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    probe_at BIGINT NOT NULL DEFAULT 0,
    backoff_secs BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, key_digest)
);
