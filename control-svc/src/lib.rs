//! control-svc: the Veloera control plane. It owns the database and all state, serves the admin REST API and
//! UI over HTTP, and the gRPC `Control` service that relays use for authorization, usage and invalidations.
//!
//! Layout:
//! - `config`    typed configuration from the environment
//! - `accounts`  sign-up and sign-in rules and settings, account creation, mail and OAuth providers
//! - `app`       builds the service on bound listeners and runs both servers
//! - `state`     shared state: database, cipher, event hub, routing and price snapshots
//! - `db`        the database (SQLite / PostgreSQL / MySQL through `sqlx::Any`) and one module per table
//! - `access`    the authorization rules both admin surfaces (REST and gRPC) apply: roles, ownership
//! - `admin`     the admin REST API (`/api/*`) and the UI's static files
//! - `probes`    `/healthz` and `/readyz`
//! - `grpc`      the relay-facing gRPC service and the admin service (`grpc/admin/`)
//! - `routing`   channel snapshot and candidate selection
//! - `billing`   prices and the quota formula
//! - `settings`  the registry of option keys `/api/option/` accepts: value checks, write-only secrets
//! - `events`    invalidations published to relays
//! - `notify`    quota warnings and channel notices by mail or signed webhook; the egress client for webhooks
//! - `secrets`   key generation, digests, encryption at rest, password hashing
//! - `bootstrap` the first-start root account
//! - `import`    `control-svc import`: migrating in from a Veloera, new-api or one-api database

pub mod access;
pub mod accounts;
pub mod admin;
pub mod app;
pub mod billing;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod health;
pub mod import;
pub mod notify;
pub mod probes;
pub mod routing;
pub mod secrets;
pub mod settings;
pub mod state;

pub use app::Application;
pub use config::Config;
pub use error::ControlError;
