//! The health and retry settings, read from the options table (Veloera's names where Veloera has them).

use std::collections::HashMap;

/// Veloera's `AutomaticDisableKeywords` defaults: upstream messages that mean the account, not the request, is at fault.
const DEFAULT_KEYWORDS: &[&str] = &[
    "Your credit balance is too low",
    "This organization has been disabled.",
    "You exceeded your current quota",
    "Permission denied",
    "The security token included in the request is invalid",
    "Operation not allowed",
    "Your account is not authorized",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `AutomaticDisableChannelEnabled` (default on): keys and channels may be disabled automatically.
    pub auto_disable: bool,
    /// `AutomaticEnableChannelEnabled` (default on): a passing probe or test re-enables what was auto-disabled.
    pub auto_enable: bool,
    /// `AutomaticDisableKeywords`: one per line, matched case-insensitively in upstream error messages.
    pub keywords: Vec<String>,
    /// `RetryTimes` (default 3): further keys or channels tried for one request.
    pub retry_times: u32,
    /// `ChannelFailureThreshold` (default 5) transient failures within `ChannelFailureWindowSeconds` (default 60)
    /// open a channel's circuit.
    pub failure_threshold: i64,
    pub failure_window_secs: i64,
    /// `ChannelProbeIntervalSeconds` (default 30): first probe of something disabled automatically; doubled after
    /// each failed probe up to `ChannelProbeMaxIntervalSeconds` (default 1800).
    pub probe_initial_secs: i64,
    pub probe_max_secs: i64,
    /// `ChannelDisableThreshold` seconds (default 0 = never): a test slower than this disables the channel.
    pub slow_test_secs: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            auto_disable: true,
            auto_enable: true,
            keywords: DEFAULT_KEYWORDS.iter().map(|k| k.to_lowercase()).collect(),
            retry_times: 3,
            failure_threshold: 5,
            failure_window_secs: 60,
            probe_initial_secs: 30,
            probe_max_secs: 1800,
            slow_test_secs: 0.0,
        }
    }
}

impl Policy {
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self, String> {
        let mut p = Policy::default();
        let get = |name: &str| options.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let flag = |name: &str, default: bool| match get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(format!("option {name}: {v:?} is not true or false")),
        };
        let number = |name: &str, default: i64, max: i64| match get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(n),
                _ => Err(format!("option {name}: {v:?} is not a whole number between 0 and {max}")),
            },
        };
        p.auto_disable = flag("AutomaticDisableChannelEnabled", p.auto_disable)?;
        p.auto_enable = flag("AutomaticEnableChannelEnabled", p.auto_enable)?;
        if let Some(list) = options.get("AutomaticDisableKeywords") {
            p.keywords = list.lines().map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty()).collect();
        }
        p.retry_times = number("RetryTimes", 3, 10)? as u32;
        p.failure_threshold = number("ChannelFailureThreshold", 5, 1000)?.max(1);
        p.failure_window_secs = number("ChannelFailureWindowSeconds", 60, 86_400)?.max(1);
        p.probe_initial_secs = number("ChannelProbeIntervalSeconds", 30, 86_400)?.max(1);
        p.probe_max_secs = number("ChannelProbeMaxIntervalSeconds", 1800, 7 * 86_400)?.max(p.probe_initial_secs);
        if let Some(v) = get("ChannelDisableThreshold") {
            p.slow_test_secs = v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| format!("option ChannelDisableThreshold: {v:?} is not a number of seconds"))?;
        }
        Ok(p)
    }

    /// The back-off after one more failed probe.
    pub fn next_backoff(&self, current: i64) -> i64 {
        (current.max(self.probe_initial_secs / 2) * 2).clamp(self.probe_initial_secs, self.probe_max_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_override_defaults_and_bad_values_are_named() {
        let opts = HashMap::from([
            ("RetryTimes".to_string(), "1".to_string()),
            ("AutomaticDisableKeywords".to_string(), "Foo Bar\n\nbaz".to_string()),
        ]);
        let p = Policy::from_options(&opts).unwrap();
        assert_eq!((p.retry_times, p.keywords.clone()), (1, vec!["foo bar".to_string(), "baz".to_string()]));
        let bad = HashMap::from([("RetryTimes".to_string(), "many".to_string())]);
        assert!(Policy::from_options(&bad).unwrap_err().contains("RetryTimes"));
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = Policy { probe_initial_secs: 10, probe_max_secs: 35, ..Policy::default() };
        assert_eq!(p.next_backoff(0), 10);
        assert_eq!(p.next_backoff(10), 20);
        assert_eq!(p.next_backoff(20), 35);
    }
}
