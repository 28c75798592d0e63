-- Quota leases (hot-path design): quota moved from a token's and its user's balance into a reservation a relay
-- admits requests against. Settled requests add to `used`; closing a lease gives `amount - used` back.
CREATE TABLE quota_leases (
    id TEXT PRIMARY KEY,
    relay_id TEXT NOT NULL DEFAULT '',
    user_id INTEGER NOT NULL,
    token_id INTEGER NOT NULL,
    -- The token side was reserved too (limited tokens only).
    token_limited INTEGER NOT NULL DEFAULT 1,
    amount INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_quota_leases_open ON quota_leases(closed, expires_at);
CREATE INDEX idx_quota_leases_token ON quota_leases(token_id, closed);
CREATE INDEX idx_quota_leases_user ON quota_leases(user_id, closed);
