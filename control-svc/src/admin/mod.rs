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
pub mod routes;
pub mod session;
mod setup;
pub(crate) mod site;
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
    let routes = routes::router();
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
