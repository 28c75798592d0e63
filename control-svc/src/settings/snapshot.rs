//! The options table parsed once per change into one typed snapshot: prices, the health policy, the settings
//! relays apply, the log switches, the quota warning threshold, sign-up and sign-in, check-in, the invitation
//! rebate and the site's look. Every reader takes its part from the snapshot `AppState` holds, which is swapped
//! whole when an option is saved.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use veloera_proto::v1::RelaySettings;

use super::{Kind, lookup};
use crate::accounts::AccountSettings;
use crate::billing::PriceTable;
use crate::db::check_in::CheckInSettings;
use crate::health::Policy;
use crate::notify::quota_warning;
use crate::settlement::LogSwitches;

/// The options in force.
#[derive(Debug, Clone)]
pub struct Options {
    pub prices: PriceTable,
    pub policy: Policy,
    /// What relays apply to requests themselves (sent whole with every `WatchConfig` reset and change).
    pub relay: RelaySettings,
    pub logs: LogSwitches,
    /// `QuotaRemindThreshold` (default 1000): the quota warning threshold of users who set none; 0 for none.
    pub quota_remind_threshold: i64,
    /// Sign-up, sign-in, OAuth and mail (shared: it holds the OAuth and SMTP secrets once).
    pub accounts: Arc<AccountSettings>,
    pub check_in: CheckInSettings,
    /// `RebatePercentage` while `RebateEnabled`: the percentage of an invitee's top-up paid to its inviter.
    pub rebate_percentage: Option<f64>,
    /// The `/api/status` fields the site's look and the UI's switches give (`admin::site`).
    pub site: Map<String, Value>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prices: PriceTable::default(),
            policy: Policy::default(),
            relay: RelaySettings::default(),
            logs: LogSwitches::default(),
            quota_remind_threshold: quota_warning::DEFAULT_SITE_THRESHOLD,
            accounts: Arc::new(AccountSettings::from_options(&HashMap::new())),
            check_in: CheckInSettings::default(),
            rebate_percentage: None,
            site: crate::admin::site::status_fields(&HashMap::new()),
        }
    }
}

/// Why the stored options cannot be used, naming the option.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OptionsError(String);

impl Options {
    /// Parses the stored options. A value a reader cannot use is an error naming its option (`/api/option/`
    /// dry-runs this before saving, so a saved value never breaks a reload).
    pub fn parse(stored: &HashMap<String, String>) -> Result<Options, OptionsError> {
        let values = checked_flags(stored);
        let remind = match values.get("QuotaRemindThreshold").map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => quota_warning::DEFAULT_SITE_THRESHOLD,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| OptionsError(format!("option QuotaRemindThreshold: {v:?} is not a whole number")))?,
        };
        Ok(Options {
            prices: PriceTable::from_options(&values).map_err(OptionsError)?,
            policy: Policy::from_options(&values).map_err(OptionsError)?,
            relay: crate::grpc::relay_settings::from_options(&values).map_err(OptionsError)?,
            logs: LogSwitches {
                consume: flag(&values, "LogConsumeEnabled", true),
                error: flag(&values, "LogErrorEnabled", false),
                content: flag(&values, "LogChatContentEnabled", false),
            },
            quota_remind_threshold: remind.max(0),
            accounts: Arc::new(AccountSettings::from_options(&values)),
            check_in: CheckInSettings::from_options(&values),
            rebate_percentage: rebate_percentage(&values),
            site: crate::admin::site::status_fields(&values),
        })
    }
}

/// The flag `key` of `options`: `true` or `false` as stored, `default` when unset.
pub fn flag(options: &HashMap<String, String>, key: &str, default: bool) -> bool {
    match options.get(key).map(|v| v.trim()) {
        Some("true") => true,
        Some("false") => false,
        _ => default,
    }
}

/// `RebatePercentage` when `RebateEnabled` is true and the percentage is in (0, 100]; a rebate switched on with
/// an unusable percentage pays nothing (logged).
fn rebate_percentage(options: &HashMap<String, String>) -> Option<f64> {
    if !flag(options, "RebateEnabled", false) {
        return None;
    }
    let percentage =
        options.get("RebatePercentage").and_then(|v| v.trim().parse::<f64>().ok()).filter(|p| *p > 0.0 && *p <= 100.0);
    if percentage.is_none() {
        tracing::warn!("RebateEnabled is true but RebatePercentage is not a number in (0, 100]: no rebate is paid");
    }
    percentage
}

/// The options with every registered flag that is neither `true` nor `false` left out (logged): Veloera's
/// booleans are those two words, `/api/option/` refuses anything else, so such a value was never saved
/// through it, and it means the default rather than "off".
fn checked_flags(stored: &HashMap<String, String>) -> HashMap<String, String> {
    let mut values = stored.clone();
    values.retain(|key, value| {
        let is_flag = lookup(key).is_some_and(|s| matches!(s.kind, Kind::Flag));
        let usable = !is_flag || value.trim().is_empty() || matches!(value.trim(), "true" | "false");
        if !usable {
            tracing::warn!(option = %key, value = %value, "a stored flag is neither true nor false; its default applies");
        }
        usable
    });
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_flag_that_is_neither_true_nor_false_keeps_its_default() {
        let options = Options::parse(&stored(&[("CheckSensitiveEnabled", "1"), ("LogConsumeEnabled", "yes")])).unwrap();
        assert!(options.logs.consume, "LogConsumeEnabled defaults to on");
        assert!(options.relay.check_prompt, "CheckSensitiveEnabled defaults to on");
        let off =
            Options::parse(&stored(&[("CheckSensitiveEnabled", "false"), ("LogConsumeEnabled", "false")])).unwrap();
        assert!(!off.logs.consume && !off.relay.check_prompt);
    }

    #[test]
    fn every_reader_takes_its_part_from_one_parse() {
        let options = Options::parse(&stored(&[
            ("RetryTimes", "1"),
            ("LogErrorEnabled", "true"),
            ("QuotaRemindThreshold", "50"),
            ("SelfUseModeEnabled", "true"),
        ]))
        .unwrap();
        assert_eq!(options.policy.retry_times, 1);
        assert!(options.logs.error);
        assert_eq!(options.quota_remind_threshold, 50);
        assert!(options.prices.lookup("mystery-model", "default").is_some());
        let accounts = Options::parse(&stored(&[
            ("RegisterEnabled", "false"),
            ("CheckInEnabled", "true"),
            ("CheckInQuota", "10"),
            ("RebateEnabled", "true"),
            ("RebatePercentage", "5"),
            ("Logo", "https://example.com/logo.png"),
        ]))
        .unwrap();
        assert!(!accounts.accounts.register_enabled);
        assert_eq!(accounts.check_in, CheckInSettings { enabled: true, min_quota: 10, max_quota: 0 });
        assert_eq!(accounts.rebate_percentage, Some(5.0));
        assert_eq!(accounts.site["logo"], "https://example.com/logo.png");
    }

    #[test]
    fn a_rebate_needs_its_switch_and_a_usable_percentage() {
        let rebate = |pairs: &[(&str, &str)]| Options::parse(&stored(pairs)).unwrap().rebate_percentage;
        assert_eq!(rebate(&[("RebatePercentage", "5")]), None, "off unless RebateEnabled");
        assert_eq!(rebate(&[("RebateEnabled", "true"), ("RebatePercentage", "150")]), None);
        assert_eq!(rebate(&[("RebateEnabled", "true"), ("RebatePercentage", "x")]), None);
        assert_eq!(rebate(&[("RebateEnabled", "true"), ("RebatePercentage", "12.5")]), Some(12.5));
    }

    #[test]
    fn a_value_a_reader_cannot_use_is_named() {
        let err = Options::parse(&stored(&[("RetryTimes", "many")])).unwrap_err();
        assert!(err.to_string().contains("RetryTimes"), "{err}");
        let err = Options::parse(&stored(&[("QuotaRemindThreshold", "lots")])).unwrap_err();
        assert!(err.to_string().contains("QuotaRemindThreshold"), "{err}");
    }
}
