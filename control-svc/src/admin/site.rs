//! The site's look and the UI's switches: the options `GET /api/status` reports besides sign-in (logo, footer,
//! links, currency display, dashboard, chat clients), with Veloera's defaults, and the administrator's
//! stylesheet and script that Veloera's `index.html` loads from `/custom/global.css` and `/custom/global.js`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::db;
use crate::error::ControlError;
use crate::state::AppState;

/// Veloera's chat-client links by default: deep links that open a client with the user's key and this site's
/// address filled in.
const DEFAULT_CHATS: &str = r#"[{"ChatGPT Next Web":"https://app.nextchat.dev/#/?settings={\"key\":\"{key}\",\"url\":\"{address}\"}"},{"Lobe Chat":"https://chat-preview.lobehub.com/?settings={\"keyVaults\":{\"openai\":{\"apiKey\":\"{key}\",\"baseURL\":\"{address}/v1\"}}}"}]"#;

/// The value of each UI option while it is unset (Veloera's defaults); options missing here default to empty.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("DisplayInCurrencyEnabled", "true"),
    ("DataExportEnabled", "true"),
    ("DataExportDefaultTime", "hour"),
    ("DefaultCollapseSidebar", "false"),
    ("Chats", DEFAULT_CHATS),
];

/// The built-in default of a UI option, if it has one other than empty.
pub fn default_of(key: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The stored value of `key`, or its default.
fn effective<'a>(options: &'a HashMap<String, String>, key: &str) -> &'a str {
    options.get(key).map(String::as_str).filter(|v| !v.trim().is_empty()).or_else(|| default_of(key)).unwrap_or("")
}

fn flag(options: &HashMap<String, String>, key: &str) -> bool {
    effective(options, key).trim() == "true"
}

/// The `/api/status` fields that come from the UI options and from features this backend does not offer (so
/// Veloera's UI hides them): drawing and task logs, online payment, Turnstile, and the WeChat, Telegram and
/// LinuxDO logins.
pub fn status_fields(options: &HashMap<String, String>) -> Map<String, Value> {
    // A stored `Chats` value was checked on save; one that no longer parses is shown as no links, not an error.
    let chats: Value = serde_json::from_str(effective(options, "Chats")).unwrap_or_else(|_| json!([]));
    let fields = json!({
        "logo": effective(options, "Logo"),
        "footer_html": effective(options, "Footer"),
        "server_address": effective(options, "ServerAddress"),
        "top_up_link": effective(options, "TopUpLink"),
        "docs_link": effective(options, "general_setting.docs_link"),
        "display_in_currency": flag(options, "DisplayInCurrencyEnabled"),
        "enable_data_export": flag(options, "DataExportEnabled"),
        "data_export_default_time": effective(options, "DataExportDefaultTime"),
        "default_collapse_sidebar": flag(options, "DefaultCollapseSidebar"),
        "chats": chats,
        "check_in_enabled": flag(options, "CheckInEnabled"),
        "self_use_mode_enabled": flag(options, "SelfUseModeEnabled"),
        "demo_site_enabled": flag(options, "DemoSiteEnabled"),
        "enable_batch_update": false,
        "enable_drawing": false,
        "enable_task": false,
        "mj_notify_enabled": false,
        "enable_online_topup": false,
        "enable_stripe_topup": false,
        "turnstile_check": false,
        "turnstile_site_key": "",
        "wechat_login": false,
        "wechat_qrcode": "",
        "telegram_oauth": false,
        "telegram_bot_name": "",
        "linuxdo_oauth": false,
        "linuxdo_client_id": "",
    });
    object(fields)
}

/// The fields of a `json!({...})` object literal.
pub(super) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// `GET /custom/global.css` and `GET /custom/global.js` (public, outside `/api` as in Veloera).
pub fn custom_files() -> Router<AppState> {
    Router::new().route("/custom/global.css", get(global_css)).route("/custom/global.js", get(global_js))
}

/// The option `global_css` as a stylesheet (empty when unset).
async fn global_css(State(state): State<AppState>) -> Result<Response, ControlError> {
    custom_file(&state, "global_css", "text/css; charset=utf-8").await
}

/// The option `global_js` as a script (empty when unset).
async fn global_js(State(state): State<AppState>) -> Result<Response, ControlError> {
    custom_file(&state, "global_js", "application/javascript; charset=utf-8").await
}

async fn custom_file(state: &AppState, option: &str, content_type: &'static str) -> Result<Response, ControlError> {
    let body = db::options::get(state.db(), state.db().pool(), option).await?.unwrap_or_default();
    // The administrator changes these at any time: browsers check again on every page load.
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_options_report_veloeras_defaults() {
        let fields = status_fields(&HashMap::new());
        assert_eq!(fields["display_in_currency"], true);
        assert_eq!(fields["enable_data_export"], true);
        assert_eq!(fields["data_export_default_time"], "hour");
        assert_eq!(fields["logo"], "");
        assert!(fields["chats"].as_array().is_some_and(|c| !c.is_empty()));
    }

    #[test]
    fn stored_options_win_and_blank_ones_are_unset() {
        let options = HashMap::from([
            ("DisplayInCurrencyEnabled".to_string(), "false".to_string()),
            ("Logo".to_string(), "/logo.png".to_string()),
            ("DataExportDefaultTime".to_string(), " ".to_string()),
            ("Chats".to_string(), "[]".to_string()),
        ]);
        let fields = status_fields(&options);
        assert_eq!((&fields["display_in_currency"], &fields["logo"]), (&json!(false), &json!("/logo.png")));
        assert_eq!(fields["data_export_default_time"], "hour");
        assert_eq!(fields["chats"], json!([]));
    }

    #[test]
    fn the_default_chat_links_pass_their_own_check() {
        assert!(crate::settings::validate("Chats", DEFAULT_CHATS).is_ok());
    }
}
