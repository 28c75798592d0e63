//! `/healthz` (the process answers) and `/readyz` (it can do its work: the database answers), for platforms,
//! load balancers and the container's launcher. Outside `/api`, so they are never rate-limited (and they sit
//! outside the admin router, whose routes the authorization matrix reads as `/api` routes).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// Longest wait for the database; a probe must answer even when the database does not.
const DATABASE_DEADLINE: Duration = Duration::from_secs(2);

/// The probe routes, to merge into the HTTP router.
pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

/// `GET /healthz`: always 200 while the process serves HTTP.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers `SELECT 1` within two seconds, else 503 naming it.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(DATABASE_DEADLINE, state.db().ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database failed");
            Err("the database failed a query")
        }
        Err(_) => Err("the database did not answer within 2 s"),
    };
    match database {
        Ok(()) => Json(json!({ "status": "ready", "checks": { "database": { "status": "ok" } } })).into_response(),
        Err(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "failing": ["database"],
                "checks": { "database": { "status": "failing", "detail": detail } },
            })),
        )
            .into_response(),
    }
}
