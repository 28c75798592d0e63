//! `/api/log/` (admin): usage log rows, newest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::{Envelope, LogEntry};

use super::session::Admin;
use crate::db;
use crate::error::ControlError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    p: Option<i64>,
    #[serde(default)]
    page_size: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<PageQuery>,
) -> Result<Json<Envelope<Vec<LogEntry>>>, ControlError> {
    // Veloera pages from 1 (older builds from 0); treat both as the first page.
    let page = (q.p.unwrap_or(1) - 1).max(0);
    let size = q.page_size.unwrap_or(10).clamp(1, 100);
    let rows = db::logs::page(state.db(), page, size).await?;
    Ok(Json(Envelope::ok(rows.iter().map(|r| r.to_dto()).collect())))
}
