-- Quota leases (hot-path design): quota moved from a token's and its user's balance into a reservation a relay
-- admits requests against. Settled requests add to `used`; closing a lease gives `amount - used` back.
CREATE TABLE quota_leases (
    id VARCHAR(64) PRIMARY KEY,
    relay_id VARCHAR(64) NOT NULL DEFAULT '',
    user_id BIGINT NOT NULL,
    token_id BIGINT NOT NULL,
    -- The token side was reserved too (limited tokens only).
    token_limited INT NOT NULL DEFAULT 1,
    amount BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    closed INT NOT NULL DEFAULT 0
);
CREATE INDEX idx_quota_leases_open ON quota_leases(closed, expires_at);
CREATE INDEX idx_quota_leases_token ON quota_leases(token_id, closed);
CREATE INDEX idx_quota_leases_user ON quota_leases(user_id, closed);
