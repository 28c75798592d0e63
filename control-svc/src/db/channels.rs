//! The `channels` table. Keys are encrypted at rest; the admin API only ever sees masked hints.

use sqlx::FromRow;
use veloera_admin_types::Channel;

use super::{Db, insert_returning_id};
use crate::error::ControlError;

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
            setting: self.settings.setting.clone(),
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

/// A validated channel to insert (keys already encrypted).
pub struct NewChannel {
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
    pub model_prefix: String,
    pub settings: ChannelSettings,
}

pub async fn insert(db: &Db, c: &NewChannel) -> Result<i64, ControlError> {
    let q = format!(
        "INSERT INTO channels (type, name, key_ciphertext, key_hint, base_url, models, group_name, model_mapping, status, \
         priority, weight, auto_ban, test_model, openai_organization, tag, created_time, used_quota, other, param_override, \
         status_code_mapping, system_prompt, headers, setting, model_prefix) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?){}",
        db.returning_id()
    );
    let sql = db.sql(&q);
    let query = sqlx::query(&sql)
        .bind(c.channel_type)
        .bind(&c.name)
        .bind(&c.key_ciphertext)
        .bind(&c.key_hint)
        .bind(&c.base_url)
        .bind(&c.models)
        .bind(&c.group_name)
        .bind(&c.model_mapping)
        .bind(c.status)
        .bind(c.priority)
        .bind(c.weight)
        .bind(c.auto_ban)
        .bind(&c.test_model)
        .bind(&c.openai_organization)
        .bind(&c.tag)
        .bind(c.created_time)
        .bind(&c.settings.other)
        .bind(&c.settings.param_override)
        .bind(&c.settings.status_code_mapping)
        .bind(&c.settings.system_prompt)
        .bind(&c.settings.headers)
        .bind(&c.settings.setting)
        .bind(&c.model_prefix);
    insert_returning_id(db, db.pool(), query).await
}

pub async fn list(db: &Db) -> Result<Vec<ChannelRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channels ORDER BY id DESC");
    Ok(sqlx::query_as(&q).fetch_all(db.pool()).await?)
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<ChannelRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channels WHERE id = ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_optional(db.pool()).await?)
}
