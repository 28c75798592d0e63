//! Channel tests and half-open probes. A test is one small non-streaming request run by a relay (see
//! `grpc::jobs`). The prober re-tests what was disabled automatically once its back-off has passed: a pass
//! re-enables it, a failure doubles the back-off.

use std::time::Duration;

use crate::db::channels::ChannelRow;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::grpc::jobs::{JobKind, JobOutcome};
use crate::health::HealthChange;
use crate::routing::{ALL_KEYS_DISABLED_REASON, RoutableChannel, key_digest};
use crate::state::AppState;

/// The model a test uses: the one asked for, else the channel's test model, else its first model.
pub fn test_model(row: &ChannelRow, asked: Option<&str>) -> String {
    asked
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .or_else(|| Some(row.test_model.trim().to_string()).filter(|m| !m.is_empty()))
        .or_else(|| crate::routing::split_list(&row.models).into_iter().next())
        .unwrap_or_else(|| "gpt-4o-mini".to_string())
}

/// Tests one key of a channel (the first usable one when `slot` is `None`) and records the latency.
pub async fn test_channel(
    state: &AppState,
    row: &ChannelRow,
    slot: Option<usize>,
    model: &str,
) -> Result<JobOutcome, ControlError> {
    let channel = RoutableChannel::from_row(row, state.cipher())?;
    let slot = match slot {
        Some(s) => s,
        None => first_usable_slot(state, &channel).await?,
    };
    if slot >= channel.keys.len() {
        return Err(ControlError::BadRequest(format!("channel {} has no key {slot}", row.id)));
    }
    let outcome = state.jobs().run(&channel, slot, model, JobKind::Test { model: model.to_string() }).await?;
    if outcome.ok {
        db::channel_health::record_test(state.db(), row.id, outcome.latency_ms).await?;
    }
    Ok(outcome)
}

/// The first key not disabled, or the first key when all are.
async fn first_usable_slot(state: &AppState, channel: &RoutableChannel) -> Result<usize, ControlError> {
    let health = db::channel_keys::for_channel(state.db(), channel.id).await?;
    let disabled = |k: &str| health.iter().any(|h| h.key_digest == key_digest(k) && h.status != 1);
    Ok(channel.keys.iter().position(|k| !disabled(k)).unwrap_or(0))
}

/// Runs the probe loop until control shuts down.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    let tasks = state.tasks().clone();
    tasks.spawn(async move {
        loop {
            // One cheap query a second finds what is due; the back-off itself lives in the rows.
            tokio::select! {
                _ = state.shutdown().cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = probe_due(&state).await {
                tracing::warn!(error = %e, "health probes failed to run");
            }
        }
    })
}

/// Probes every channel and key whose back-off has passed.
pub async fn probe_due(state: &AppState) -> Result<(), ControlError> {
    let now = now_secs();
    let policy = state.policy().clone();
    let mut changed = false;
    let mut notices = Vec::new();
    for (row, backoff) in db::channel_health::due_for_probe(state.db(), now).await? {
        if row.status_reason == ALL_KEYS_DISABLED_REASON {
            continue; // comes back with its keys
        }
        let model = test_model(&row, None);
        let passed = test_channel(state, &row, None, &model).await.map(|o| o.ok).unwrap_or(false);
        if passed && policy.auto_enable {
            if db::channel_health::enable_recovered(state.db(), row.id).await? {
                changed = true;
                notices.push(enabled(&row, None));
            }
            tracing::info!(channel = row.id, "channel passed its probe and is enabled again");
        } else {
            db::channel_health::reschedule(state.db(), row.id, policy.next_backoff(backoff)).await?;
        }
    }
    for key in db::channel_keys::due_for_probe(state.db(), now).await? {
        let Some(row) = db::channels::find_by_id(state.db(), key.channel_id).await? else { continue };
        let channel = RoutableChannel::from_row(&row, state.cipher())?;
        let Some(slot) = channel.keys.iter().position(|k| key_digest(k) == key.key_digest) else { continue };
        let model = test_model(&row, None);
        let passed = test_channel(state, &row, Some(slot), &model).await.map(|o| o.ok).unwrap_or(false);
        if passed && policy.auto_enable {
            db::channel_keys::set_status(state.db(), key.channel_id, &key.key_digest, 1, "").await?;
            notices.push(enabled(&row, Some(slot as i32)));
            if row.status == 3
                && row.status_reason == ALL_KEYS_DISABLED_REASON
                && db::channel_health::enable_recovered(state.db(), row.id).await?
            {
                notices.push(enabled(&row, None));
            }
            changed = true;
            tracing::info!(channel = row.id, slot, "channel key passed its probe and is enabled again");
        } else {
            let backoff = policy.next_backoff(key.backoff_secs);
            db::channel_keys::reschedule(state.db(), key.channel_id, &key.key_digest, backoff).await?;
        }
    }
    crate::notify::channel_notice::send(state, &notices);
    if changed {
        state.reload_channels().await?;
    }
    Ok(())
}

/// Root's notice that a channel (or one of its keys) is enabled again.
fn enabled(row: &ChannelRow, key_slot: Option<i32>) -> HealthChange {
    HealthChange {
        channel_id: row.id,
        channel_name: row.name.clone(),
        key_slot,
        disabled: false,
        reason: String::new(),
    }
}

/// Veloera's "test all channels": every channel not disabled by hand is tested; a failing or too slow channel
/// is disabled (when it may be), a passing auto-disabled one is enabled again (when allowed).
pub async fn test_all(state: &AppState) -> Result<(), ControlError> {
    let policy = state.policy().clone();
    let mut changed = false;
    let mut notices = Vec::new();
    for row in db::channels::list(state.db()).await?.into_iter().filter(|r| r.status != 2) {
        let model = test_model(&row, None);
        let outcome = test_channel(state, &row, None, &model).await;
        let failure = match &outcome {
            Ok(o) if o.ok && policy.slow_test_secs > 0.0 && o.latency_ms as f64 > policy.slow_test_secs * 1000.0 => {
                Some(format!("the test took {} ms, over the {} s threshold", o.latency_ms, policy.slow_test_secs))
            }
            Ok(o) if o.ok => None,
            Ok(o) => match super::classify(&policy, o.status_code, &o.message) {
                super::Fault::Request => None,
                _ => Some(format!("test failed: {}", o.message.chars().take(300).collect::<String>())),
            },
            Err(e) => {
                tracing::warn!(channel = row.id, error = %e, "channel test could not run");
                continue;
            }
        };
        let change = match failure {
            Some(reason) if policy.auto_disable && row.status == 1 => {
                let disabled =
                    db::channel_health::disable_failed(state.db(), row.id, &reason, policy.probe_initial_secs).await?;
                let channel_name = row.name.clone();
                disabled.then_some(HealthChange { channel_id: row.id, channel_name, key_slot: None, disabled, reason })
            }
            None if row.status == 3 && policy.auto_enable && row.status_reason != ALL_KEYS_DISABLED_REASON => {
                db::channel_health::enable_recovered(state.db(), row.id).await?.then(|| enabled(&row, None))
            }
            _ => None,
        };
        if let Some(change) = change {
            changed = true;
            notices.push(change);
        }
    }
    crate::notify::channel_notice::send(state, &notices);
    if changed {
        state.reload_channels().await?;
    }
    Ok(())
}

/// Reads the balance of every enabled channel whose type has a balance API; failures are logged.
pub async fn update_balances(state: &AppState) -> Result<usize, ControlError> {
    let mut updated = 0;
    for row in db::channels::list(state.db()).await?.into_iter().filter(|r| r.status == 1) {
        match update_balance(state, &row).await {
            Ok(_) => updated += 1,
            Err(e) => tracing::debug!(channel = row.id, error = %e, "channel balance not updated"),
        }
    }
    Ok(updated)
}

/// Reads one channel's balance (USD) and records it.
pub async fn update_balance(state: &AppState, row: &ChannelRow) -> Result<f64, ControlError> {
    let channel = RoutableChannel::from_row(row, state.cipher())?;
    let slot = first_usable_slot(state, &channel).await?;
    let model = test_model(row, None);
    let outcome = state.jobs().run(&channel, slot, &model, JobKind::Balance).await?;
    if !outcome.ok {
        return Err(ControlError::BadRequest(format!("the upstream refused the balance query: {}", outcome.message)));
    }
    db::channel_health::record_balance(state.db(), row.id, outcome.balance).await?;
    Ok(outcome.balance)
}

/// Runs `task` every `every` until control shuts down (Veloera's `CHANNEL_TEST_FREQUENCY` and
/// `CHANNEL_UPDATE_FREQUENCY`).
pub fn every<F, Fut>(state: AppState, every: Duration, name: &'static str, task: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ControlError>> + Send,
{
    let tasks = state.tasks().clone();
    tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = state.shutdown().cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = task(state.clone()).await {
                tracing::warn!(task = name, error = %e, "periodic channel task failed");
            }
        }
    })
}
