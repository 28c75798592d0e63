-- Redemption and gift codes (accounts and billing). The code column is `code` (`key` is reserved in MySQL);
-- the API calls it `key`. redemption_logs' unique (redemption_id, user_id) is what lets a user redeem a gift
-- code at most once, whatever the number of control instances.
-- Codes and names compare byte for byte (`_bin`), as on the other backends: MySQL's default collations would
-- make `ABC…` and `abc…` the same code, and delete-by-name case-insensitive.
CREATE TABLE redemptions (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    user_id BIGINT NOT NULL,
    code VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
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
) DEFAULT CHARSET = utf8mb4;
CREATE INDEX idx_redemptions_name ON redemptions(name);

CREATE TABLE redemption_logs (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    redemption_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    used_time BIGINT NOT NULL,
    UNIQUE (redemption_id, user_id),
    FOREIGN KEY (redemption_id) REFERENCES redemptions(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id)
) DEFAULT CHARSET = utf8mb4;
CREATE INDEX idx_redemption_logs_user ON redemption_logs(user_id);

-- Invitation codes are unique among the users that have one (the empty default is not a code). MySQL has no
-- partial index: a generated column that is NULL for the empty code carries the unique index instead. It
-- follows aff_code's collation, so codes differing only in case count as the same, as lookups do here.
ALTER TABLE users ADD COLUMN aff_code_unique VARCHAR(64) AS (NULLIF(aff_code, '')) STORED;
CREATE UNIQUE INDEX idx_users_aff_code_unique ON users(aff_code_unique);
