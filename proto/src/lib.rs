//! Generated types and stubs for the `veloera.control.v1` gRPC contract between relay-svc and control-svc, and for
//! the `veloera.admin.v1` service control-svc offers the operator's own backends; and what both services share
//! beside them.
//!
//! Layout: `v1` and `admin_v1` (the generated contracts), `rules` (quota arithmetic, the shared caller checks),
//! `blocked_words` (the compiled list both services match with), `fault` (one classification of upstream
//! failures), `in_flight` (work begun and not yet done, with a wait for none left), `startup` (log subscriber and shutdown signal
//! for both `main.rs`).

/// Metadata key carrying the shared internal secret on every relay -> control call.
pub const INTERNAL_SECRET_HEADER: &str = "x-veloera-internal-secret";

/// Metadata key carrying the client request's id on relay -> control calls made for it, so both services' logs
/// name the same request.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("veloera.control.v1");
}

/// `veloera.admin.v1`: the admin service (`proto/veloera/admin/v1/admin.proto`).
#[allow(clippy::all, missing_docs)]
pub mod admin_v1 {
    tonic::include_proto!("veloera.admin.v1");

    /// The encoded descriptor set of `admin.proto`, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/admin_descriptor.bin"));
}

pub mod blocked_words;
pub mod fault;
pub mod in_flight;
pub mod rules;
pub mod startup;
