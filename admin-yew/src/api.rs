//! The typed API client: every call the UI makes goes through [`request`], one function that sends JSON to
//! the same origin with the HttpOnly session cookie (`credentials: same-origin`) and reads Veloera's
//! `{success, message, data}` envelope. DTOs come from `veloera-admin-types` only.

use gloo_net::http::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use veloera_admin_types::{
    AffTransferRequest, AffTransferResult, Channel, ChannelBatchTag, ChannelCreate, ChannelIds, ChannelKey,
    ChannelKeyStatus, ChannelUpdate, ChannelUsage, CheckInResult, CheckInStatus, Envelope, LogEntry, LogStat,
    LoginRequest, Page, PasswordReset, QuotaData, RegisterRequest, SetupRequest, SetupStatus, SiteStatus, Token,
    TokenCreate, TokenUpdate, TopUpRequest, TopUpResult, UpdateSelf, UserSelf, UserSetting,
};
use web_sys::RequestCredentials;

use crate::i18n::Lang;

/// Why a call failed. The server's own `message` is kept as it is (it names the field or rule); the UI adds
/// a phrase in the reader's language around it.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The request never got an answer (offline, server down).
    Network(String),
    /// The server refused: HTTP status and its `message` (may be empty).
    Server { status: u16, message: String },
    /// The answer was not the JSON we expected.
    Decode(String),
}

impl ApiError {
    /// The error as one sentence in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        use crate::i18n::tr;
        match self {
            ApiError::Network(e) => format!("{} ({e})", tr(lang, "error.network")),
            ApiError::Server { status, message } => {
                let what = match status {
                    401 => tr(lang, "error.unauthorized"),
                    403 => tr(lang, "error.forbidden"),
                    404 => tr(lang, "error.not_found"),
                    429 => tr(lang, "error.rate_limited"),
                    s if *s >= 500 => tr(lang, "error.server"),
                    _ => tr(lang, "error.refused"),
                };
                if message.is_empty() { format!("{what} (HTTP {status})") } else { format!("{what}: {message}") }
            }
            ApiError::Decode(e) => format!("{} ({e})", tr(lang, "error.decode")),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Sends one request and reads the envelope; `success: false` or a non-2xx status is an error carrying the
/// server's message. `Ok(None)` when the envelope has no `data`.
async fn request<T: DeserializeOwned>(method: Method, url: &str, body: Option<Value>) -> ApiResult<Option<T>> {
    let builder = RequestBuilder::new(url).method(method).credentials(RequestCredentials::SameOrigin);
    let sent = match body {
        Some(body) => builder.json(&body).map_err(|e| ApiError::Decode(e.to_string()))?.send().await,
        None => builder.send().await,
    };
    let resp = sent.map_err(|e| ApiError::Network(e.to_string()))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| ApiError::Network(e.to_string()))?;
    let ok_status = (200..300).contains(&status);
    match serde_json::from_str::<Envelope<T>>(&text) {
        Ok(env) if env.success && ok_status => Ok(env.data),
        Ok(env) => Err(ApiError::Server { status: if ok_status { 400 } else { status }, message: env.message }),
        Err(_) if !ok_status => Err(ApiError::Server { status, message: short(&text) }),
        Err(e) => Err(ApiError::Decode(e.to_string())),
    }
}

/// A plain-text error body, cut so a whole HTML page never lands in a toast.
fn short(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('<') { String::new() } else { text.chars().take(200).collect() }
}

async fn data<T: DeserializeOwned>(method: Method, url: &str, body: Option<Value>) -> ApiResult<T> {
    request(method, url, body).await?.ok_or_else(|| ApiError::Decode("the answer carried no data".into()))
}

async fn done(method: Method, url: &str, body: Option<Value>) -> ApiResult<()> {
    request::<Value>(method, url, body).await.map(|_| ())
}

#[allow(clippy::expect_used, reason = "the admin-types DTOs are plain data with derived Serialize")]
fn json<B: Serialize>(body: &B) -> Option<Value> {
    Some(serde_json::to_value(body).expect("DTOs always serialise"))
}

/// Builds `path?k=v&…`, leaving out empty values.
pub fn with_query(path: &str, params: &[(&str, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", js_sys::encode_uri_component(v)))
        .collect();
    if query.is_empty() { path.to_string() } else { format!("{path}?{}", query.join("&")) }
}

// Session and account.

pub async fn status() -> ApiResult<SiteStatus> {
    data(Method::GET, "/api/status", None).await
}

pub async fn login(username: String, password: String) -> ApiResult<UserSelf> {
    data(Method::POST, "/api/user/login", json(&LoginRequest { username, password })).await
}

pub async fn logout() -> ApiResult<()> {
    done(Method::GET, "/api/user/logout", None).await
}

pub async fn get_self() -> ApiResult<UserSelf> {
    data(Method::GET, "/api/user/self", None).await
}

pub async fn update_self(body: &UpdateSelf) -> ApiResult<()> {
    done(Method::PUT, "/api/user/self", json(body)).await
}

pub async fn delete_self() -> ApiResult<()> {
    done(Method::DELETE, "/api/user/self", None).await
}

pub async fn register(body: &RegisterRequest) -> ApiResult<()> {
    done(Method::POST, "/api/user/register", json(body)).await
}

pub async fn send_verification(email: &str) -> ApiResult<()> {
    done(Method::GET, &with_query("/api/verification", &[("email", email.to_string())]), None).await
}

pub async fn send_password_reset(email: &str) -> ApiResult<()> {
    done(Method::GET, &with_query("/api/reset_password", &[("email", email.to_string())]), None).await
}

/// Returns the new password the server chose.
pub async fn confirm_password_reset(body: &PasswordReset) -> ApiResult<String> {
    data(Method::POST, "/api/user/reset", json(body)).await
}

pub async fn setup_status() -> ApiResult<SetupStatus> {
    data(Method::GET, "/api/setup", None).await
}

pub async fn setup(body: &SetupRequest) -> ApiResult<()> {
    done(Method::POST, "/api/setup", json(body)).await
}

/// `GET /api/oauth/{provider}?code=&state=`: completes a GitHub or OIDC sign-in.
pub async fn oauth_callback(provider: &str, code: &str, state: &str) -> ApiResult<UserSelf> {
    let url = with_query(&format!("/api/oauth/{provider}"), &[("code", code.into()), ("state", state.into())]);
    data(Method::GET, &url, None).await
}

pub async fn oauth_state() -> ApiResult<String> {
    data(Method::GET, "/api/oauth/state", None).await
}

/// `GET /api/user/token`: a new personal access token (the old one stops working).
pub async fn access_token() -> ApiResult<String> {
    data(Method::GET, "/api/user/token", None).await
}

pub async fn update_setting(body: &UserSetting) -> ApiResult<()> {
    done(Method::PUT, "/api/user/setting", json(body)).await
}

pub async fn usable_models() -> ApiResult<Vec<String>> {
    Ok(request(Method::GET, "/api/user/models", None).await?.unwrap_or_default())
}

/// `GET /api/user/self/groups`: group name → description.
pub async fn usable_groups() -> ApiResult<serde_json::Map<String, Value>> {
    Ok(request(Method::GET, "/api/user/self/groups", None).await?.unwrap_or_default())
}

// Channels.

/// `page` counts from 1 here; Veloera numbers channel pages from 0.
pub async fn list_channels(page: i64, page_size: i64) -> ApiResult<Page<Channel>> {
    let url = with_query("/api/channel/", &[("p", (page - 1).to_string()), ("page_size", page_size.to_string())]);
    data(Method::GET, &url, None).await
}

pub async fn search_channels(keyword: &str, model: &str, group: &str) -> ApiResult<Vec<Channel>> {
    let url = with_query(
        "/api/channel/search",
        &[("keyword", keyword.into()), ("model", model.into()), ("group", group.into())],
    );
    Ok(request(Method::GET, &url, None).await?.unwrap_or_default())
}

pub async fn get_channel(id: i64) -> ApiResult<Channel> {
    data(Method::GET, &format!("/api/channel/{id}"), None).await
}

pub async fn create_channel(body: &ChannelCreate) -> ApiResult<()> {
    done(Method::POST, "/api/channel/", json(body)).await
}

pub async fn update_channel(body: &ChannelUpdate) -> ApiResult<()> {
    done(Method::PUT, "/api/channel/", json(body)).await
}

pub async fn delete_channel(id: i64) -> ApiResult<()> {
    done(Method::DELETE, &format!("/api/channel/{id}"), None).await
}

pub async fn delete_channels(ids: Vec<i64>) -> ApiResult<()> {
    done(Method::POST, "/api/channel/batch", json(&ChannelIds { ids })).await
}

/// Sets `tag` (empty: none) on the channels `ids`; answers how many changed.
pub async fn set_channels_tag(ids: Vec<i64>, tag: String) -> ApiResult<u64> {
    data(Method::POST, "/api/channel/batch/tag", json(&ChannelBatchTag { ids, tag: Some(tag) })).await
}

pub async fn delete_disabled_channels() -> ApiResult<()> {
    done(Method::DELETE, "/api/channel/disabled", None).await
}

/// `GET url` for the routes where Veloera puts results beside the envelope's fields (`time`, `balance`): the
/// status and the whole body, read by the caller.
async fn get_unwrapped(url: &str) -> ApiResult<(u16, Value)> {
    let resp = RequestBuilder::new(url)
        .credentials(RequestCredentials::SameOrigin)
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let status = resp.status();
    let body = resp.json().await.map_err(|e| ApiError::Decode(e.to_string()))?;
    Ok((status, body))
}

/// What a channel test answered: Veloera puts the latency in seconds beside `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
    pub seconds: f64,
}

/// `GET /api/channel/test/{id}?model=`. Veloera answers `{success, message, time}`, so this call reads the
/// body itself rather than through the envelope.
pub async fn test_channel(id: i64, model: &str) -> ApiResult<TestOutcome> {
    let url = with_query(&format!("/api/channel/test/{id}"), &[("model", model.into())]);
    let (status, body) = get_unwrapped(&url).await?;
    let message = body.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    if status == 401 || status == 403 {
        return Err(ApiError::Server { status, message });
    }
    Ok(TestOutcome {
        ok: body.get("success").and_then(Value::as_bool).unwrap_or(false),
        message,
        seconds: body.get("time").and_then(Value::as_f64).unwrap_or(0.0),
    })
}

/// `GET /api/channel/update_balance/{id}`: the balance in USD.
pub async fn update_balance(id: i64) -> ApiResult<f64> {
    let (status, body) = get_unwrapped(&format!("/api/channel/update_balance/{id}")).await?;
    let message = body.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    match body.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(body.get("balance").and_then(Value::as_f64).unwrap_or(0.0)),
        _ => Err(ApiError::Server { status: if status < 300 { 400 } else { status }, message }),
    }
}

/// `GET /api/models`: per channel type id, the models its vendor publishes.
pub async fn models_by_type() -> ApiResult<std::collections::BTreeMap<String, Vec<String>>> {
    Ok(request(Method::GET, "/api/models", None).await?.unwrap_or_default())
}

/// `POST /api/channel/fetch_models`: asks the upstream which models it serves, with the form's type, URL
/// and key (the channel need not exist yet).
pub async fn fetch_models(channel_type: i32, base_url: &str, key: &str) -> ApiResult<Vec<String>> {
    let body = serde_json::json!({"type": channel_type, "base_url": base_url, "key": key});
    Ok(request(Method::POST, "/api/channel/fetch_models", Some(body)).await?.unwrap_or_default())
}

pub async fn channel_keys(id: i64) -> ApiResult<Vec<ChannelKey>> {
    Ok(request(Method::GET, &format!("/api/channel/{id}/keys"), None).await?.unwrap_or_default())
}

pub async fn set_channel_key_status(id: i64, slot: usize, status: i64) -> ApiResult<()> {
    done(Method::PUT, &format!("/api/channel/{id}/keys"), json(&ChannelKeyStatus { slot, status })).await
}

pub async fn groups() -> ApiResult<Vec<String>> {
    Ok(request(Method::GET, "/api/group/", None).await?.unwrap_or_default())
}

/// `POST /api/channel/tag/enabled` or `/tag/disabled`: every channel of `tag`.
pub async fn set_tag_status(tag: &str, enable: bool) -> ApiResult<()> {
    let url = if enable { "/api/channel/tag/enabled" } else { "/api/channel/tag/disabled" };
    done(Method::POST, url, json(&veloera_admin_types::ChannelTag { tag: tag.to_string() })).await
}

/// `PUT /api/channel/tag`: edits every channel of the tag.
pub async fn edit_tag(body: &veloera_admin_types::ChannelTagEdit) -> ApiResult<()> {
    done(Method::PUT, "/api/channel/tag", json(body)).await
}

/// `GET /api/channel/export` (root): the channels `ids`, or all of them when empty, keys included.
pub async fn export_channels(ids: &[i64]) -> ApiResult<veloera_admin_types::channel_transfer::ChannelExportFile> {
    let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    data(Method::GET, &with_query("/api/channel/export", &[("ids", ids)]), None).await
}

/// `POST /api/channel/import`: what importing `file` did, or with `dry_run` would do.
pub async fn import_channels(
    file: &veloera_admin_types::channel_transfer::ChannelExportFile,
    dry_run: bool,
) -> ApiResult<veloera_admin_types::channel_transfer::ChannelImportReport> {
    let url = if dry_run { "/api/channel/import?dry_run=true" } else { "/api/channel/import" };
    data(Method::POST, url, json(file)).await
}

// Tokens.

/// `page` counts from 1 here; Veloera numbers token pages from 0.
pub async fn list_tokens(page: i64, size: i64) -> ApiResult<Page<Token>> {
    let url = with_query("/api/token/", &[("p", (page - 1).to_string()), ("size", size.to_string())]);
    data(Method::GET, &url, None).await
}

pub async fn search_tokens(keyword: &str, token: &str) -> ApiResult<Vec<Token>> {
    let url = with_query("/api/token/search", &[("keyword", keyword.into()), ("token", token.into())]);
    Ok(request(Method::GET, &url, None).await?.unwrap_or_default())
}

pub async fn get_token(id: i64) -> ApiResult<Token> {
    data(Method::GET, &format!("/api/token/{id}"), None).await
}

/// Returns the created token with its full key (shown once).
pub async fn create_token(body: &TokenCreate) -> ApiResult<Option<Token>> {
    request(Method::POST, "/api/token/", json(body)).await
}

pub async fn update_token(body: &TokenUpdate) -> ApiResult<()> {
    done(Method::PUT, "/api/token/", json(body)).await
}

pub async fn set_token_status(id: i64, status: i32) -> ApiResult<()> {
    let body = TokenUpdate { id, status: Some(status), ..Default::default() };
    done(Method::PUT, "/api/token/?status_only=1", json(&body)).await
}

pub async fn delete_token(id: i64) -> ApiResult<()> {
    done(Method::DELETE, &format!("/api/token/{id}"), None).await
}

/// `POST /api/token/{id}/key`: the owner's full key.
pub async fn reveal_token_key(id: i64) -> ApiResult<String> {
    data(Method::POST, &format!("/api/token/{id}/key"), None).await
}

// Logs and dashboard.

/// The filter of the log page, as Veloera's query parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub log_type: i32,
    pub start: i64,
    pub end: i64,
    pub token_name: String,
    pub model_name: String,
    pub username: String,
    pub channel: String,
    pub group: String,
}

impl LogFilter {
    fn params(&self, admin: bool) -> Vec<(&'static str, String)> {
        let num = |n: i64| if n > 0 { n.to_string() } else { String::new() };
        let mut p = vec![
            ("type", if self.log_type > 0 { self.log_type.to_string() } else { String::new() }),
            ("start_timestamp", num(self.start)),
            ("end_timestamp", num(self.end)),
            ("token_name", self.token_name.clone()),
            ("model_name", self.model_name.clone()),
        ];
        if admin {
            p.push(("username", self.username.clone()));
            p.push(("channel", self.channel.clone()));
            p.push(("group", self.group.clone()));
        }
        p
    }
}

fn log_base(admin: bool) -> &'static str {
    if admin { "/api/log/" } else { "/api/log/self" }
}

pub async fn list_logs(filter: &LogFilter, admin: bool, page: i64, size: i64) -> ApiResult<Page<LogEntry>> {
    let mut params = filter.params(admin);
    params.push(("p", page.to_string()));
    params.push(("page_size", size.to_string()));
    data(Method::GET, &with_query(log_base(admin), &params), None).await
}

pub async fn log_stat(filter: &LogFilter, admin: bool) -> ApiResult<LogStat> {
    let path = if admin { "/api/log/stat" } else { "/api/log/self/stat" };
    data(Method::GET, &with_query(path, &filter.params(admin)), None).await
}

/// The CSV export URL of the filter (opened as a download by the browser).
pub fn log_export_url(filter: &LogFilter, admin: bool) -> String {
    let path = if admin { "/api/log/export" } else { "/api/log/self/export" };
    with_query(path, &filter.params(admin))
}

pub async fn delete_logs_before(timestamp: i64) -> ApiResult<Value> {
    Ok(request(Method::DELETE, &format!("/api/log/?target_timestamp={timestamp}"), None).await?.unwrap_or_default())
}

/// `GET /api/data/` (administrators, optionally one `username`) or `/api/data/self`: per bucket
/// (`hour`, `day`, `week`) and model.
pub async fn quota_data(admin: bool, username: &str, start: i64, end: i64, bucket: &str) -> ApiResult<Vec<QuotaData>> {
    let path = if admin { "/api/data/" } else { "/api/data/self" };
    let mut params = vec![
        ("start_timestamp", start.to_string()),
        ("end_timestamp", end.to_string()),
        ("default_time", bucket.to_string()),
    ];
    if admin {
        params.push(("username", username.to_string()));
    }
    Ok(request(Method::GET, &with_query(path, &params), None).await?.unwrap_or_default())
}

/// `GET /api/data/channels` (administrators): requests and error rate per channel in the window.
pub async fn channel_usage(start: i64, end: i64) -> ApiResult<Vec<ChannelUsage>> {
    let params = [("start_timestamp", start.to_string()), ("end_timestamp", end.to_string())];
    Ok(request(Method::GET, &with_query("/api/data/channels", &params), None).await?.unwrap_or_default())
}

// Wallet.

pub async fn redeem(key: String) -> ApiResult<TopUpResult> {
    data(Method::POST, "/api/user/topup", json(&TopUpRequest { key })).await
}

pub async fn check_in_status() -> ApiResult<CheckInStatus> {
    data(Method::GET, "/api/user/check_in_status", None).await
}

pub async fn check_in() -> ApiResult<CheckInResult> {
    data(Method::POST, "/api/user/check_in", None).await
}

pub async fn aff_code() -> ApiResult<String> {
    data(Method::GET, "/api/user/aff", None).await
}

pub async fn aff_transfer(quota: i64) -> ApiResult<AffTransferResult> {
    data(Method::POST, "/api/user/aff_transfer", json(&AffTransferRequest { quota })).await
}

// Playground.

/// `POST /pg/chat/completions` with the session: streams the answer, calling `on_text` with each piece of text
/// as it arrives, until the stream ends or `signal` aborts it (then `Ok`: what arrived stays). A refusal
/// (`{error: {message}}`, before or during the stream) is an error with the server's message.
pub async fn playground(body: &Value, signal: &web_sys::AbortSignal, mut on_text: impl FnMut(&str)) -> ApiResult<()> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let network = |e: wasm_bindgen::JsValue| ApiError::Network(format!("{e:?}"));
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_signal(Some(signal));
    init.set_body(&wasm_bindgen::JsValue::from_str(&body.to_string()));
    let request = web_sys::Request::new_with_str_and_init("/pg/chat/completions", &init).map_err(network)?;
    request.headers().set("Content-Type", "application/json").map_err(network)?;
    let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
    let resp: web_sys::Response = match JsFuture::from(window.fetch_with_request(&request)).await {
        Ok(r) => r.unchecked_into(),
        Err(_) if signal.aborted() => return Ok(()),
        Err(e) => return Err(network(e)),
    };
    let status = resp.status();
    if !resp.ok() {
        let text = match resp.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        return Err(ApiError::Server { status, message: error_message(&text).unwrap_or_else(|| short(&text)) });
    }
    let reader: web_sys::ReadableStreamDefaultReader =
        resp.body().ok_or_else(|| ApiError::Decode("the answer has no body".into()))?.get_reader().unchecked_into();
    let mut events = SseText::default();
    loop {
        let chunk = match JsFuture::from(reader.read()).await {
            Ok(c) => c,
            Err(_) if signal.aborted() => return Ok(()),
            Err(e) => return Err(network(e)),
        };
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            return Ok(());
        }
        let bytes = js_sys::Reflect::get(&chunk, &"value".into())
            .map(|v| js_sys::Uint8Array::new(&v).to_vec())
            .unwrap_or_default();
        for piece in events.feed(&bytes) {
            match piece {
                SsePiece::Text(t) => on_text(&t),
                SsePiece::Error(message) => return Err(ApiError::Server { status: 502, message }),
            }
        }
    }
}

/// The `error.message` of an OpenAI-shaped error body.
fn error_message(text: &str) -> Option<String> {
    let body: Value = serde_json::from_str(text).ok()?;
    body.get("error")?.get("message")?.as_str().map(str::to_string)
}

/// What one SSE event of a chat stream carried for the reader.
#[derive(Debug, PartialEq)]
pub enum SsePiece {
    Text(String),
    Error(String),
}

/// Splits an OpenAI chat stream into events as bytes arrive (an event, or a UTF-8 character, may be cut
/// between two reads).
#[derive(Default)]
pub struct SseText {
    pending: Vec<u8>,
}

impl SseText {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SsePiece> {
        self.pending.extend_from_slice(bytes);
        let mut pieces = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.pending.drain(..end + 2).collect();
            for line in String::from_utf8_lossy(&event).lines() {
                let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
                let Ok(chunk) = serde_json::from_str::<Value>(data) else { continue };
                if let Some(message) = chunk.get("error").and_then(|e| e.get("message")).and_then(Value::as_str) {
                    pieces.push(SsePiece::Error(message.to_string()));
                }
                let text = chunk.pointer("/choices/0/delta/content").and_then(Value::as_str).unwrap_or_default();
                if !text.is_empty() {
                    pieces.push(SsePiece::Text(text.to_string()));
                }
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_stream_cut_anywhere_yields_its_text_in_order() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"<script>\"}}]}\n\n\
                      data: {\"choices\":[{\"delta\":{\"content\":\"héllo\"}}]}\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for cut in 1..bytes.len() {
            let mut sse = SseText::default();
            let mut pieces = sse.feed(&bytes[..cut]);
            pieces.extend(sse.feed(&bytes[cut..]));
            let want = vec![SsePiece::Text("<script>".into()), SsePiece::Text("héllo".into())];
            assert_eq!(pieces, want, "cut at {cut}");
        }
    }

    #[test]
    fn an_error_event_in_the_stream_is_reported() {
        let mut sse = SseText::default();
        let pieces = sse.feed(b"data: {\"error\":{\"message\":\"upstream failed\"}}\n\n");
        assert_eq!(pieces, vec![SsePiece::Error("upstream failed".into())]);
        assert_eq!(error_message(r#"{"error":{"message":"not signed in"}}"#).as_deref(), Some("not signed in"));
    }
}
