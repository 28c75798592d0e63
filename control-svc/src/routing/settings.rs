//! Per-channel settings (Veloera reference §1.4, §2.1): checked when a channel is written, parsed once into
//! the routing snapshot, and handed to the relay with every candidate.

use std::collections::BTreeMap;

use crate::db::channels::ChannelSettings;

/// Azure OpenAI's `api-version` when the channel names none.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
const AZURE_CHANNEL: i32 = 3;

/// Longest accepted values, in characters (the MySQL schema's column sizes).
const LIMITS: [(&str, usize); 6] = [
    ("other", 255),
    ("param_override", 1024),
    ("status_code_mapping", 255),
    ("system_prompt", 1024),
    ("headers", 512),
    ("setting", 512),
];

/// Settings as the relay uses them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub api_version: String,
    /// A JSON object's text, or empty.
    pub param_override: String,
    pub system_prompt: String,
    pub headers: BTreeMap<String, String>,
    pub status_code_mapping: BTreeMap<i32, i32>,
    /// `setting.stream_support == "NON_STREAM_ONLY"`.
    pub non_stream_only: bool,
    /// `setting.thinking_to_content`: reasoning shown as `<think>…</think>` in the answer text.
    pub thinking_to_content: bool,
    /// `setting.force_format`: an OpenAI-compatible upstream's chunks are re-encoded as standard OpenAI chunks.
    pub force_format: bool,
    /// `setting.proxy`: the proxy URL for this channel's calls, or empty.
    pub proxy: String,
    /// `setting.{connect,first_byte,idle,total}_timeout` in seconds; 0 leaves the relay's default.
    pub timeouts: Timeouts,
}

/// Per-channel timeouts in milliseconds (0 = the relay's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub connect_ms: u32,
    pub first_byte_ms: u32,
    pub idle_ms: u32,
    pub total_ms: u32,
}

/// Veloera's `setting` JSON. `pass_through_body_enabled` is accepted when off (as Veloera's UI sends it) and
/// refused when on, until it is implemented.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Setting {
    #[serde(default)]
    stream_support: Option<String>,
    #[serde(default)]
    thinking_to_content: Option<bool>,
    #[serde(default)]
    force_format: Option<bool>,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    pass_through_body_enabled: Option<bool>,
    #[serde(default)]
    connect_timeout: Option<f64>,
    #[serde(default)]
    first_byte_timeout: Option<f64>,
    #[serde(default)]
    idle_timeout: Option<f64>,
    #[serde(default)]
    total_timeout: Option<f64>,
}

impl Setting {
    fn timeouts(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("connect_timeout", self.connect_timeout),
            ("first_byte_timeout", self.first_byte_timeout),
            ("idle_timeout", self.idle_timeout),
            ("total_timeout", self.total_timeout),
        ]
    }
}

/// Seconds → milliseconds; validated to be within a day on write.
fn millis(secs: Option<f64>) -> u32 {
    secs.map_or(0, |s| (s * 1000.0).round().clamp(0.0, 86_400_000.0) as u32)
}

fn setting(text: &str) -> Result<Setting, String> {
    if text.trim().is_empty() {
        return Ok(Setting::default());
    }
    let s: Setting = serde_json::from_str(text).map_err(|e| format!("setting must be a JSON object: {e}"))?;
    match s.stream_support.as_deref() {
        None | Some("" | "DEFAULT" | "NON_STREAM_ONLY") => {}
        Some(other) => return Err(format!("setting.stream_support `{other}` is not DEFAULT or NON_STREAM_ONLY")),
    }
    if let Some(proxy) = s.proxy.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        match url::Url::parse(proxy) {
            Ok(u) if matches!(u.scheme(), "http" | "socks5" | "socks5h") && u.host_str().is_some() => {}
            _ => return Err(format!("setting.proxy `{proxy}` must be an http://, socks5:// or socks5h:// URL")),
        }
    }
    for (name, value) in s.timeouts() {
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=86_400.0).contains(&v))
        {
            return Err(format!("setting.{name} must be a number of seconds between 0 and 86400 (0 = default)"));
        }
    }
    let unsupported = [("pass_through_body_enabled", s.pass_through_body_enabled == Some(true))];
    if let Some((name, _)) = unsupported.iter().find(|(_, on)| *on) {
        return Err(format!("setting.{name} is not supported by this gateway yet"));
    }
    Ok(s)
}

/// Refuses settings the relay could not apply, naming the field and what it must be.
pub fn validate(raw: &ChannelSettings) -> Result<(), String> {
    let fields =
        [&raw.other, &raw.param_override, &raw.status_code_mapping, &raw.system_prompt, &raw.headers, &raw.setting];
    for ((name, limit), value) in LIMITS.iter().zip(fields) {
        if value.chars().count() > *limit {
            return Err(format!("{name} is longer than {limit} characters"));
        }
    }
    if !raw.param_override.trim().is_empty()
        && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&raw.param_override).is_err()
    {
        return Err("param_override must be a JSON object (its keys replace the request body's)".into());
    }
    status_codes(&raw.status_code_mapping).map_err(|_| {
        "status_code_mapping must be a JSON object of status codes, such as {\"400\": \"500\"}".to_string()
    })?;
    headers(&raw.headers).map_err(|e| format!("headers must be a JSON object of header names to values: {e}"))?;
    setting(&raw.setting)?;
    Ok(())
}

/// Parses stored settings (validated on write; anything unreadable is left out).
pub fn parse(raw: &ChannelSettings, channel_type: i32) -> Parsed {
    let setting = setting(&raw.setting).ok();
    let api_version = match raw.other.trim() {
        "" if channel_type == AZURE_CHANNEL => DEFAULT_AZURE_API_VERSION.to_string(),
        other => other.to_string(),
    };
    Parsed {
        api_version,
        param_override: raw.param_override.trim().to_string(),
        system_prompt: raw.system_prompt.clone(),
        headers: headers(&raw.headers).unwrap_or_default(),
        status_code_mapping: status_codes(&raw.status_code_mapping).unwrap_or_default(),
        non_stream_only: setting.as_ref().is_some_and(|s| s.stream_support.as_deref() == Some("NON_STREAM_ONLY")),
        thinking_to_content: setting.as_ref().is_some_and(|s| s.thinking_to_content == Some(true)),
        force_format: setting.as_ref().is_some_and(|s| s.force_format == Some(true)),
        proxy: setting.as_ref().and_then(|s| s.proxy.as_deref()).unwrap_or("").trim().to_string(),
        timeouts: setting.as_ref().map_or_else(Timeouts::default, |s| Timeouts {
            connect_ms: millis(s.connect_timeout),
            first_byte_ms: millis(s.first_byte_timeout),
            idle_ms: millis(s.idle_timeout),
            total_ms: millis(s.total_timeout),
        }),
    }
}

fn status_codes(text: &str) -> Result<BTreeMap<i32, i32>, ()> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).map_err(|_| ())?;
    let code = |v: &serde_json::Value| -> Result<i32, ()> {
        let n = match v {
            serde_json::Value::String(s) => s.trim().parse::<i32>().map_err(|_| ())?,
            serde_json::Value::Number(n) => n.as_i64().ok_or(())? as i32,
            _ => return Err(()),
        };
        if (100..=599).contains(&n) { Ok(n) } else { Err(()) }
    };
    map.iter().map(|(k, v)| Ok((code(&serde_json::Value::String(k.clone()))?, code(v)?))).collect()
}

fn headers(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (name, value) in &map {
        http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))?;
        http::HeaderValue::from_str(value).map_err(|_| format!("the value of `{name}` is not a header value"))?;
        if matches!(name.to_ascii_lowercase().as_str(), "host" | "content-length" | "transfer-encoding" | "connection")
        {
            return Err(format!("`{name}` is set by the gateway"));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(f: impl FnOnce(&mut ChannelSettings)) -> ChannelSettings {
        let mut s = ChannelSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn good_settings_parse_into_what_the_relay_uses() {
        let s = raw(|s| {
            s.param_override = r#"{"temperature": 0.1}"#.into();
            s.status_code_mapping = r#"{"429": "503", "400": 500}"#.into();
            s.headers = r#"{"X-Team": "blue"}"#.into();
            s.system_prompt = "Answer in French.".into();
        });
        validate(&s).unwrap();
        let p = parse(&s, 1);
        assert_eq!(p.status_code_mapping, BTreeMap::from([(400, 500), (429, 503)]));
        assert_eq!(p.headers["X-Team"], "blue");
        assert_eq!(p.api_version, "");
        assert_eq!(parse(&ChannelSettings::default(), 3).api_version, DEFAULT_AZURE_API_VERSION);
        let ui_defaults =
            raw(|s| s.setting = r#"{"stream_support":"NON_STREAM_ONLY","force_format":false,"proxy":""}"#.into());
        validate(&ui_defaults).unwrap();
        assert!(parse(&ui_defaults, 1).non_stream_only);
        let timed = raw(|s| s.setting = r#"{"first_byte_timeout": 2.5, "idle_timeout": 30}"#.into());
        validate(&timed).unwrap();
        assert_eq!(parse(&timed, 1).timeouts, Timeouts { first_byte_ms: 2500, idle_ms: 30_000, ..Timeouts::default() });
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        for (s, word) in [
            (raw(|s| s.param_override = "[1]".into()), "param_override"),
            (raw(|s| s.status_code_mapping = r#"{"abc": "500"}"#.into()), "status_code_mapping"),
            (raw(|s| s.status_code_mapping = r#"{"400": "999"}"#.into()), "status_code_mapping"),
            (raw(|s| s.headers = r#"{"bad header": "x"}"#.into()), "headers"),
            (raw(|s| s.headers = r#"{"Host": "x"}"#.into()), "set by the gateway"),
            (raw(|s| s.system_prompt = "x".repeat(1025)), "system_prompt"),
            (raw(|s| s.setting = r#"{"stream_support": "SOMETIMES"}"#.into()), "stream_support"),
            (raw(|s| s.setting = r#"{"proxy": "ftp://h:1"}"#.into()), "setting.proxy"),
            (raw(|s| s.setting = r#"{"pass_through_body_enabled": true}"#.into()), "not supported"),
            (raw(|s| s.setting = r#"{"idle_timeout": -1}"#.into()), "setting.idle_timeout"),
        ] {
            let err = validate(&s).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }
}
