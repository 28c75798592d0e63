//! The channel form's proxy and timeout fields, which live in the channel's `setting` JSON (`proxy`,
//! `connect_timeout`, `first_byte_timeout`, `idle_timeout`, `total_timeout`, seconds): taken out of it to be shown
//! as fields of their own, and put back when saving, the rest of the JSON left as the operator wrote it.

use serde_json::{Map, Value};

/// The `setting` keys shown as fields, in the form's order.
pub const KEYS: [&str; 5] = ["proxy", "connect_timeout", "first_byte_timeout", "idle_timeout", "total_timeout"];

/// `setting` without the field keys (as text for its textarea), and each field's value as text.
pub fn split(setting: &str) -> (String, Vec<(&'static str, String)>) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(setting) else {
        return (setting.to_string(), KEYS.iter().map(|k| (*k, String::new())).collect());
    };
    let values = KEYS
        .iter()
        .map(|k| {
            let v = match map.remove(*k) {
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (*k, v)
        })
        .collect();
    let rest = if map.is_empty() { String::new() } else { Value::Object(map).to_string() };
    (rest, values)
}

/// `rest` (a JSON object or empty, checked before) with the fields put back; an empty field is left out. Fails
/// with the key of a timeout that is not a positive number of seconds.
pub fn join(rest: &str, values: &[(&'static str, String)]) -> Result<String, &'static str> {
    let mut map = match serde_json::from_str::<Value>(rest) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (key, value) in values {
        let value = value.trim();
        if value.is_empty() {
            map.remove(*key);
            continue;
        }
        if *key == "proxy" {
            map.insert((*key).into(), Value::String(value.into()));
            continue;
        }
        match value.parse::<f64>() {
            // Whole seconds stay integers, as operators write them.
            Ok(secs) if secs > 0.0 && secs.fract() == 0.0 && secs < 1e9 => {
                map.insert((*key).into(), serde_json::json!(secs as i64));
            }
            Ok(secs) if secs > 0.0 && secs.is_finite() => {
                map.insert((*key).into(), serde_json::json!(secs));
            }
            _ => return Err(key),
        }
    }
    Ok(if map.is_empty() { String::new() } else { Value::Object(map).to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_and_timeouts_come_out_of_the_setting_and_go_back_with_the_rest_kept() {
        let setting = r#"{"proxy":"socks5://u:***@h:1080","first_byte_timeout":30,"stream_support":"NON_STREAM_ONLY"}"#;
        let (rest, values) = split(setting);
        assert_eq!(rest, r#"{"stream_support":"NON_STREAM_ONLY"}"#);
        assert_eq!(values[0], ("proxy", "socks5://u:***@h:1080".to_string()));
        assert_eq!(values[2], ("first_byte_timeout", "30".to_string()));
        let back: Value = serde_json::from_str(&join(&rest, &values).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(setting).unwrap());
    }

    #[test]
    fn empty_fields_are_left_out_and_a_bad_timeout_is_named() {
        let (rest, mut values) = split("");
        assert_eq!(join(&rest, &values), Ok(String::new()));
        values[4].1 = "soon".into();
        assert_eq!(join(&rest, &values), Err("total_timeout"));
        values[4].1 = "-1".into();
        assert_eq!(join(&rest, &values), Err("total_timeout"));
    }
}
