//! A channel proxy's password (the userinfo of `setting.proxy`) is write-only: administrators see the URL with the
//! password replaced by [`MARKER`], and an update that sends the marker back keeps the stored password — but only
//! for the same proxy (scheme, host, port and user), so it can never be carried to a proxy of the caller's choice.

use serde_json::{Map, Value};

/// What stands in for a stored proxy password.
pub const MARKER: &str = "********";

/// `url` with its password replaced by [`MARKER`]; anything without a password comes back unchanged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password fails only on URLs that cannot have one; this one has one.
            let _ = parsed.set_password(Some(MARKER));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The proxy URL of a `setting` JSON text, when it has one.
fn proxy_of(setting: &Map<String, Value>) -> Option<&str> {
    setting.get("proxy").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty())
}

fn object(setting: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(setting) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The `setting` text as administrators see it: the proxy's password, if any, replaced by [`MARKER`].
pub fn redact_setting(setting: &str) -> String {
    let Some(mut map) = object(setting) else { return setting.to_string() };
    let Some(proxy) = proxy_of(&map) else { return setting.to_string() };
    let redacted = redact_url(proxy);
    if redacted == proxy {
        return setting.to_string();
    }
    map.insert("proxy".into(), Value::String(redacted));
    Value::Object(map).to_string()
}

/// The `setting` text to store when an administrator sent `incoming` over the channel's `stored` one: a proxy
/// password given as [`MARKER`] is replaced by the stored password of the same proxy. Refused when there is no
/// such password (none stored, or scheme, host, port or user changed): the caller must enter it again.
pub fn restore(incoming: &str, stored: &str) -> Result<String, String> {
    let Some(mut map) = object(incoming) else { return Ok(incoming.to_string()) };
    let Some(proxy) = proxy_of(&map) else { return Ok(incoming.to_string()) };
    let Ok(mut wanted) = url::Url::parse(proxy) else { return Ok(incoming.to_string()) };
    if wanted.password() != Some(MARKER) {
        return Ok(incoming.to_string());
    }
    let stored_proxy = object(stored).and_then(|m| proxy_of(&m).map(str::to_string));
    let Some((stored_text, old)) =
        stored_proxy.and_then(|p| url::Url::parse(&p).ok().map(|u| (p, u))).filter(|(_, old)| same_proxy(old, &wanted))
    else {
        return Err(format!(
            "setting.proxy carries {MARKER}, the placeholder of a stored proxy password, but this channel has no \
             stored password for that proxy (scheme, host, port and user must stay the same); enter the proxy \
             password again"
        ));
    };
    let Some(password) = old.password() else {
        return Err(format!("setting.proxy carries {MARKER}, but no proxy password is stored; enter it again"));
    };
    let _ = wanted.set_password(Some(password));
    // The stored text itself when nothing else changed, so an unchanged proxy stays byte for byte the same.
    let proxy = if wanted == old { stored_text } else { wanted.to_string() };
    map.insert("proxy".into(), Value::String(proxy));
    Ok(Value::Object(map).to_string())
}

/// Whether two proxy URLs name the same proxy, written differently or not (`http://h:1` and `http://h:1/`).
pub fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a.trim()), url::Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

fn same_proxy(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.username() == b.username()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = r#"{"proxy":"http://user:s3cret@proxy.test:8080","force_format":true}"#;

    #[test]
    fn the_password_is_shown_as_the_marker_and_nothing_else_changes() {
        let shown = redact_setting(STORED);
        assert!(!shown.contains("s3cret"), "{shown}");
        let map = object(&shown).unwrap();
        assert_eq!(map["proxy"], "http://user:********@proxy.test:8080/");
        assert_eq!(map["force_format"], true);
        for plain in ["", "{}", r#"{"proxy":"http://proxy.test:8080"}"#, r#"{"proxy":""}"#, "not json"] {
            assert_eq!(redact_setting(plain), plain);
        }
    }

    #[test]
    fn the_marker_sent_back_keeps_the_stored_password_of_the_same_proxy() {
        let back = redact_setting(STORED);
        let restored = restore(&back, STORED).unwrap();
        assert_eq!(object(&restored).unwrap()["proxy"], "http://user:s3cret@proxy.test:8080");
        let other_path = restore(r#"{"proxy":"http://user:********@proxy.test:8080/x"}"#, STORED).unwrap();
        assert_eq!(object(&other_path).unwrap()["proxy"], "http://user:s3cret@proxy.test:8080/x");
        assert!(same_url("http://h.test:1", "http://h.test:1/"));
        assert!(!same_url("http://h.test:1", "http://h.test:2"));
        let new_password = r#"{"proxy":"http://user:other@proxy.test:8080"}"#;
        assert_eq!(restore(new_password, STORED).unwrap(), new_password);
        let no_proxy = r#"{"force_format":false}"#;
        assert_eq!(restore(no_proxy, STORED).unwrap(), no_proxy);
    }

    #[test]
    fn the_marker_is_refused_for_another_host_port_user_or_scheme() {
        for moved in [
            r#"{"proxy":"http://user:********@evil.test:8080"}"#,
            r#"{"proxy":"http://user:********@proxy.test:9090"}"#,
            r#"{"proxy":"http://admin:********@proxy.test:8080"}"#,
            r#"{"proxy":"socks5://user:********@proxy.test:8080"}"#,
        ] {
            let err = restore(moved, STORED).unwrap_err();
            assert!(err.contains("enter the proxy password again"), "{moved}: {err}");
        }
        assert!(restore(r#"{"proxy":"http://user:********@proxy.test:8080"}"#, "").is_err());
        let no_password = r#"{"proxy":"http://user@proxy.test:8080"}"#;
        assert!(restore(r#"{"proxy":"http://user:********@proxy.test:8080"}"#, no_password).is_err());
    }
}
