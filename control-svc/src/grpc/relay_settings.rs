//! The settings relays apply to requests themselves (`RelaySettings`), built from the options table and sent
//! whole with every `WatchConfig` reset and options change.

use std::collections::HashMap;

use veloera_proto::v1::RelaySettings;

/// Option names and their defaults (Veloera's names; `CheckSensitiveOnCompletionEnabled` is ours).
pub const SENSITIVE_WORDS: &str = "SensitiveWords";
const CHECK_ENABLED: (&str, bool) = ("CheckSensitiveEnabled", true);
const CHECK_PROMPT: (&str, bool) = ("CheckSensitiveOnPromptEnabled", true);
const CHECK_COMPLETION: (&str, bool) = ("CheckSensitiveOnCompletionEnabled", false);
const EXEMPT_ENABLED: (&str, bool) = ("SafeCheckExemptEnabled", false);
const EXEMPT_GROUP: &str = "SafeCheckExemptGroup";

pub fn from_options(options: &HashMap<String, String>) -> RelaySettings {
    let flag = |(name, default): (&str, bool)| options.get(name).map_or(default, |v| v.trim() == "true");
    let text = |name: &str| options.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
    let checking = flag(CHECK_ENABLED);
    RelaySettings {
        blocked_words: text(SENSITIVE_WORDS),
        check_prompt: checking && flag(CHECK_PROMPT),
        check_completion: checking && flag(CHECK_COMPLETION),
        exempt_group: if flag(EXEMPT_ENABLED) { text(EXEMPT_GROUP) } else { String::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn prompts_are_checked_by_default_and_answers_only_when_asked() {
        let s = from_options(&options(&[("SensitiveWords", "bad\n")]));
        assert_eq!((s.blocked_words.as_str(), s.check_prompt, s.check_completion), ("bad", true, false));
        let s = from_options(&options(&[("CheckSensitiveOnCompletionEnabled", "true")]));
        assert!(s.check_completion);
        let s = from_options(&options(&[
            ("CheckSensitiveEnabled", "false"),
            ("CheckSensitiveOnCompletionEnabled", "true"),
        ]));
        assert!(!s.check_prompt && !s.check_completion);
    }

    #[test]
    fn the_exempt_group_applies_only_when_enabled() {
        assert_eq!(from_options(&options(&[("SafeCheckExemptGroup", "vip")])).exempt_group, "");
        let on = options(&[("SafeCheckExemptGroup", "vip"), ("SafeCheckExemptEnabled", "true")]);
        assert_eq!(from_options(&on).exempt_group, "vip");
    }
}
