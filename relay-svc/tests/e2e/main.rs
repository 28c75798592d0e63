//! End-to-end tests: mock upstream + control + relay in one process, every listener on port 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "test code: a panic is a failed test with its message; fixtures spawn freely and read TEST_* variables"
)]

mod fake_oauth;
mod fake_smtp;
mod harness;
mod mock_upstream;
mod webhook_receiver;

mod account_security;
mod accounts;
mod admin;
mod admin_grpc;
mod answers;
mod api_access;
mod auth;
mod billing;
mod blocked_words;
mod channel_admin;
mod chat;
mod content_logging;
mod control_tls;
mod failover;
mod formats;
mod lifecycle;
mod logs;
mod metrics;
mod migration;
mod notify;
mod playground;
mod probes;
mod quota;
mod rate_limits;
mod redemptions;
mod relay_log;
mod surface;
mod trusted_proxies;
mod ui_files;
mod upstream_secrets;
mod users_admin;
mod veloera_ui_compat;
