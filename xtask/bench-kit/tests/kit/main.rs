//! Black-box tests: each test starts the mock (and the proxy) in-process on port 0 and talks HTTP to it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "test code: a panic is a failed test with its message; fixtures spawn freely and read TEST_* variables"
)]

mod harness;
mod mock;
mod proxy;
