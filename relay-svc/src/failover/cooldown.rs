//! Keys this relay leaves alone for a while: refused keys (until control's shared health takes over) and keys
//! whose upstream asked us to wait (`Retry-After`). Almost always empty, so the check is one atomic load.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::channel::ChannelId;

#[derive(Default)]
pub struct Cooldowns {
    any: AtomicBool,
    until: Mutex<HashMap<(ChannelId, i32), (Instant, bool)>>,
}

/// A key left alone for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub left: Duration,
    /// The upstream asked us to wait (`Retry-After`): never broken. A soft pause (a refused key) yields when
    /// nothing else is left, since the key may have been fixed meanwhile.
    pub hard: bool,
}

impl Cooldowns {
    /// Leaves `(channel, key slot)` alone for `pause` (`hard`: see [`Pause::hard`]).
    pub fn pause(&self, channel: ChannelId, slot: i32, pause: Duration, hard: bool) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let end = Instant::now() + pause;
        let entry = until.entry((channel, slot)).or_insert((end, hard));
        *entry = (entry.0.max(end), entry.1 || hard);
        self.any.store(true, Ordering::Release);
    }

    /// How much longer the key is left alone, if it is.
    pub fn remaining(&self, channel: ChannelId, slot: i32) -> Option<Pause> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        until.retain(|_, (end, _)| *end > now);
        if until.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        until.get(&(channel, slot)).map(|(end, hard)| Pause { left: *end - now, hard: *hard })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: ChannelId = ChannelId(1);

    #[test]
    fn a_paused_key_comes_back_when_its_pause_ends() {
        let c = Cooldowns::default();
        assert!(c.remaining(C1, 0).is_none());
        c.pause(C1, 0, Duration::from_millis(30), true);
        assert!(c.remaining(C1, 0).is_some());
        assert!(c.remaining(C1, 1).is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.remaining(C1, 0).is_none());
    }
}
