//! Deployment tests, with no Docker engine: the launcher run as the image runs it (the Dockerfile's own
//! environment, on a temporary data directory), and the deployment files checked by parsers.
//!
//! The launcher starts the `control-svc` and `relay-svc` executables beside it in the target directory;
//! `cargo test --workspace` builds them (alone: `cargo build -p control-svc -p relay-svc` first).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "test code: a panic is a failed test with its message; fixtures spawn freely and read TEST_* variables"
)]

mod compose;
mod dockerfile;
mod launcher;
mod space;
mod startup;
