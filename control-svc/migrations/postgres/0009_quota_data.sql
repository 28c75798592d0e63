-- Dashboard data (issue 7), Veloera's `quota_data`: settled usage summed per user, model, channel and hour
-- (`created_at` is the hour's start), written in the settlement transaction. `error_count` counts failed
-- attempts on the channel, for per-channel error rates.
CREATE TABLE quota_data (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    model_name TEXT NOT NULL DEFAULT '',
    channel_id BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    request_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    token_used BIGINT NOT NULL DEFAULT 0,
    quota BIGINT NOT NULL DEFAULT 0,
    UNIQUE (user_id, model_name, channel_id, created_at)
);
CREATE INDEX idx_quota_data_created ON quota_data(created_at);
-- Log filters by type and by user name over time.
CREATE INDEX idx_logs_type_created ON logs(type, created_at);
CREATE INDEX idx_logs_username ON logs(username);
