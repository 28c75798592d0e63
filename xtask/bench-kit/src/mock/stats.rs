//! Counters behind `GET /stats`, so a benchmark can check how many requests reached the upstream and
//! that every frame the mock sent arrived at the client.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Live counters; relaxed atomics because readers only need eventually consistent totals.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    streams_open: AtomicU64,
    frames_sent: AtomicU64,
}

/// The `/stats` body: `{"requests":N,"streams_open":M,"frames_sent":F}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Chat-completion requests received, counted on arrival (before latency or body parsing).
    pub requests: u64,
    /// SSE bodies currently alive: created and neither finished nor dropped by a disconnect.
    pub streams_open: u64,
    /// SSE frames (content, finish, usage and `[DONE]`) handed to the connection for writing.
    pub frames_sent: u64,
}

impl Stats {
    pub(super) fn request_received(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stream_opened(&self) {
        self.streams_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stream_closed(&self) {
        self.streams_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn frame_sent(&self) {
        self.frames_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Current totals.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            streams_open: self.streams_open.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
        }
    }
}
