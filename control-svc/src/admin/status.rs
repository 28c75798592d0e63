//! `GET /api/status`: public site configuration the UI needs before login.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use veloera_admin_types::Envelope;

use crate::state::AppState;

pub async fn status(State(state): State<AppState>) -> Json<Envelope<Value>> {
    Json(Envelope::ok(json!({
        "system_name": "Veloera",
        "version": env!("CARGO_PKG_VERSION"),
        "quota_per_unit": state.prices().quota_per_unit(),
        "setup": true,
    })))
}
