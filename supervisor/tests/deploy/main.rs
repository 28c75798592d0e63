//! Deployment tests, with no Docker engine: the launcher run as the image runs it (the Dockerfile's own
//! environment, on a temporary data directory), and the deployment files checked by parsers.
//!
//! The launcher starts the `control-svc` and `relay-svc` executables beside it in the target directory;
//! `cargo test --workspace` builds them (alone: `cargo build -p control-svc -p relay-svc` first).

mod compose;
mod dockerfile;
mod launcher;
mod space;
