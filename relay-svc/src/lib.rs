//! relay-svc: the Veloera data plane and public front door. It serves `/v1/*` (and the exact alias `/hf/v1/*`),
//! authorizes from caches kept fresh by control's `WatchConfig` stream, forwards to the upstream, streams the
//! answer back, and reports usage asynchronously. Every other path is forwarded to control-svc.
//!
//! Layout:
//! - `config`    typed configuration from the environment
//! - `app`       builds the relay on a bound listener, runs it and its background tasks
//! - `routes`    the HTTP surface (`chat`, `models`, SSE relaying) and the request-id middleware
//! - `auth`      reading the API key from a request
//! - `control`   gRPC client, caches, `WatchConfig` consumer, usage outbox
//! - `providers` pure adaptors per upstream wire format
//! - `dispatch`  the one place that does upstream I/O
//! - `usage`     one usage record per request, sent when the request ends
//! - `frontdoor` forwarding of non-relay paths to control
//! - `error`     the error type and its OpenAI-shaped response

pub mod app;
pub mod auth;
pub mod config;
pub mod control;
pub mod dispatch;
pub mod error;
pub mod frontdoor;
pub mod providers;
pub mod routes;
pub mod usage;

pub use app::Application;
pub use config::Config;
