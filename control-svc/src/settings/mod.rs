//! The settings registry: every option key `/api/option/` accepts, what its value must look like, and which keys
//! are write-only secrets. Keys live in tables by concept (`keys.rs`); adding a key is one line in its table
//! (or a new table listed in [`keys::TABLES`]), with a [`Kind`] that says how a value is checked.

mod keys;
pub mod snapshot;

pub use snapshot::{Options, OptionsError, flag};

use std::collections::BTreeMap;

use serde_json::Value;

use crate::routing::virtual_models::{self, VirtualModels};

/// How a value is checked. Values are stored as text, as Veloera stores them.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `true` or `false`.
    Flag,
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// A finite decimal number in `min..=max`.
    Decimal { min: f64, max: f64 },
    /// Free text of at most `max_len` characters.
    Text { max_len: usize },
    /// An `http(s)://` URL, or empty.
    Url,
    /// Write-only text (a password, client secret or API key): never returned by `GET /api/option/`.
    Secret,
    /// JSON object of name → number ≥ 0 (`ModelRatio`, `GroupRatio`, …).
    RatioMap,
    /// JSON object of name → text (`UserUsableGroups`).
    TextMap,
    /// The global virtual-model mapping (`global_model_mapping`).
    VirtualModels,
    /// Anything else: a check of its own that returns why a value is refused.
    Custom(fn(&str) -> Result<(), String>),
}

/// One registered key.
pub struct Setting {
    pub key: &'static str,
    pub kind: Kind,
    /// Whether a change must rebuild the routing snapshot (not only prices and the health policy).
    pub routing: bool,
}

/// The registered setting called `key`.
pub fn lookup(key: &str) -> Option<&'static Setting> {
    keys::TABLES.iter().flat_map(|t| t.iter()).find(|s| s.key == key)
}

/// Every registered setting, in table order.
pub fn all() -> impl Iterator<Item = &'static Setting> {
    keys::TABLES.iter().flat_map(|t| t.iter())
}

/// Whether `key`'s value must never be returned: registered secrets, and (as Veloera hides them) any key ending
/// in `Secret`, `Token` or `Key`.
pub fn is_secret(key: &str) -> bool {
    matches!(lookup(key), Some(Setting { kind: Kind::Secret, .. }))
        || ["Secret", "Token", "Key", "secret", "token", "_key"].iter().any(|s| key.ends_with(s))
}

/// Checks `value` for `key`. The error says why, without the key (the caller prefixes it). `/api/option/` never
/// calls this with an empty value: that clears the option instead.
pub fn validate(key: &str, value: &str) -> Result<(), String> {
    let setting = lookup(key).ok_or_else(|| "unknown setting".to_string())?;
    check(setting.kind, value)
}

fn check(kind: Kind, value: &str) -> Result<(), String> {
    let v = value.trim();
    match kind {
        Kind::Flag => match v {
            "true" | "false" => Ok(()),
            _ => Err(format!("{v:?} is not true or false")),
        },
        Kind::Integer { min, max } => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!("{v:?} is not a whole number between {min} and {max}")),
        },
        Kind::Decimal { min, max } => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= min && n <= max => Ok(()),
            _ => Err(format!("{v:?} is not a number between {min} and {max}")),
        },
        Kind::Text { max_len } => {
            let len = value.chars().count();
            if len > max_len { Err(format!("{len} characters; at most {max_len} are allowed")) } else { Ok(()) }
        }
        Kind::Secret => {
            if value.chars().count() > 1024 {
                Err("longer than 1024 characters".into())
            } else {
                Ok(())
            }
        }
        Kind::Url => {
            if v.is_empty() {
                return Ok(());
            }
            match url::Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
                _ => Err(format!("{v:?} is not an http(s) URL")),
            }
        }
        Kind::RatioMap => ratio_map(v),
        Kind::TextMap => {
            let map: BTreeMap<String, Value> = json_object(v)?;
            match map.iter().find(|(k, val)| k.trim().is_empty() || !val.is_string()) {
                Some((k, _)) => Err(format!("entry {k:?} must be a non-empty name mapped to a text")),
                None => Ok(()),
            }
        }
        Kind::VirtualModels => VirtualModels::parse(v).map(|_| ()).map_err(|e| {
            // The parser names the option itself; the caller adds the key again.
            e.strip_prefix(virtual_models::OPTION).map(|r| r.trim_start_matches([':', ' '])).unwrap_or(&e).to_string()
        }),
        Kind::Custom(f) => f(value),
    }
}

fn json_object<T: serde::de::DeserializeOwned>(v: &str) -> Result<T, String> {
    if v.is_empty() {
        return Err("must be a JSON object (an empty value clears the option instead)".into());
    }
    serde_json::from_str(v).map_err(|e| format!("not a valid JSON object: {e}"))
}

fn ratio_map(v: &str) -> Result<(), String> {
    let map: BTreeMap<String, Value> = json_object(v)?;
    for (name, ratio) in &map {
        if name.trim().is_empty() {
            return Err("an entry has an empty name".into());
        }
        match ratio.as_f64() {
            Some(r) if r.is_finite() && r >= 0.0 => {}
            _ => return Err(format!("the value of {name:?} must be a number ≥ 0, not {ratio}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_registered_once() {
        let mut seen = std::collections::HashSet::new();
        for s in all() {
            assert!(seen.insert(s.key), "{} is registered twice", s.key);
        }
    }

    #[test]
    fn values_are_checked_by_kind() {
        assert!(validate("RegisterEnabled", "true").is_ok());
        assert!(validate("RegisterEnabled", "yes").unwrap_err().contains("true or false"));
        assert!(validate("RetryTimes", "3").is_ok());
        assert!(validate("RetryTimes", "11").unwrap_err().contains("between 0 and 10"));
        assert!(validate("ModelRatio", r#"{"gpt-4o": 1.25}"#).is_ok());
        assert!(validate("ModelRatio", r#"{"gpt-4o": -1}"#).unwrap_err().contains("gpt-4o"));
        assert!(validate("ModelRatio", "{oops").unwrap_err().contains("JSON"));
        assert!(validate("UserUsableGroups", r#"{"default": "Default"}"#).is_ok());
        assert!(validate("UserUsableGroups", r#"{"default": 1}"#).is_err());
        assert!(validate("global_model_mapping", r#"{"v": []}"#).unwrap_err().contains("no real model"));
        assert!(validate("ServerAddress", "ftp://x").is_err());
        assert!(validate("NoSuchKey", "1").unwrap_err().contains("unknown"));
    }

    #[test]
    fn the_ui_keys_check_their_veloera_shapes() {
        assert!(validate("Logo", "/logo.png").is_ok() && validate("Logo", "https://cdn.example/l.svg").is_ok());
        assert!(validate("Logo", "javascript:alert(1)").unwrap_err().contains("neither"));
        assert!(validate("Logo", "//evil.example/x.png").is_err());
        assert!(validate("DataExportDefaultTime", "day").is_ok());
        assert!(validate("DataExportDefaultTime", "month").unwrap_err().contains("hour, day or week"));
        assert!(validate("Chats", r#"[{"NextChat": "https://app.nextchat.dev/#/?key={key}"}]"#).is_ok());
        assert!(validate("Chats", r#"[{"a": "x", "b": "y"}]"#).unwrap_err().contains("entry 0"));
        assert!(validate("Chats", r#"{"a": "x"}"#).unwrap_err().contains("JSON array"));
        assert!(validate("TopUpLink", "https://shop.example/buy").is_ok() && validate("TopUpLink", "shop").is_err());
    }

    #[test]
    fn secrets_are_recognised() {
        assert!(is_secret("SMTPToken") && is_secret("GitHubClientSecret") && is_secret("OidcClientSecret"));
        assert!(is_secret("SomeFutureApiKey"));
        assert!(!is_secret("GitHubClientId") && !is_secret("ModelRatio"));
    }
}
