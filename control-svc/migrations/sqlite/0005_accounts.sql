-- Accounts (issue 6): Veloera's user fields for personal access tokens, OAuth identities, invitations,
-- subscription quota, check-in and settings; per-token rate-limit fields.
ALTER TABLE users ADD COLUMN access_token_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN github_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN oidc_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN subscription_quota INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_code TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN aff_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_quota INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN aff_history_quota INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN inviter_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN setting TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_check_in_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rate_limit_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rate_limit_period INTEGER NOT NULL DEFAULT 60;
ALTER TABLE tokens ADD COLUMN rate_limit_count INTEGER NOT NULL DEFAULT 1000;
ALTER TABLE tokens ADD COLUMN rate_limit_success INTEGER NOT NULL DEFAULT 10;
CREATE INDEX idx_users_aff_code ON users(aff_code);
CREATE INDEX idx_users_access_token ON users(access_token_digest);
