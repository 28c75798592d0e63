//! End-to-end tests: mock upstream + control + relay in one process, every listener on port 0.

mod harness;
mod mock_upstream;

mod admin;
mod auth;
mod channel_admin;
mod chat;
mod failover;
mod formats;
mod lifecycle;
mod redemptions;
