CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    role INTEGER NOT NULL DEFAULT 1,
    status INTEGER NOT NULL DEFAULT 1,
    email TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT 'default',
    quota INTEGER NOT NULL DEFAULT 0,
    used_quota INTEGER NOT NULL DEFAULT 0,
    request_count INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    key_digest TEXT NOT NULL UNIQUE,
    key_ciphertext TEXT NOT NULL,
    key_hint TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 1,
    created_time INTEGER NOT NULL,
    accessed_time INTEGER NOT NULL DEFAULT 0,
    expired_time INTEGER NOT NULL DEFAULT -1,
    remain_quota INTEGER NOT NULL DEFAULT 0,
    unlimited_quota INTEGER NOT NULL DEFAULT 0,
    used_quota INTEGER NOT NULL DEFAULT 0,
    model_limits_enabled INTEGER NOT NULL DEFAULT 0,
    model_limits TEXT NOT NULL DEFAULT '',
    allow_ips TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    deleted_at INTEGER
);
CREATE INDEX idx_tokens_user ON tokens(user_id);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL,
    key_ciphertext TEXT NOT NULL,
    key_hint TEXT NOT NULL DEFAULT '',
    base_url TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT 'default',
    model_mapping TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 1,
    priority INTEGER NOT NULL DEFAULT 0,
    weight INTEGER NOT NULL DEFAULT 0,
    auto_ban INTEGER NOT NULL DEFAULT 1,
    test_model TEXT NOT NULL DEFAULT '',
    openai_organization TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '',
    created_time INTEGER NOT NULL,
    used_quota INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    type INTEGER NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',
    token_name TEXT NOT NULL DEFAULT '',
    token_id INTEGER NOT NULL DEFAULT 0,
    model_name TEXT NOT NULL DEFAULT '',
    quota INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    use_time INTEGER NOT NULL DEFAULT 0,
    is_stream INTEGER NOT NULL DEFAULT 0,
    channel_id INTEGER NOT NULL DEFAULT 0,
    group_name TEXT NOT NULL DEFAULT '',
    client_ip TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    other TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_logs_user_created ON logs(user_id, created_at);
CREATE INDEX idx_logs_created ON logs(created_at);

-- Idempotency ledger for ReportUsage: a request id applied once is never applied again.
CREATE TABLE usage_applied (
    request_id TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
);

CREATE TABLE options (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
