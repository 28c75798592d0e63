//! The settings relays apply to requests themselves (`RelaySettings`), built from the options table and sent
//! whole with every `WatchConfig` reset and options change: blocked words, rate limits and chat-content logging.

use std::collections::HashMap;

use serde::Deserialize;
use veloera_proto::v1::{ModelRateLimit, RelaySettings};

/// Option names and their defaults (Veloera's names; `CheckSensitiveOnCompletionEnabled` is ours).
pub const SENSITIVE_WORDS: &str = "SensitiveWords";
const CHECK_ENABLED: (&str, bool) = ("CheckSensitiveEnabled", true);
const CHECK_PROMPT: (&str, bool) = ("CheckSensitiveOnPromptEnabled", true);
const CHECK_COMPLETION: (&str, bool) = ("CheckSensitiveOnCompletionEnabled", false);
const EXEMPT_ENABLED: (&str, bool) = ("SafeCheckExemptEnabled", false);
const EXEMPT_GROUP: &str = "SafeCheckExemptGroup";

/// Option holding the per-model limits: `{"<model>": {"rpm": N, "tpm": N, "concurrency": N}}` (0 or absent = no
/// limit).
pub const MODEL_RATE_LIMITS: &str = "ModelRateLimits";

/// Chat-content logging: whether prompts and answers are recorded, and how many bytes of each are kept.
pub const LOG_CONTENT_ENABLED: &str = "LogChatContentEnabled";
pub const LOG_CONTENT_MAX_BYTES: &str = "LogContentMaxBytes";
/// The default cut, and the most the settings API accepts (`settings::keys`): a usage batch carries many
/// records and a log insert many rows, so one request's content stays small (2 × 64 KiB at most).
pub const LOG_CONTENT_DEFAULT_BYTES: u32 = 16 * 1024;
pub const LOG_CONTENT_MOST_BYTES: u32 = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelLimitOption {
    #[serde(default)]
    rpm: i64,
    #[serde(default)]
    tpm: i64,
    #[serde(default)]
    concurrency: i64,
}

/// Builds the relay settings from `options`; a malformed rate-limit value is an error naming the option.
pub fn from_options(options: &HashMap<String, String>) -> Result<RelaySettings, String> {
    let flag = |(name, default): (&str, bool)| crate::settings::snapshot::flag(options, name, default);
    let text = |name: &str| options.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
    let checking = flag(CHECK_ENABLED);
    let mut settings = RelaySettings {
        blocked_words: text(SENSITIVE_WORDS),
        check_prompt: checking && flag(CHECK_PROMPT),
        check_completion: checking && flag(CHECK_COMPLETION),
        exempt_group: if flag(EXEMPT_ENABLED) { text(EXEMPT_GROUP) } else { String::new() },
        ..RelaySettings::default()
    };
    rate_limits(options, &mut settings)?;
    settings.log_chat_content_enabled = flag((LOG_CONTENT_ENABLED, false));
    settings.log_content_max_bytes = options
        .get(LOG_CONTENT_MAX_BYTES)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| match v.parse::<u32>() {
            Ok(n) if (1..=LOG_CONTENT_MOST_BYTES).contains(&n) => Ok(n),
            _ => Err(format!(
                "option {LOG_CONTENT_MAX_BYTES}: {v:?} is not a whole number from 1 to {LOG_CONTENT_MOST_BYTES}"
            )),
        })
        .transpose()?
        .unwrap_or(LOG_CONTENT_DEFAULT_BYTES);
    Ok(settings)
}

/// The per-user (`ModelRequestRateLimit*`), per-model (`ModelRateLimits`) and token-exemption
/// (`global.rate_limit_exempt_*`) settings.
fn rate_limits(options: &HashMap<String, String>, settings: &mut RelaySettings) -> Result<(), String> {
    let get = |name: &str| options.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let flag = |name: &str, default: bool| match get(name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("option {name}: {v:?} is not true or false")),
    };
    let number = |name: &str, default: i64| match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("option {name}: {v:?} is not a whole number of at least 0")),
    };
    // Veloera's defaults: off, 1 minute, no total limit, 1000 successful requests.
    let period = number("ModelRequestRateLimitDurationMinutes", 1)?.saturating_mul(60);
    settings.user_rate_limit_enabled = flag("ModelRequestRateLimitEnabled", false)? && period > 0;
    settings.user_rate_limit_count = number("ModelRequestRateLimitCount", 0)?;
    settings.user_rate_limit_success = number("ModelRequestRateLimitSuccessCount", 1000)?;
    settings.user_rate_limit_period_secs = period;
    if let Some(text) = get(MODEL_RATE_LIMITS) {
        let parsed: HashMap<String, ModelLimitOption> = serde_json::from_str(text).map_err(|e| {
            format!("option {MODEL_RATE_LIMITS}: {e} (expected {{\"<model>\": {{\"rpm\": N, \"tpm\": N, \"concurrency\": N}}}})")
        })?;
        for (model, l) in parsed {
            if l.rpm < 0 || l.tpm < 0 || l.concurrency < 0 {
                return Err(format!("option {MODEL_RATE_LIMITS}: the limits of {model:?} must not be negative"));
            }
            if l.rpm + l.tpm + l.concurrency > 0 {
                let limit = ModelRateLimit { rpm: l.rpm, tpm: l.tpm, concurrency: l.concurrency };
                settings.model_rate_limits.insert(model, limit);
            }
        }
    }
    if flag("global.rate_limit_exempt_enabled", false)? {
        settings.rate_limit_exempt_group = get("global.rate_limit_exempt_group").unwrap_or("bulk-ok").to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn prompts_are_checked_by_default_and_answers_only_when_asked() {
        let s = from_options(&options(&[("SensitiveWords", "bad\n")])).unwrap();
        assert_eq!((s.blocked_words.as_str(), s.check_prompt, s.check_completion), ("bad", true, false));
        let s = from_options(&options(&[("CheckSensitiveOnCompletionEnabled", "true")])).unwrap();
        assert!(s.check_completion);
        let s = from_options(&options(&[
            ("CheckSensitiveEnabled", "false"),
            ("CheckSensitiveOnCompletionEnabled", "true"),
        ]))
        .unwrap();
        assert!(!s.check_prompt && !s.check_completion);
    }

    #[test]
    fn the_exempt_group_applies_only_when_enabled() {
        assert_eq!(from_options(&options(&[("SafeCheckExemptGroup", "vip")])).unwrap().exempt_group, "");
        let on = options(&[("SafeCheckExemptGroup", "vip"), ("SafeCheckExemptEnabled", "true")]);
        assert_eq!(from_options(&on).unwrap().exempt_group, "vip");
    }

    #[test]
    fn nothing_is_rate_limited_by_default() {
        let s = from_options(&HashMap::new()).unwrap();
        assert!(!s.user_rate_limit_enabled);
        assert!(s.model_rate_limits.is_empty());
        assert!(s.rate_limit_exempt_group.is_empty());
    }

    #[test]
    fn user_and_model_limits_are_read_with_veloeras_names() {
        let s = from_options(&options(&[
            ("ModelRequestRateLimitEnabled", "true"),
            ("ModelRequestRateLimitCount", "30"),
            ("ModelRequestRateLimitSuccessCount", "20"),
            ("ModelRequestRateLimitDurationMinutes", "2"),
            (MODEL_RATE_LIMITS, r#"{"gpt-4o": {"rpm": 5, "concurrency": 2}, "idle": {}}"#),
            ("global.rate_limit_exempt_enabled", "true"),
        ]))
        .unwrap();
        assert!(s.user_rate_limit_enabled);
        assert_eq!((s.user_rate_limit_count, s.user_rate_limit_success, s.user_rate_limit_period_secs), (30, 20, 120));
        assert_eq!(s.model_rate_limits["gpt-4o"], ModelRateLimit { rpm: 5, tpm: 0, concurrency: 2 });
        assert!(!s.model_rate_limits.contains_key("idle"));
        assert_eq!(s.rate_limit_exempt_group, "bulk-ok");
    }

    #[test]
    fn content_logging_is_off_by_default_and_keeps_16_kib_when_on() {
        let s = from_options(&HashMap::new()).unwrap();
        assert!(!s.log_chat_content_enabled);
        assert_eq!(s.log_content_max_bytes, LOG_CONTENT_DEFAULT_BYTES);
        let s = from_options(&options(&[(LOG_CONTENT_ENABLED, "true"), (LOG_CONTENT_MAX_BYTES, "100")])).unwrap();
        assert!(s.log_chat_content_enabled);
        assert_eq!(s.log_content_max_bytes, 100);
        let bad = from_options(&options(&[(LOG_CONTENT_MAX_BYTES, "0")])).unwrap_err();
        assert!(bad.contains(LOG_CONTENT_MAX_BYTES), "{bad}");
    }

    #[test]
    fn malformed_limits_name_their_option() {
        let bad = from_options(&options(&[(MODEL_RATE_LIMITS, r#"{"m": {"rpn": 5}}"#)])).unwrap_err();
        assert!(bad.contains(MODEL_RATE_LIMITS), "{bad}");
        let bad = from_options(&options(&[("ModelRequestRateLimitCount", "-1")])).unwrap_err();
        assert!(bad.contains("ModelRequestRateLimitCount"), "{bad}");
    }
}
