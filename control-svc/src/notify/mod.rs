//! Notices to users: quota warnings, and to root the automatic disabling and re-enabling of channels and keys.
//! Each user's settings (`PUT /api/user/setting`) choose the way: mail to `notification_email` (else the
//! account's address) or a signed webhook. Delivery runs in tracked background tasks, after the change that
//! caused it has committed, so billing never waits for a mail server or a receiver; each delivery is logged
//! (server log, and a system row in the user's log).
//!
//! Layout: `egress` is the one client for user-chosen URLs, `webhook` signs and retries, `quota_warning` and
//! `channel_notice` say what the notices read.

pub mod channel_notice;
pub mod egress;
pub mod quota_warning;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use veloera_proto::in_flight::InFlight;

use crate::accounts::mail::{self, Mail};
use crate::db;
use crate::error::ControlError;
use crate::state::AppState;
use egress::{EgressClient, EgressPolicy};

/// Deliveries in flight at once; more wait for a permit (in their own task, never in the caller's).
const CONCURRENT_DELIVERIES: usize = 16;

/// Veloera's `NOTIFY_LIMIT_COUNT` (2): notices about one subject per hour, so a flapping channel cannot flood root.
const NOTICES_PER_HOUR: u32 = 2;

/// One notice, in Veloera's shape (`dto.Notify`): `kind` is `quota_exceed` or `channel_update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Random, the same on every delivery attempt.
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    /// The text with its values filled in.
    pub content: String,
    /// The values the text was built from, for webhook receivers.
    pub values: Vec<String>,
}

impl Notice {
    pub fn new(kind: &'static str, title: String, content: String, values: Vec<String>) -> Self {
        let id = hex::encode(rand::random::<[u8; 12]>());
        Notice { id, kind, title, content, values }
    }
}

/// How a user wants notices, read from `users.setting` field by field (a malformed field takes its default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preferences {
    /// `notify_type`: `webhook`, else mail (Veloera's default).
    pub webhook: bool,
    /// `quota_warning_threshold`; 0 (unset) means the site's `QuotaRemindThreshold`.
    pub quota_warning_threshold: i64,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub notification_email: String,
    /// `accept_unset_model_ratio_model`: may use models without a price, at the unset-model price.
    pub accept_unset_models: bool,
}

impl Preferences {
    pub fn parse(setting: &str) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(setting) else {
            return Preferences::default();
        };
        let text = |k: &str| map.get(k).and_then(|v| v.as_str()).unwrap_or_default().trim().to_string();
        Preferences {
            webhook: text("notify_type") == "webhook",
            quota_warning_threshold: map
                .get("quota_warning_threshold")
                .and_then(|v| v.as_f64())
                .filter(|t| t.is_finite() && *t > 0.0)
                .map_or(0, |t| t.min(i64::MAX as f64) as i64),
            webhook_url: text("webhook_url"),
            webhook_secret: map.get("webhook_secret").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            notification_email: text("notification_email"),
            accept_unset_models: map.get("accept_unset_model_ratio_model").and_then(|v| v.as_bool()) == Some(true),
        }
    }
}

/// The delivery machinery: the egress client and the tracked tasks.
pub struct Notifier {
    egress: EgressClient,
    tracker: TaskTracker,
    permits: Arc<Semaphore>,
    backoff: Vec<Duration>,
    /// Per subject: (hour, notices sent in it). Per control instance.
    hourly: Mutex<HashMap<String, (i64, u32)>>,
    /// Notices taken and not yet delivered or given up.
    under_way: InFlight,
}

impl Notifier {
    pub fn new(policy: EgressPolicy) -> Result<Self, ControlError> {
        Ok(Notifier {
            egress: EgressClient::new(policy)?,
            tracker: TaskTracker::new(),
            permits: Arc::new(Semaphore::new(CONCURRENT_DELIVERIES)),
            backoff: webhook::BACKOFF.to_vec(),
            hourly: Mutex::new(HashMap::new()),
            under_way: InFlight::default(),
        })
    }

    /// Whether another notice about `subject` may go out in the hour of `now` (Unix seconds); counts it if so.
    pub fn allow(&self, subject: &str, now: i64) -> bool {
        let hour = now.div_euclid(3600);
        let mut hourly = self.hourly.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if hourly.len() > 10_000 {
            hourly.retain(|_, (h, _)| *h == hour);
        }
        let entry = hourly.entry(subject.to_string()).or_insert((hour, 0));
        if entry.0 != hour {
            *entry = (hour, 0);
        }
        entry.1 += 1;
        entry.1 <= NOTICES_PER_HOUR
    }

    pub fn egress(&self) -> &EgressClient {
        &self.egress
    }

    /// Notices taken and not yet delivered or given up (tests wait for none left instead of sleeping).
    pub fn under_way(&self) -> &InFlight {
        &self.under_way
    }

    /// Stops taking notices and waits up to `grace` for those under way (their retries end at shutdown).
    pub async fn drain(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            tracing::warn!(pending = self.tracker.len(), "notices still being delivered at shutdown were dropped");
        }
    }
}

/// Sends `notice` to `user_id` the way their settings say, in a background task.
pub fn send(state: &AppState, user_id: i64, notice: Notice) {
    let notifier = state.notifier();
    if notifier.tracker.is_closed() {
        tracing::warn!(user = user_id, title = %notice.title, "control is shutting down; notice not sent");
        return;
    }
    let permits = notifier.permits.clone();
    let task_state = state.clone();
    let under_way = notifier.under_way.enter();
    notifier.tracker.spawn(async move {
        let _under_way = under_way;
        let Ok(_permit) = permits.acquire_owned().await else { return };
        if let Err(e) = deliver(&task_state, user_id, &notice).await {
            tracing::warn!(user = user_id, title = %notice.title, error = %e, "notice could not be delivered");
        }
    });
}

/// Sends `notice` to the root user (the first one), as Veloera's `NotifyRootUser`.
pub fn send_to_root(state: &AppState, notice: Notice) {
    let task_state = state.clone();
    let notifier = state.notifier();
    if notifier.tracker.is_closed() {
        return;
    }
    // Held until `send` has counted the notice itself.
    let under_way = notifier.under_way.enter();
    notifier.tracker.spawn(async move {
        let _under_way = under_way;
        match db::notices::root_id(task_state.db()).await {
            Ok(Some(root)) => send(&task_state, root, notice),
            Ok(None) => tracing::warn!(title = %notice.title, "no root user to notify"),
            Err(e) => tracing::warn!(title = %notice.title, error = %e, "cannot find the root user to notify"),
        }
    });
}

/// Delivers one notice and records how it went.
async fn deliver(state: &AppState, user_id: i64, notice: &Notice) -> Result<(), ControlError> {
    let Some(user) = db::notices::recipient(state.db(), user_id).await? else { return Ok(()) };
    let prefs = Preferences::parse(&user.setting);
    let (way, outcome) = if prefs.webhook {
        if prefs.webhook_url.is_empty() {
            tracing::warn!(user = user_id, "notify_type is webhook but no webhook_url is set; notice not sent");
            return Ok(());
        }
        let host = url::Url::parse(&prefs.webhook_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "an invalid address".into());
        let notifier = state.notifier();
        let delivery = webhook::deliver(
            &notifier.egress,
            &prefs.webhook_url,
            &prefs.webhook_secret,
            notice,
            &notifier.backoff,
            state.shutdown(),
        )
        .await;
        let tries = delivery.attempts;
        let outcome = match delivery.result {
            Ok(status) => Ok(format!("HTTP {status}, attempt {tries}")),
            Err(why) => Err(format!("{why} (after {tries} attempt{})", if tries == 1 { "" } else { "s" })),
        };
        (format!("webhook {host}"), outcome)
    } else {
        let to = if prefs.notification_email.is_empty() { user.email.clone() } else { prefs.notification_email };
        if to.is_empty() {
            tracing::debug!(user = user_id, "no email address to send the notice to");
            return Ok(());
        }
        let settings = state.accounts();
        if !settings.smtp.configured() {
            tracing::debug!(user = user_id, "no mail server configured; notice not sent by mail");
            return Ok(());
        }
        let subject = format!("{} - {}", settings.system_name, notice.title);
        let outcome = mail::send(&settings.smtp, &Mail { to: &to, subject: &subject, body: &notice.content })
            .await
            .map(|()| "accepted by the mail server".to_string())
            .map_err(|e| e.to_string());
        (format!("email {to}"), outcome)
    };
    let line = match &outcome {
        Ok(how) => {
            tracing::info!(user = user_id, kind = notice.kind, to = %way, result = %how, "notice delivered");
            format!("Notice \"{}\" sent by {way}: {how}", notice.title)
        }
        Err(why) => {
            tracing::warn!(user = user_id, kind = notice.kind, to = %way, error = %why, "notice not delivered");
            format!("Notice \"{}\" NOT delivered by {way}: {why}", notice.title)
        }
    };
    db::notices::record_delivery(state.db(), user_id, &line).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notices_about_one_subject_are_limited_per_hour() {
        let n = Notifier::new(EgressPolicy::default()).unwrap();
        let hour = 1_700_000_000 / 3600 * 3600;
        assert!(n.allow("channel 1 disabled", hour));
        assert!(n.allow("channel 1 disabled", hour + 10));
        assert!(!n.allow("channel 1 disabled", hour + 20), "a third in the same hour");
        assert!(n.allow("channel 2 disabled", hour + 20), "another subject");
        assert!(n.allow("channel 1 disabled", hour + 3600), "the next hour");
    }

    #[test]
    fn preferences_default_to_mail_at_the_site_threshold() {
        assert_eq!(Preferences::parse(""), Preferences::default());
        assert_eq!(
            Preferences::parse(r#"{"notify_type":"email","quota_warning_threshold":0}"#),
            Preferences::default()
        );
        let p = Preferences::parse(
            r#"{"notify_type":"webhook","quota_warning_threshold":5000.7,"webhook_url":"https://h.example/x",
                "webhook_secret":"s","accept_unset_model_ratio_model":true,"show_ip_in_logs":true}"#,
        );
        assert!(p.webhook && p.accept_unset_models);
        assert_eq!(
            (p.quota_warning_threshold, p.webhook_url.as_str(), p.webhook_secret.as_str()),
            (5000, "https://h.example/x", "s")
        );
        // A field of the wrong type takes its default; the others still count.
        let p = Preferences::parse(r#"{"quota_warning_threshold":"lots","accept_unset_model_ratio_model":true}"#);
        assert_eq!((p.quota_warning_threshold, p.accept_unset_models), (0, true));
    }
}
