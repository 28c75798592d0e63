//! The `channels` table. Keys are encrypted at rest; the admin API only ever sees masked hints.
//!
//! Layout: this file holds the row type and the reads; `write.rs` creates, edits and deletes channels;
//! `tags.rs` reads and edits channels by tag.

mod tags;
mod write;

use std::collections::BTreeSet;

use sqlx::FromRow;
use veloera_admin_types::Channel;

pub use tags::{TagEdit, edit_tag, set_status_by_tag, set_tag, tags};
pub use write::{NewChannel, StatusChange, delete, delete_disabled, insert, insert_with, set_status, update};

use super::Db;
use crate::error::ControlError;
use crate::routing::split_list;

#[derive(Debug, Clone, FromRow)]
pub struct ChannelRow {
    pub id: i64,
    #[sqlx(rename = "type")]
    pub channel_type: i64,
    pub name: String,
    pub key_ciphertext: String,
    pub key_hint: String,
    pub base_url: String,
    pub models: String,
    pub group_name: String,
    pub model_mapping: String,
    pub status: i64,
    pub priority: i64,
    pub weight: i64,
    pub auto_ban: i64,
    pub test_model: String,
    pub openai_organization: String,
    pub tag: String,
    pub created_time: i64,
    pub used_quota: i64,
    pub model_prefix: String,
    pub status_reason: String,
    pub status_time: i64,
    pub response_time: i64,
    pub test_time: i64,
    pub balance: f64,
    pub balance_updated_time: i64,
    #[sqlx(flatten)]
    pub settings: ChannelSettings,
}

/// Per-channel settings, validated on write (JSON texts are checked to be objects of the right shape).
#[derive(Debug, Clone, Default, FromRow)]
pub struct ChannelSettings {
    pub other: String,
    pub param_override: String,
    pub status_code_mapping: String,
    pub system_prompt: String,
    pub headers: String,
    pub setting: String,
}

pub(crate) const COLUMNS: &str = "id, type, name, key_ciphertext, key_hint, base_url, models, group_name, model_mapping, status, \
                       priority, weight, auto_ban, test_model, openai_organization, tag, created_time, used_quota, \
                       other, param_override, status_code_mapping, system_prompt, headers, setting, model_prefix, \
                       status_reason, status_time, response_time, test_time, balance, balance_updated_time";

impl ChannelRow {
    pub fn to_dto(&self) -> Channel {
        Channel {
            id: self.id,
            channel_type: self.channel_type as i32,
            name: self.name.clone(),
            key: self.key_hint.clone(),
            base_url: self.base_url.clone(),
            models: self.models.clone(),
            group: self.group_name.clone(),
            model_mapping: self.model_mapping.clone(),
            status: self.status as i32,
            priority: self.priority,
            weight: self.weight,
            auto_ban: self.auto_ban as i32,
            test_model: self.test_model.clone(),
            openai_organization: self.openai_organization.clone(),
            tag: self.tag.clone(),
            created_time: self.created_time,
            used_quota: self.used_quota,
            other: self.settings.other.clone(),
            param_override: self.settings.param_override.clone(),
            status_code_mapping: self.settings.status_code_mapping.clone(),
            system_prompt: self.settings.system_prompt.clone(),
            headers: self.settings.headers.clone(),
            setting: crate::routing::proxy_secret::redact_setting(&self.settings.setting),
            model_prefix: self.model_prefix.clone(),
            other_info: serde_json::json!({ "status_reason": self.status_reason, "status_time": self.status_time })
                .to_string(),
            response_time: self.response_time,
            test_time: self.test_time,
            balance: self.balance,
            balance_updated_time: self.balance_updated_time,
        }
    }
}

/// The order of admin channel lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    /// Newest first.
    IdDesc,
    /// Veloera's default: highest priority first, newest first within a priority.
    PriorityDesc,
}

impl ChannelOrder {
    fn sql(self) -> &'static str {
        match self {
            ChannelOrder::IdDesc => "id DESC",
            ChannelOrder::PriorityDesc => "priority DESC, id DESC",
        }
    }
}

/// Every channel, newest first (what the routing snapshot is built from).
pub async fn list(db: &Db) -> Result<Vec<ChannelRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channels ORDER BY id DESC");
    Ok(sqlx::query_as(&q).fetch_all(db.pool()).await?)
}

/// One page (`offset`, `limit`) of channels in `order`, or all of them when `window` is `None`.
pub async fn page(db: &Db, order: ChannelOrder, window: Option<(i64, i64)>) -> Result<Vec<ChannelRow>, ControlError> {
    let order = order.sql();
    match window {
        None => {
            Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM channels ORDER BY {order}")).fetch_all(db.pool()).await?)
        }
        Some((offset, limit)) => {
            let q = format!("SELECT {COLUMNS} FROM channels ORDER BY {order} LIMIT ? OFFSET ?");
            Ok(sqlx::query_as(&db.sql(&q)).bind(limit).bind(offset).fetch_all(db.pool()).await?)
        }
    }
}

/// How many channels there are (the `total` of the paged list).
pub async fn count(db: &Db) -> Result<i64, ControlError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM channels").fetch_one(db.pool()).await?)
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<ChannelRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channels WHERE id = ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_optional(db.pool()).await?)
}

/// Filters of the admin channel search; empty strings filter nothing.
#[derive(Debug, Clone, Default)]
pub struct ChannelSearch {
    /// The channel id, or a case-insensitive part of the name or base URL.
    pub keyword: String,
    /// A group the channel serves (exact element of its group list).
    pub group: String,
    /// A model the channel serves (exact element of its model list).
    pub model: String,
}

/// Channels matching every filter of `search`, in `order`.
pub async fn search(db: &Db, search: &ChannelSearch, order: ChannelOrder) -> Result<Vec<ChannelRow>, ControlError> {
    let keyword = search.keyword.trim().to_lowercase();
    let rows: Vec<ChannelRow> = if keyword.is_empty() {
        page(db, order, None).await?
    } else {
        // `!` escapes LIKE wildcards: a backslash would itself need escaping in MySQL string literals.
        let pattern = format!("%{}%", keyword.replace('!', "!!").replace('%', "!%").replace('_', "!_"));
        let q = format!(
            "SELECT {COLUMNS} FROM channels \
             WHERE id = ? OR LOWER(name) LIKE ? ESCAPE '!' OR LOWER(base_url) LIKE ? ESCAPE '!' \
             ORDER BY {}",
            order.sql()
        );
        let id: i64 = keyword.parse().unwrap_or(-1);
        sqlx::query_as(&db.sql(&q)).bind(id).bind(&pattern).bind(&pattern).fetch_all(db.pool()).await?
    };
    let has = |list: &str, wanted: &str| {
        let wanted = wanted.trim();
        wanted.is_empty() || split_list(list).iter().any(|x| x == wanted)
    };
    Ok(rows.into_iter().filter(|r| has(&r.group_name, &search.group) && has(&r.models, &search.model)).collect())
}

/// The model names served by enabled channels, sorted and unique.
pub async fn enabled_models(db: &Db) -> Result<BTreeSet<String>, ControlError> {
    let lists: Vec<(String,)> =
        sqlx::query_as("SELECT models FROM channels WHERE status = 1").fetch_all(db.pool()).await?;
    Ok(lists.iter().flat_map(|(models,)| split_list(models)).collect())
}
