//! Black-box tests: each test starts the mock (and the proxy) in-process on port 0 and talks HTTP to it.

mod harness;
mod mock;
mod proxy;
