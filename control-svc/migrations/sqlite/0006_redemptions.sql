-- Redemption and gift codes (accounts and billing). The code column is `code` (`key` is reserved in MySQL);
-- the API calls it `key`. redemption_logs' unique (redemption_id, user_id) is what lets a user redeem a gift
-- code at most once, whatever the number of control instances.
CREATE TABLE redemptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    quota INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 1,
    created_time INTEGER NOT NULL,
    redeemed_time INTEGER NOT NULL DEFAULT 0,
    used_user_id INTEGER NOT NULL DEFAULT 0,
    is_gift INTEGER NOT NULL DEFAULT 0,
    max_uses INTEGER NOT NULL DEFAULT 1,
    used_count INTEGER NOT NULL DEFAULT 0,
    valid_from INTEGER NOT NULL DEFAULT 0,
    valid_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_redemptions_name ON redemptions(name);

CREATE TABLE redemption_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    redemption_id INTEGER NOT NULL REFERENCES redemptions(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    used_time INTEGER NOT NULL,
    UNIQUE (redemption_id, user_id)
);
CREATE INDEX idx_redemption_logs_user ON redemption_logs(user_id);

-- Invitation codes are unique among the users that have one (the empty default is not a code).
CREATE UNIQUE INDEX idx_users_aff_code_unique ON users(aff_code) WHERE aff_code <> '';
