-- Billing (issue 6): how much of a lease came from the user's subscription quota (spent before `quota`), so
-- what a lease gives back returns where it came from; one account per GitHub and OIDC identity.
ALTER TABLE quota_leases ADD COLUMN subscription_amount BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX idx_users_github_id ON users(github_id) WHERE github_id <> '';
CREATE UNIQUE INDEX idx_users_oidc_id ON users(oidc_id) WHERE oidc_id <> '';
