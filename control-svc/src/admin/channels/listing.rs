//! Reading channels in bulk: Veloera's paged list, the search, and the models of enabled channels.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::{Channel, Envelope, Page};

use super::query;
use crate::admin::paging::{FirstPage, PageQuery};
use crate::admin::session::Admin;
use crate::db::channels::{ChannelOrder, ChannelRow, ChannelSearch};
use crate::db::{self};
use crate::error::ControlError;
use crate::state::AppState;

/// Veloera's list parameters. `tag_mode` (group the list by tag) is accepted and ignored, like any other
/// unknown parameter: the list is always one row per channel.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    #[serde(default)]
    id_sort: Option<String>,
}

fn order(id_sort: Option<&str>) -> ChannelOrder {
    match id_sort {
        Some("true" | "1") => ChannelOrder::IdDesc,
        _ => ChannelOrder::PriorityDesc,
    }
}

fn dtos(rows: &[ChannelRow]) -> Vec<Channel> {
    rows.iter().map(ChannelRow::to_dto).collect()
}

/// `GET /api/channel/?p=&page_size=&id_sort=`: one page as `{items, total, page, page_size}`. Pages count from
/// 0, as Veloera's channel list does (`offset = p * page_size`); 10 rows by default and at most 100.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Envelope<Page<Channel>>>, ControlError> {
    let q = query(q)?;
    let page = q.paging.request(FirstPage::Zero);
    let rows = db::channels::page(state.db(), order(q.id_sort.as_deref()), Some((page.offset(), page.size))).await?;
    let total = db::channels::count(state.db()).await?;
    Ok(Json(Envelope::ok(page.answer(dtos(&rows), total))))
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
