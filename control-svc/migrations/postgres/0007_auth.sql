-- Accounts (issue 6): one-time codes that every control instance sees — email verification codes, password reset
-- tokens (both stored as SHA-256 digests with an expiry) and the OAuth states already used — and the first-run
-- setup record (one row, id 1; inserting it is what makes two concurrent setups exclusive).
CREATE TABLE auth_codes (
    purpose TEXT NOT NULL,
    subject TEXT NOT NULL,
    code_digest TEXT NOT NULL,
    user_id BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (purpose, subject)
);
CREATE INDEX idx_auth_codes_expires ON auth_codes(expires_at);
CREATE TABLE setups (
    id BIGINT PRIMARY KEY,
    version TEXT NOT NULL,
    initialized_at BIGINT NOT NULL
);
