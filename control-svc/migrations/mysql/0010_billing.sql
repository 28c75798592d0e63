-- Billing (issue 6): how much of a lease came from the user's subscription quota (spent before `quota`), so
-- what a lease gives back returns where it came from; one account per GitHub and OIDC identity.
ALTER TABLE quota_leases ADD COLUMN subscription_amount BIGINT NOT NULL DEFAULT 0;
-- No partial indexes in MySQL: a generated column that is NULL for the empty id carries the unique index
-- (NULLs never collide).
ALTER TABLE users ADD COLUMN github_id_linked VARCHAR(255) GENERATED ALWAYS AS (NULLIF(github_id, '')) STORED;
ALTER TABLE users ADD COLUMN oidc_id_linked VARCHAR(255) GENERATED ALWAYS AS (NULLIF(oidc_id, '')) STORED;
CREATE UNIQUE INDEX idx_users_github_id ON users(github_id_linked);
CREATE UNIQUE INDEX idx_users_oidc_id ON users(oidc_id_linked);
