-- MySQL/MariaDB. Only VARCHAR text columns: sqlx's Any driver reads TEXT/BLOB columns as bytes, not strings.
-- Sizes keep each row under MySQL's 65,535-byte limit (utf8mb4 counts 4 bytes a character; ASCII 1).
CREATE TABLE users (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    username VARCHAR(191) NOT NULL UNIQUE,
    password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    role BIGINT NOT NULL DEFAULT 1,
    status BIGINT NOT NULL DEFAULT 1,
    email VARCHAR(255) NOT NULL DEFAULT '',
    group_name VARCHAR(255) NOT NULL DEFAULT 'default',
    quota BIGINT NOT NULL DEFAULT 0,
    used_quota BIGINT NOT NULL DEFAULT 0,
    request_count BIGINT NOT NULL DEFAULT 0,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE tokens (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    user_id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    key_digest VARCHAR(64) CHARACTER SET ascii NOT NULL UNIQUE,
    key_ciphertext VARCHAR(512) CHARACTER SET ascii NOT NULL,
    key_hint VARCHAR(64) NOT NULL,
    status BIGINT NOT NULL DEFAULT 1,
    created_time BIGINT NOT NULL,
    accessed_time BIGINT NOT NULL DEFAULT 0,
    expired_time BIGINT NOT NULL DEFAULT -1,
    remain_quota BIGINT NOT NULL DEFAULT 0,
    unlimited_quota BIGINT NOT NULL DEFAULT 0,
    used_quota BIGINT NOT NULL DEFAULT 0,
    model_limits_enabled BIGINT NOT NULL DEFAULT 0,
    model_limits VARCHAR(4096) NOT NULL DEFAULT '',
    allow_ips VARCHAR(4096) NOT NULL DEFAULT '',
    group_name VARCHAR(255) NOT NULL DEFAULT '',
    deleted_at BIGINT,
    FOREIGN KEY (user_id) REFERENCES users(id)
) DEFAULT CHARSET = utf8mb4;
CREATE INDEX idx_tokens_user ON tokens(user_id);

CREATE TABLE channels (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    `type` BIGINT NOT NULL DEFAULT 1,
    name VARCHAR(255) NOT NULL,
    key_ciphertext VARCHAR(16000) CHARACTER SET ascii NOT NULL,
    key_hint VARCHAR(2048) NOT NULL DEFAULT '',
    base_url VARCHAR(512) NOT NULL DEFAULT '',
    models VARCHAR(2048) NOT NULL DEFAULT '',
    group_name VARCHAR(255) NOT NULL DEFAULT 'default',
    model_mapping VARCHAR(2048) NOT NULL DEFAULT '',
    status BIGINT NOT NULL DEFAULT 1,
    priority BIGINT NOT NULL DEFAULT 0,
    weight BIGINT NOT NULL DEFAULT 0,
    auto_ban BIGINT NOT NULL DEFAULT 1,
    test_model VARCHAR(255) NOT NULL DEFAULT '',
    openai_organization VARCHAR(255) NOT NULL DEFAULT '',
    tag VARCHAR(255) NOT NULL DEFAULT '',
    created_time BIGINT NOT NULL,
    used_quota BIGINT NOT NULL DEFAULT 0
) DEFAULT CHARSET = utf8mb4;

CREATE TABLE logs (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    `type` BIGINT NOT NULL,
    content VARCHAR(2048) NOT NULL DEFAULT '',
    username VARCHAR(255) NOT NULL DEFAULT '',
    token_name VARCHAR(255) NOT NULL DEFAULT '',
    token_id BIGINT NOT NULL DEFAULT 0,
    model_name VARCHAR(255) NOT NULL DEFAULT '',
    quota BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    use_time BIGINT NOT NULL DEFAULT 0,
    is_stream BIGINT NOT NULL DEFAULT 0,
    channel_id BIGINT NOT NULL DEFAULT 0,
    group_name VARCHAR(255) NOT NULL DEFAULT '',
    client_ip VARCHAR(64) NOT NULL DEFAULT '',
    request_id VARCHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
    other VARCHAR(4096) NOT NULL DEFAULT ''
) DEFAULT CHARSET = utf8mb4;
CREATE INDEX idx_logs_user_created ON logs(user_id, created_at);
CREATE INDEX idx_logs_created ON logs(created_at);

-- Idempotency ledger for ReportUsage: a request id applied once is never applied again.
CREATE TABLE usage_applied (
    request_id VARCHAR(64) CHARACTER SET ascii PRIMARY KEY,
    applied_at BIGINT NOT NULL
);

CREATE TABLE options (
    name VARCHAR(191) PRIMARY KEY,
    value VARCHAR(15000) NOT NULL
) DEFAULT CHARSET = utf8mb4;
