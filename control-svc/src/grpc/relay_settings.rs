//! The options relays apply themselves, read from the options table into the `RelaySettings` message that
//! `WatchConfig` sends with every `Reset` and `OptionsChanged`.

use std::collections::HashMap;

use serde::Deserialize;
use veloera_proto::v1::{ModelRateLimit, RelaySettings};

/// Option holding the per-model limits: `{"<model>": {"rpm": N, "tpm": N, "concurrency": N}}` (0 or absent = no
/// limit).
pub const MODEL_RATE_LIMITS: &str = "ModelRateLimits";

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

/// Builds the relay settings from `options`; a malformed value is an error naming the option.
pub fn from_options(options: &HashMap<String, String>) -> Result<RelaySettings, String> {
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
    let user_rate_limit_period_secs = number("ModelRequestRateLimitDurationMinutes", 1)?.saturating_mul(60);
    let mut model_rate_limits = HashMap::new();
    if let Some(text) = get(MODEL_RATE_LIMITS) {
        let parsed: HashMap<String, ModelLimitOption> = serde_json::from_str(text).map_err(|e| {
            format!("option {MODEL_RATE_LIMITS}: {e} (expected {{\"<model>\": {{\"rpm\": N, \"tpm\": N, \"concurrency\": N}}}})")
        })?;
        for (model, l) in parsed {
            if l.rpm < 0 || l.tpm < 0 || l.concurrency < 0 {
                return Err(format!("option {MODEL_RATE_LIMITS}: the limits of {model:?} must not be negative"));
            }
            if l.rpm + l.tpm + l.concurrency > 0 {
                model_rate_limits.insert(model, ModelRateLimit { rpm: l.rpm, tpm: l.tpm, concurrency: l.concurrency });
            }
        }
    }
    let exempt = flag("global.rate_limit_exempt_enabled", false)?;
    let exempt_group = get("global.rate_limit_exempt_group").unwrap_or("bulk-ok");
    Ok(RelaySettings {
        user_rate_limit_enabled: flag("ModelRequestRateLimitEnabled", false)? && user_rate_limit_period_secs > 0,
        user_rate_limit_count: number("ModelRequestRateLimitCount", 0)?,
        user_rate_limit_success: number("ModelRequestRateLimitSuccessCount", 1000)?,
        user_rate_limit_period_secs,
        model_rate_limits,
        rate_limit_exempt_group: if exempt { exempt_group.to_string() } else { String::new() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nothing_is_limited_by_default() {
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
    fn malformed_limits_name_their_option() {
        let bad = from_options(&options(&[(MODEL_RATE_LIMITS, r#"{"m": {"rpn": 5}}"#)])).unwrap_err();
        assert!(bad.contains(MODEL_RATE_LIMITS), "{bad}");
        let bad = from_options(&options(&[("ModelRequestRateLimitCount", "-1")])).unwrap_err();
        assert!(bad.contains("ModelRequestRateLimitCount"), "{bad}");
    }
}
