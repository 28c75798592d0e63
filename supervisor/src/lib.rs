//! veloera-supervisor: the launcher of the single container (Hugging Face Spaces, `docker run`). It starts
//! control-svc, waits until control is ready, starts relay-svc, and on SIGTERM stops the relay first (it drains
//! usage to control) and then control, each within a bound. When either service dies, the other is stopped and
//! the launcher exits non-zero, so the platform restarts the container.
//!
//! Layout:
//! - `config`    typed configuration from the environment, and what the services are given
//! - `data_dir`  which directory holds the database and secrets, and whether it survives a restart
//! - `service`   one child process: spawned in its own process group, stopped with a bound
//! - `supervise` the lifecycle: start in order, watch, stop in order
//! - `probe`     readiness checks over HTTP (waiting for control; `veloera healthcheck`)
//! - `error`     the crate's error type

pub mod config;
pub mod data_dir;
pub mod error;
pub mod probe;
pub mod service;
pub mod supervise;

pub use config::Config;
pub use error::SupervisorError;
