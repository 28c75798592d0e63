//! `WatchUsage`: settled requests (consume log rows) after a cursor, then live ones, oldest first.
//!
//! Every event comes from the logs table, read in id order, and the cursor is the row's id; a reconnecting client
//! that sends its last cursor therefore gets exactly the rows after it: no gap and no repeat across the switch
//! from stored to live rows, because there is no switch (live rows are simply the next reads, woken by each
//! committed usage batch). The one hazard is a row id handed out to a transaction that commits after a later id:
//! PostgreSQL and MySQL allow that. So the stream reads every row, of every user and type, and when ids skip it
//! waits up to [`HOLE_GRACE`] for the hole to fill before going past it (a rolled-back transaction leaves a hole
//! for ever). Holes before rows older than [`RECENT_SECS`] (deleted old logs) are passed at once.
//!
//! The caller's deadline (`grpc-timeout`) ends the stream with DEADLINE_EXCEEDED: tonic applies it to a call's
//! first answer only, so a stream checks it itself.

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
    /// When the caller's deadline passes.
    deadline: Option<tokio::time::Instant>,
    failed: bool,
}

/// Starts a stream for `actor`: its own events, or (administrators) everyone's or one user's.
pub async fn follow(
    state: &AppState,
    actor: &UserRow,
    r: WatchUsageRequest,
    timeout: Option<Duration>,
) -> Result<UsageStream, Status> {
    let scope = access::log_scope(actor, r.user_id, false)?;
    if r.cursor < -1 {
        return Err(invalid("cursor", "cursor must be a cursor received, 0 (from the start) or -1 (live only)"));
    }
    // Subscribed before the first read, so a batch committed in between still wakes the stream.
    let wake = state.watch_usage();
    let scanned = if r.cursor == -1 { db::logs::last_id(state.db()).await? } else { r.cursor };
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let follow = Follow {
        state: state.clone(),
        scope,
        scanned,
        ready: VecDeque::new(),
        wake,
        hole: None,
        deadline,
        failed: false,
    };
    let shutdown = state.shutdown().clone();
    let events = futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.ready.pop_front() {
                return Some((Ok(event), f));
            }
            if f.failed {
                return None;
            }
            if f.deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                f.failed = true;
                return Some((Err(Status::deadline_exceeded("the call's deadline passed")), f));
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
        let mut poll = if self.hole.is_some() { HOLE_POLL } else { IDLE_POLL };
        if let Some(deadline) = self.deadline {
            poll = poll.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        }
        let _ = tokio::time::timeout(poll, self.wake.changed()).await;
    }
}

/// The `grpc-timeout` a call carries: at most 8 digits and a unit (H, M, S, m, u, n), as the gRPC HTTP/2 protocol
/// spells it. An unreadable value counts as none, as tonic treats it.
pub fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout_of(value: &str) -> Option<Duration> {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("grpc-timeout", value.parse().ok()?);
        grpc_timeout(&metadata)
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit_and_bad_ones_are_none() {
        assert_eq!(timeout_of("300m"), Some(Duration::from_millis(300)));
        assert_eq!(timeout_of("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout_of("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout_of("5u"), Some(Duration::from_micros(5)));
        assert_eq!(timeout_of("m"), None);
        assert_eq!(timeout_of("123456789S"), None);
        assert_eq!(timeout_of("10x"), None);
    }
}
