//! A count of work begun and not yet done, with a wait for "none left". The relay counts requests until control
//! has settled their usage; control counts notices until they are delivered or given up. Tests wait on it to
//! know that nothing more will arrive, instead of sleeping and hoping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct InFlight(Arc<Count>);

#[derive(Default)]
struct Count {
    open: AtomicU64,
    none_left: Notify,
}

impl InFlight {
    /// One more piece of work began.
    pub fn begun(&self) {
        self.0.open.fetch_add(1, Ordering::AcqRel);
    }

    /// `n` pieces of work ended (done, or given up).
    pub fn ended(&self, n: u64) {
        if n > 0 && self.0.open.fetch_sub(n, Ordering::AcqRel) == n {
            self.0.none_left.notify_waiters();
        }
    }

    /// Counts one piece of work until the returned guard is dropped (also when its task is cancelled).
    pub fn enter(&self) -> Entered {
        self.begun();
        Entered(self.clone())
    }

    pub fn open(&self) -> u64 {
        self.0.open.load(Ordering::Acquire)
    }

    /// Returns once everything begun so far has ended (at once when nothing is open).
    pub async fn none_left(&self) {
        loop {
            let notified = self.0.none_left.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One counted piece of work; ends when dropped.
pub struct Entered(InFlight);

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.ended(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    fn pending(f: std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
        f.poll(&mut Context::from_waker(Waker::noop())).is_pending()
    }

    #[test]
    fn none_left_waits_for_every_piece_begun_and_guards_end_theirs() {
        let work = InFlight::default();
        assert!(!pending(pin!(work.none_left())), "nothing open at first");
        work.begun();
        work.begun();
        let guard = work.enter();
        let mut waiter = pin!(work.none_left());
        assert!(pending(waiter.as_mut()), "three open");
        work.ended(2);
        assert!(pending(waiter.as_mut()), "one still open");
        drop(guard);
        assert_eq!(work.open(), 0);
        assert!(!pending(waiter.as_mut()), "woken at zero");
    }
}
