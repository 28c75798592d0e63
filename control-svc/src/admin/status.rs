//! Public site information: `GET /api/status` (what the UI needs before login), the admin-written pages
//! (`/api/notice`, `/api/about`, `/api/home_page_content`), and the administrators' `GET /api/status/test`.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use veloera_admin_types::Envelope;

use super::session::Admin;
use super::site;
use crate::db;
use crate::error::ControlError;
use crate::state::AppState;

/// When this process started (unix seconds), Veloera's `start_time`.
static STARTED_AT: LazyLock<i64> = LazyLock::new(db::now_secs);

/// Records the start time; called once when the router is built, so `start_time` is not the first request's.
pub fn record_start() {
    LazyLock::force(&STARTED_AT);
}

/// Every key of Veloera's `GetStatus`. Sign-in: `github_oauth`, `github_client_id`, `oidc_enabled`,
/// `oidc_client_id`, `oidc_authorization_endpoint` (explicit, or from the discovery document),
/// `email_verification`; `setup` is false until an account exists. `log_chat_content_enabled` says whether
/// prompts and answers are being recorded (`LogChatContentEnabled`), so the UI and clients can warn their
/// users. The site's look and the UI's switches come from `admin::site`.
pub async fn status(State(state): State<AppState>) -> Result<Json<Envelope<Value>>, ControlError> {
    let settings = state.accounts();
    let oidc_authorization_endpoint = if settings.oidc.enabled {
        state.oauth().oidc_endpoints(&settings.oidc).await?.authorization_endpoint
    } else {
        String::new()
    };
    let github_enabled = settings.github.enabled;
    let mut fields = state.options().site.clone();
    fields.extend(site::object(json!({
        "system_name": settings.system_name.clone(),
        "version": env!("CARGO_PKG_VERSION"),
        "quota_per_unit": state.prices().quota_per_unit(),
        "setup": db::users::count(state.db()).await? > 0,
        "email_verification": settings.email_verification_enabled,
        "github_oauth": github_enabled,
        "github_client_id": if github_enabled { settings.github.client_id.clone() } else { String::new() },
        "oidc_enabled": settings.oidc.enabled,
        "oidc_client_id": if settings.oidc.enabled { settings.oidc.client_id.clone() } else { String::new() },
        "oidc_authorization_endpoint": oidc_authorization_endpoint,
        "log_chat_content_enabled": state.relay_settings().log_chat_content_enabled,
        "start_time": *STARTED_AT,
        // Online payment is not offered (`enable_online_topup` is false); these are Veloera's defaults.
        "price": 7.3,
        "min_topup": 1,
    })));
    Ok(Json(Envelope::ok(Value::Object(fields))))
}

/// `GET /api/status/test` (admin): whether the database answers.
pub async fn test(State(state): State<AppState>, _admin: Admin) -> Result<Json<Envelope<()>>, ControlError> {
    state.db().ping().await?;
    Ok(Json(Envelope { success: true, message: "the database is reachable".into(), data: None }))
}

/// `GET /api/notice`: the option `Notice` (empty when unset).
pub async fn notice(State(state): State<AppState>) -> Result<Json<Envelope<String>>, ControlError> {
    page(&state, "Notice").await
}

/// `GET /api/about`: the option `About` (empty when unset).
pub async fn about(State(state): State<AppState>) -> Result<Json<Envelope<String>>, ControlError> {
    page(&state, "About").await
}

/// `GET /api/home_page_content`: the option `HomePageContent` (empty when unset).
pub async fn home_page_content(State(state): State<AppState>) -> Result<Json<Envelope<String>>, ControlError> {
    page(&state, "HomePageContent").await
}

/// One content option as `data`: Markdown, HTML or a URL, shown by the UI as the administrator wrote it.
async fn page(state: &AppState, option: &str) -> Result<Json<Envelope<String>>, ControlError> {
    let value = db::options::get(state.db(), state.db().pool(), option).await?.unwrap_or_default();
    Ok(Json(Envelope::ok(value)))
}
