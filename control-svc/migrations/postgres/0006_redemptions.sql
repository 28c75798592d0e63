-- Redemption and gift codes (accounts and billing). The code column is `code` (`key` is reserved in MySQL);
-- the API calls it `key`. redemption_logs' unique (redemption_id, user_id) is what lets a user redeem a gift
-- code at most once, whatever the number of control instances.
CREATE TABLE redemptions (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    quota BIGINT NOT NULL,
    status BIGINT NOT NULL DEFAULT 1,
    created_time BIGINT NOT NULL,
    redeemed_time BIGINT NOT NULL DEFAULT 0,
    used_user_id BIGINT NOT NULL DEFAULT 0,
    is_gift BIGINT NOT NULL DEFAULT 0,
    max_uses BIGINT NOT NULL DEFAULT 1,
    used_count BIGINT NOT NULL DEFAULT 0,
    valid_from BIGINT NOT NULL DEFAULT 0,
    valid_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX idx_redemptions_name ON redemptions(name);

CREATE TABLE redemption_logs (
    id BIGSERIAL PRIMARY KEY,
    redemption_id BIGINT NOT NULL REFERENCES redemptions(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    used_time BIGINT NOT NULL,
    UNIQUE (redemption_id, user_id)
);
CREATE INDEX idx_redemption_logs_user ON redemption_logs(user_id);

-- Invitation codes are unique among the users that have one (the empty default is not a code).
CREATE UNIQUE INDEX idx_users_aff_code_unique ON users(aff_code) WHERE aff_code <> '';
