//! relay-svc: the Veloera data plane and public front door. It serves `/v1/*` (and the exact alias `/hf/v1/*`),
//! authorizes from caches kept fresh by control's `WatchConfig` stream, forwards to the upstream, streams the
//! answer back, and reports usage asynchronously. Every other path is forwarded to control-svc.
//!
//! Layout:
//! - `config`    typed configuration from the environment
//! - `app`       builds the relay on a bound listener, runs it and its background tasks
//! - `routes`    the HTTP surface: OpenAI (`chat`, `models`, `passthrough` and `multipart` for the other
//!   endpoints, `billing`), Anthropic (`anthropic`), Gemini (`gemini`), `probes`; `request_id` (the request's id,
//!   span and its one error log); `conversation` admits a request, `answer` is the one answer pipeline
//!   (failover and per-attempt delivery), `translate` relays answers between formats or passes them through,
//!   `sse` is the OpenAI-to-OpenAI stream hot path
//! - `auth`      reading the API key from a request
//! - `client_addr` the client's address (behind `TRUSTED_PROXY_HOPS` reverse proxies)
//! - `channel`   the relay's `Channel` (made once from control's candidate when the cache stores it: typed id,
//!   wire/auth/URL styles from the channel-type table, parsed settings, keys as secrets) and `Target`
//! - `failover`  one request's attempts over its candidates: plan, verdict, retry budget, paused keys
//! - `guard`     blocked words in prompts and answers
//! - `content`   chat-content logging: the prompt and answer recorded with the usage record, when enabled
//! - `control`   gRPC client, caches, `WatchConfig` consumer, usage outbox
//! - `providers` pure adaptors per wire format (`openai`, `anthropic`, `gemini`) around the shared chat
//!   representation in `providers::chat`
//! - `dispatch`  the one place that does upstream I/O: its input `UpstreamCall`, the credentials every call
//!   carries (`dispatch::auth`), and the typed upstream fault (`dispatch::fault`)
//! - `limits`    rate limits per token, user and model, counted in Redis (shared) or memory
//! - `usage`     one usage record per request, sent when the request ends
//! - `metrics`   Prometheus series and their recording functions, served on `METRICS_ADDR` only
//! - `tokenizer` local token counts (tiktoken) when an upstream reports none
//! - `frontdoor` forwarding of non-relay paths to control
//! - `error`     the error type and its OpenAI-shaped response

pub mod app;
pub mod auth;
pub mod channel;
pub mod client_addr;
pub mod config;
pub mod content;
pub mod control;
pub mod dispatch;
pub mod error;
pub mod failover;
pub mod frontdoor;
pub mod guard;
pub mod limits;
pub mod metrics;
pub mod providers;
pub mod routes;
pub mod tokenizer;
pub mod usage;

pub use app::Application;
pub use config::Config;
