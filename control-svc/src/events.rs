//! The invalidation hub behind `WatchConfig`: every state change that a relay may have cached is published here.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

/// A change relays must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A token was created, edited, disabled or ran out (digest as hex).
    Token { token_id: i64, key_digest_hex: String },
    /// A user was edited, disabled or ran out of quota.
    User { user_id: i64 },
    /// Any channel changed: relays drop their routes.
    Channels,
    /// Options (prices, settings) changed.
    Options,
}

/// Numbered changes, fanned out to every connected relay.
pub struct EventHub {
    tx: broadcast::Sender<(u64, Change)>,
    version: AtomicU64,
}

impl Default for EventHub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(4096);
        EventHub { tx, version: AtomicU64::new(0) }
    }
}

impl EventHub {
    pub fn publish(&self, change: Change) {
        let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        // No receivers simply means no relay is connected; nothing to do.
        let _ = self.tx.send((v, change));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(u64, Change)> {
        self.tx.subscribe()
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}
