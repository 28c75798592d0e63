//! Generated types and stubs for the `veloera.control.v1` gRPC contract between relay-svc and control-svc.

/// Metadata key carrying the shared internal secret on every relay -> control call.
pub const INTERNAL_SECRET_HEADER: &str = "x-veloera-internal-secret";

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("veloera.control.v1");
}

pub mod blocked_words;
pub mod fault;
pub mod rules;
