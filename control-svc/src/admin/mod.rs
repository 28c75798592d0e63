//! The admin REST API in Veloera's shapes, plus the admin UI's static files.

pub(crate) mod channel_health;
pub(crate) mod channels;
mod check_in;
mod data;
mod email;
mod groups;
mod invitations;
pub(crate) mod logs;
mod model_mapping;
mod models;
mod oauth;
mod options;
pub(crate) mod paging;
pub mod rate_limit;
pub(crate) mod redemptions;
mod register;
pub mod session;
mod setup;
mod site;
mod status;
pub(crate) mod tokens;
mod topup;
mod trailing_slash;
mod ui;
pub(crate) mod user_admin;
mod users;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::routing::get;

use crate::error::ControlError;
use crate::state::AppState;
use rate_limit::ApiLimits;

/// JSON body extractor whose rejection is our error (envelope, clear message) rather than axum's plain text.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ControlError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ControlError::BadRequest(format!("invalid request body: {}", e.body_text()))),
        }
    }
}

/// `/api/*` (behind the per-address limits) plus the UI at every other path.
pub fn router(state: AppState, ui_dir: &Path, limits: Arc<ApiLimits>) -> Router {
    let routes = Router::new()
        .route("/status", get(status::status))
        .route("/status/test", get(status::test))
        .route("/notice", get(status::notice))
        .route("/about", get(status::about))
        .route("/home_page_content", get(status::home_page_content))
        .route("/models", get(models::by_channel_type))
        .route("/pricing", get(models::pricing))
        .route("/user/models", get(models::usable))
        .route("/user/setting", axum::routing::put(users::update_setting))
        .route("/user/login", axum::routing::post(users::login))
        .route("/user/logout", get(users::logout))
        .route("/user/logout_all", axum::routing::post(users::logout_everywhere))
        .route("/user/self", get(users::get_self).put(users::update_self).delete(users::delete_self))
        .route("/user/register", axum::routing::post(register::register))
        .route("/user/token", get(users::access_token))
        .route("/user/groups", get(groups::usable))
        .route("/user/self/groups", get(groups::usable))
        .route("/group/", get(groups::names))
        .route("/user/reset", axum::routing::post(email::reset_password))
        .route("/verification", get(email::send_verification))
        .route("/reset_password", get(email::send_password_reset))
        .route("/oauth/state", get(oauth::issue_state))
        .route("/oauth/github", get(oauth::github))
        .route("/oauth/oidc", get(oauth::oidc))
        .route("/oauth/email/bind", get(email::bind_email).post(email::bind_email_json))
        .route("/setup", get(setup::get).post(setup::post))
        .route("/channel/", get(channels::list).post(channels::create).put(channels::update))
        .route("/channel/search", get(channels::search))
        .route("/channel/models", get(models::all_known))
        .route("/channel/models_enabled", get(channels::models_enabled))
        .route("/channel/fix", axum::routing::post(channels::fix))
        .route("/channel/tags", get(channels::list_tags))
        .route("/channel/tag", axum::routing::put(channels::edit_tag))
        .route("/channel/tag/disabled", axum::routing::post(channels::disable_by_tag))
        .route("/channel/tag/enabled", axum::routing::post(channels::enable_by_tag))
        .route("/channel/batch", axum::routing::post(channels::delete_batch))
        .route("/channel/batch/tag", axum::routing::post(channels::set_tag_batch))
        .route("/channel/disabled", axum::routing::delete(channels::delete_disabled))
        .route("/channel/export", get(channels::export))
        .route("/channel/import", axum::routing::post(channels::import).layer(channels::IMPORT_BODY_LIMIT))
        .route("/channel/{id}", get(channels::get_one).delete(channels::delete))
        .route("/channel/test", get(channel_health::test_all))
        .route("/channel/test/{id}", get(channel_health::test_one))
        .route("/channel/update_balance", get(channel_health::update_balance_all))
        .route("/channel/update_balance/{id}", get(channel_health::update_balance_one))
        .route("/channel/fetch_models", axum::routing::post(channel_health::fetch_models_for))
        .route("/channel/fetch_models/{id}", get(channel_health::fetch_models_of))
        .route("/channel/{id}/keys", get(channel_health::keys).put(channel_health::set_key_status))
        .route("/model_mapping/", get(model_mapping::get).put(model_mapping::put))
        .route("/model_mapping/reload", axum::routing::post(model_mapping::reload))
        .route("/token/", get(tokens::list).post(tokens::create).put(tokens::update))
        .route("/token/search", get(tokens::search))
        .route("/token/{id}", get(tokens::get_one).delete(tokens::delete))
        .route("/token/{id}/key", axum::routing::post(tokens::reveal_key))
        .route("/log/", get(logs::list).delete(logs::delete_before))
        .route("/log/search", get(logs::search))
        .route("/log/stat", get(logs::stat))
        .route("/log/export", get(logs::export))
        .route("/log/self", get(logs::list_self))
        .route("/log/self/search", get(logs::search_self))
        .route("/log/self/stat", get(logs::stat_self))
        .route("/log/self/export", get(logs::export_self))
        .route("/data/", get(data::all))
        .route("/data/self", get(data::own))
        .route("/data/channels", get(data::channels))
        .route("/option/", get(options::list).put(options::update))
        .route("/user/topup", axum::routing::post(topup::redeem))
        .route("/user/", get(user_admin::list).post(user_admin::create).put(user_admin::update))
        .route("/user/search", get(user_admin::search))
        .route("/user/manage", axum::routing::post(user_admin::manage))
        .route("/user/{id}", get(user_admin::get_one).delete(user_admin::delete))
        .route("/user/check_in_status", get(check_in::status))
        .route("/user/check_in", axum::routing::post(check_in::check_in))
        .route("/user/aff", get(invitations::aff_code))
        .route("/user/aff_transfer", axum::routing::post(invitations::transfer))
        .route("/redemption/", get(redemptions::list).post(redemptions::create).put(redemptions::update))
        .route("/redemption/search", get(redemptions::search))
        .route("/redemption/count-by-name", get(redemptions::count_by_name))
        .route(
            "/redemption/batch-disable",
            axum::routing::post(redemptions::disable_batch).put(redemptions::disable_batch),
        )
        .route("/redemption/delete-by-name", axum::routing::delete(redemptions::delete_by_name))
        .route("/redemption/delete-disabled", axum::routing::delete(redemptions::delete_disabled))
        .route("/redemption/{id}", get(redemptions::get_one).delete(redemptions::delete));
    // A path no route matches is tried once more with its trailing slash toggled (Gin's leniency, which
    // Veloera's UI relies on); only then is it "no such API route".
    let unrouted = || async { ControlError::NotFound("no such API route".into()) };
    let other_form = routes.clone().fallback(unrouted).with_state(state.clone());
    let api = routes
        .fallback(move |req: Request| trailing_slash::retry(other_form.clone(), req))
        .layer(axum::middleware::from_fn_with_state(limits, rate_limit::enforce));
    status::record_start();
    Router::new().nest("/api", api).merge(site::custom_files()).fallback_service(ui::service(ui_dir)).with_state(state)
}
