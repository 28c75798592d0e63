//! Generated types and stubs for the `veloera.control.v1` gRPC contract between relay-svc and control-svc,
//! and what both services share beside it.
//!
//! Layout: `v1` (the generated contract), `rules` (quota arithmetic), `blocked_words` (the compiled list both
//! services match with), `startup` (log subscriber and shutdown signal for both `main.rs`).

/// Metadata key carrying the shared internal secret on every relay -> control call.
pub const INTERNAL_SECRET_HEADER: &str = "x-veloera-internal-secret";

/// Metadata key carrying the client request's id on relay -> control calls made for it, so both services' logs
/// name the same request.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("veloera.control.v1");
}

pub mod blocked_words;
pub mod rules;
pub mod startup;
