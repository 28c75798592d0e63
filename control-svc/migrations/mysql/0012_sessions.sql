-- Sessions and sign-in throttling (issue 12). A session is a row, so a password change, a reset, disabling the
-- account, "log out everywhere" and logout can end it; the cookie carries a random id whose SHA-256 is the key.
-- `login_throttle` counts failed password sign-ins per account name (SHA-256 of the lower-cased name, so unknown
-- names are throttled alike and the table holds no names) in the database, so every control instance agrees.
CREATE TABLE sessions (
    id_digest VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
) DEFAULT CHARSET = utf8mb4;
CREATE INDEX idx_sessions_user ON sessions(user_id);
CREATE INDEX idx_sessions_expires ON sessions(expires_at);
CREATE TABLE login_throttle (
    subject VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    failures BIGINT NOT NULL DEFAULT 0,
    locks BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
) DEFAULT CHARSET = utf8mb4;
