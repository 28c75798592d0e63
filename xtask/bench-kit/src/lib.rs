//! Yardsticks for the gateway benchmark (see `shared/spec/benchmark-protocol.md`): a scripted fake
//! OpenAI upstream and a bare reverse proxy, both far cheaper per request than the gateway they measure.
//!
//! # Layout
//! - [`cli`]: `--flag value` parsing shared by both binaries.
//! - [`launch`]: process entry: runtime, bind, the `listening on` line, Ctrl-C.
//! - [`serve`]: the HTTP/1.1 accept loop (TCP_NODELAY, graceful shutdown) both servers run on.
//! - [`mock`]: the fake upstream: latency/chunk profiles, JSON and paced SSE answers, `/stats` counters.
//! - [`proxy`]: the bare proxy: header hygiene and streamed forwarding over a pooled client.
//! - [`error`]: what can stop a binary from starting.
//!
//! Servers are library functions that take an already-bound listener and a shutdown future, so tests
//! run them in-process on port 0; `src/bin/*` only parse flags and call [`launch::Launch::run`].
#![allow(
    clippy::disallowed_methods,
    reason = "benchmark yardsticks: connection tasks live as long as the process; nothing to drain"
)]

pub mod cli;
pub mod error;
pub mod launch;
pub mod mock;
pub mod proxy;
pub mod serve;

pub use error::Error;
