//! A retry budget (Envoy's `retry_budget`): retries may be at most a share of the requests of the last few
//! seconds, with a small floor, so a sick upstream is never stormed by every request retrying.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const BUCKETS: usize = 10;
/// Retries allowed as a share of requests.
const RATIO: f64 = 0.2;
/// Retries always allowed per window, so a quiet gateway can still fail over.
const FLOOR: u64 = 10;

/// Requests and retries per second over the last `BUCKETS` seconds; lock-free, one relaxed add per request.
pub struct RetryBudget {
    epoch: Instant,
    /// Per bucket: the second it counts, its requests, its retries.
    seconds: [AtomicU64; BUCKETS],
    requests: [AtomicU64; BUCKETS],
    retries: [AtomicU64; BUCKETS],
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            epoch: Instant::now(),
            seconds: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            retries: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl RetryBudget {
    fn bucket(&self) -> usize {
        let second = self.epoch.elapsed().as_secs();
        let i = (second % BUCKETS as u64) as usize;
        let seen = self.seconds[i].load(Ordering::Relaxed);
        if seen != second
            && self.seconds[i].compare_exchange(seen, second, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.requests[i].store(0, Ordering::Relaxed);
            self.retries[i].store(0, Ordering::Relaxed);
        }
        i
    }

    /// Counts one request.
    pub fn request(&self) {
        self.requests[self.bucket()].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget if it allows one.
    pub fn try_retry(&self) -> bool {
        let now = self.bucket();
        let second = self.epoch.elapsed().as_secs();
        let live = |i: usize| second.saturating_sub(self.seconds[i].load(Ordering::Relaxed)) < BUCKETS as u64;
        let sum = |counts: &[AtomicU64; BUCKETS]| -> u64 {
            (0..BUCKETS).filter(|i| live(*i)).map(|i| counts[i].load(Ordering::Relaxed)).sum()
        };
        let allowed = FLOOR.max((sum(&self.requests) as f64 * RATIO) as u64);
        if sum(&self.retries) >= allowed {
            return false;
        }
        self.retries[now].fetch_add(1, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_at_a_share_of_requests_with_a_floor() {
        let b = RetryBudget::default();
        assert_eq!((0..50).filter(|_| b.try_retry()).count(), FLOOR as usize);
        for _ in 0..1000 {
            b.request();
        }
        let more = (0..1000).filter(|_| b.try_retry()).count();
        assert_eq!(more as u64, 200 - FLOOR);
    }
}
