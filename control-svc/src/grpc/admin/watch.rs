//! `WatchUsage`: settled requests (consume log rows) after a cursor, then live ones, oldest first.
//!
//! Every event comes from the logs table, read in id order, and the cursor is the row's id; a reconnecting client
//! that sends its last cursor therefore gets exactly the rows after it: no gap and no repeat across the switch
//! from stored to live rows, because there is no switch (live rows are simply the next reads, woken by each
//! committed usage batch). The one hazard is a row id handed out to a transaction that commits after a later id:
//! PostgreSQL and MySQL allow that. So the stream reads every row, of every user and type, and when ids skip it
//! waits up to [`HOLE_GRACE`] for the hole to fill before going past it (a rolled-back transaction leaves a hole
//! for ever). Holes before rows older than [`RECENT_SECS`] (deleted old logs) are passed at once.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tonic::Status;
use veloera_admin_types::log_type;
use veloera_proto::admin_v1::{UsageEvent, WatchUsageRequest};

use super::errors::invalid;
use super::usage::entry;
use crate::access::{self, LogScope};
use crate::db::{self, now_secs, users::UserRow};
use crate::state::AppState;

/// The stream `WatchUsage` answers with.
pub type UsageStream = Pin<Box<dyn Stream<Item = Result<UsageEvent, Status>> + Send + 'static>>;

/// Rows read per query.
const BATCH: i64 = 200;
/// How long a hole in the ids is waited for.
const HOLE_GRACE: Duration = Duration::from_secs(2);
/// Only a hole before a row this recent (seconds) can be a transaction still in flight.
const RECENT_SECS: i64 = 120;
/// How often the table is read without a wake-up (usage settled by another control instance).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often the table is read while a hole is waited for.
const HOLE_POLL: Duration = Duration::from_millis(100);

/// Where one stream stands.
struct Follow {
    state: AppState,
    scope: LogScope,
    /// Every row up to this id has been looked at.
    scanned: i64,
    ready: VecDeque<UsageEvent>,
    wake: watch::Receiver<u64>,
    /// The id after which ids skip, and since when.
    hole: Option<(i64, Instant)>,
    failed: bool,
}

/// Starts a stream for `actor`: its own events, or (administrators) everyone's or one user's.
pub async fn follow(state: &AppState, actor: &UserRow, r: WatchUsageRequest) -> Result<UsageStream, Status> {
    let scope = access::log_scope(actor, r.user_id, false)?;
    if r.cursor < -1 {
        return Err(invalid("cursor", "cursor must be a cursor received, 0 (from the start) or -1 (live only)"));
    }
    // Subscribed before the first read, so a batch committed in between still wakes the stream.
    let wake = state.watch_usage();
    let scanned = if r.cursor == -1 { db::logs::last_id(state.db()).await? } else { r.cursor };
    let follow =
        Follow { state: state.clone(), scope, scanned, ready: VecDeque::new(), wake, hole: None, failed: false };
    let shutdown = state.shutdown().clone();
    let events = futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.ready.pop_front() {
                return Some((Ok(event), f));
            }
            if f.failed {
                return None;
            }
            match f.read().await {
                Ok(true) => {}
                Ok(false) => f.wait().await,
                Err(status) => {
                    f.failed = true;
                    return Some((Err(status), f));
                }
            }
        }
    });
    Ok(Box::pin(events.take_until(shutdown.cancelled_owned())))
}

impl Follow {
    /// Reads the rows after `scanned`; whether it moved on.
    async fn read(&mut self) -> Result<bool, Status> {
        let rows = db::logs::after(self.state.db(), self.scanned, BATCH).await?;
        let now = now_secs();
        let mut moved = false;
        for row in rows {
            if row.id != self.scanned + 1 && row.created_at >= now - RECENT_SECS {
                let since = match self.hole {
                    Some((after, since)) if after == self.scanned => since,
                    _ => {
                        let since = Instant::now();
                        self.hole = Some((self.scanned, since));
                        since
                    }
                };
                if since.elapsed() < HOLE_GRACE {
                    break;
                }
            }
            self.hole = None;
            self.scanned = row.id;
            moved = true;
            let theirs = self.scope.user_id().is_none_or(|user| user == row.user_id);
            if row.log_type == log_type::CONSUME as i64 && theirs {
                self.ready.push_back(UsageEvent { cursor: row.id, entry: Some(entry(&row, self.scope)) });
            }
        }
        Ok(moved)
    }

    /// Waits for the next committed batch, or a poll interval.
    async fn wait(&mut self) {
        let poll = if self.hole.is_some() { HOLE_POLL } else { IDLE_POLL };
        let _ = tokio::time::timeout(poll, self.wake.changed()).await;
    }
}
