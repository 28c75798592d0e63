//! Reading channels in bulk: Veloera's paged list, the search, and the models of enabled channels.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::{Channel, Envelope};

use super::query;
use crate::admin::session::Admin;
use crate::db::channels::{ChannelOrder, ChannelRow, ChannelSearch};
use crate::db::{self};
use crate::error::ControlError;
use crate::state::AppState;

/// Veloera's list parameters. `tag_mode` (group the list by tag) is accepted and ignored, like any other
/// unknown parameter: the list is always one row per channel.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    p: Option<String>,
    #[serde(default)]
    page_size: Option<String>,
    #[serde(default)]
    id_sort: Option<String>,
}

fn order(id_sort: Option<&str>) -> ChannelOrder {
    match id_sort {
        Some("true" | "1") => ChannelOrder::IdDesc,
        _ => ChannelOrder::PriorityDesc,
    }
}

/// An optional integer parameter; empty counts as absent.
fn number(name: &str, value: Option<&str>) -> Result<Option<i64>, ControlError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ControlError::BadRequest(format!("{name} must be a whole number"))),
    }
}

fn dtos(rows: &[ChannelRow]) -> Vec<Channel> {
    rows.iter().map(ChannelRow::to_dto).collect()
}

/// `GET /api/channel/?p=&page_size=&id_sort=`: one page, numbered from 1 as in `/api/log/` (0 is also the
/// first page, as older Veloera builds counted), 10 rows by default and at most 100. Without `p` and
/// `page_size` every channel is listed, as the bundled admin UI expects.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Envelope<Vec<Channel>>>, ControlError> {
    let q = query(q)?;
    let page = number("p", q.p.as_deref())?;
    let size = number("page_size", q.page_size.as_deref())?;
    let window = match (page, size) {
        (None, None) => None,
        (page, size) => {
            let page = (page.unwrap_or(1) - 1).max(0);
            let size = size.unwrap_or(10).clamp(1, 100);
            Some((page * size, size))
        }
    };
    let rows = db::channels::page(state.db(), order(q.id_sort.as_deref()), window).await?;
    Ok(Json(Envelope::ok(dtos(&rows))))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    id_sort: Option<String>,
}

/// `GET /api/channel/search?keyword=&group=&model=&id_sort=`: `keyword` matches the id, or part of the name
/// or base URL (case-insensitive); `group` and `model` must be elements of the channel's lists.
pub async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Envelope<Vec<Channel>>>, ControlError> {
    let q = query(q)?;
    let filters = ChannelSearch { keyword: q.keyword, group: q.group, model: q.model };
    let rows = db::channels::search(state.db(), &filters, order(q.id_sort.as_deref())).await?;
    Ok(Json(Envelope::ok(dtos(&rows))))
}

/// `GET /api/channel/models_enabled`: the model names of enabled channels, sorted and unique.
pub async fn models_enabled(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    Ok(Json(Envelope::ok(db::channels::enabled_models(state.db()).await?.into_iter().collect())))
}
