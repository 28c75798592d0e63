-- Accounts (issue 6): Veloera's user fields for personal access tokens, OAuth identities, invitations,
-- subscription quota, check-in and settings; per-token rate-limit fields.
ALTER TABLE users ADD COLUMN access_token_digest VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN github_id VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN oidc_id VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN subscription_quota BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_code VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN aff_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_quota BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_history_quota BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN inviter_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN setting VARCHAR(2048) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_check_in_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rate_limit_enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rate_limit_period BIGINT NOT NULL DEFAULT 60;
ALTER TABLE tokens ADD COLUMN rate_limit_count BIGINT NOT NULL DEFAULT 1000;
ALTER TABLE tokens ADD COLUMN rate_limit_success BIGINT NOT NULL DEFAULT 10;
CREATE INDEX idx_users_aff_code ON users(aff_code);
CREATE INDEX idx_users_access_token ON users(access_token_digest);
