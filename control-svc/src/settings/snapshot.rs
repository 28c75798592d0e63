//! The options table parsed once per change into one typed snapshot: prices, the health policy, the settings
//! relays apply, the log switches and the quota warning threshold. Every reader takes its part from the
//! snapshot `AppState` holds, which is swapped whole when an option is saved.

use std::collections::HashMap;

use veloera_proto::v1::RelaySettings;

use super::{Kind, lookup};
use crate::billing::PriceTable;
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prices: PriceTable::default(),
            policy: Policy::default(),
            relay: RelaySettings::default(),
            logs: LogSwitches::default(),
            quota_remind_threshold: quota_warning::DEFAULT_SITE_THRESHOLD,
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
    }

    #[test]
    fn a_value_a_reader_cannot_use_is_named() {
        let err = Options::parse(&stored(&[("RetryTimes", "many")])).unwrap_err();
        assert!(err.to_string().contains("RetryTimes"), "{err}");
        let err = Options::parse(&stored(&[("QuotaRemindThreshold", "lots")])).unwrap_err();
        assert!(err.to_string().contains("QuotaRemindThreshold"), "{err}");
    }
}
