//! Creating, editing and deleting channels. Multi-statement writes run in one transaction.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::ChannelSettings;
use crate::db::{Db, insert_returning_id};
use crate::error::ControlError;

/// A validated channel to insert or to write over an existing one (keys already encrypted).
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
    /// Written on insert only.
    pub created_time: i64,
    pub model_prefix: String,
    pub settings: ChannelSettings,
}

/// A status set by hand, with the bookkeeping that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// Enabled (1): the disable reason and time and the circuit-breaker state are cleared, so the channel is
    /// tried again at once.
    Enable,
    /// Disabled (2), with why and when (unix seconds).
    Disable { reason: String, at: i64 },
}

impl StatusChange {
    pub fn status(&self) -> i64 {
        match self {
            StatusChange::Enable => 1,
            StatusChange::Disable { .. } => 2,
        }
    }

    /// Assignments besides `status` itself, binding the reason and then the time.
    pub(super) fn assignments(&self) -> &'static str {
        match self {
            StatusChange::Enable => {
                "status_reason = ?, status_time = ?, fail_count = 0, fail_window_start = 0, probe_at = 0, backoff_secs = 0"
            }
            StatusChange::Disable { .. } => "status_reason = ?, status_time = ?",
        }
    }

    pub(super) fn bind<'q>(&'q self, q: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        match self {
            StatusChange::Enable => q.bind("").bind(0_i64),
            StatusChange::Disable { reason, at } => q.bind(reason.as_str()).bind(*at),
        }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The written fields, in the order of [`FIELDS`].
const FIELDS: &str = "type, name, key_ciphertext, key_hint, base_url, models, group_name, model_mapping, status, \
                      priority, weight, auto_ban, test_model, openai_organization, tag, other, param_override, \
                      status_code_mapping, system_prompt, headers, setting, model_prefix";

/// Binds `c`'s fields in the order of [`FIELDS`].
fn bind_fields<'q>(query: AnyQuery<'q>, c: &'q NewChannel) -> AnyQuery<'q> {
    query
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
        .bind(&c.settings.other)
        .bind(&c.settings.param_override)
        .bind(&c.settings.status_code_mapping)
        .bind(&c.settings.system_prompt)
        .bind(&c.settings.headers)
        .bind(&c.settings.setting)
        .bind(&c.model_prefix)
}

pub async fn insert(db: &Db, c: &NewChannel) -> Result<i64, ControlError> {
    insert_with(db, db.pool(), c).await
}

/// [`insert`] on a connection or transaction of the caller's (the database import writes in one transaction).
pub async fn insert_with<'c, E>(db: &Db, exec: E, c: &NewChannel) -> Result<i64, ControlError>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    let marks = vec!["?"; FIELDS.split(',').count()].join(", ");
    let q = format!(
        "INSERT INTO channels ({FIELDS}, created_time, used_quota) VALUES ({marks}, ?, 0){}",
        db.returning_id()
    );
    let sql = db.sql(&q);
    let query = bind_fields(sqlx::query(&sql), c).bind(c.created_time);
    insert_returning_id(db, exec, query).await
}

/// Writes every field of `c` over channel `id` (not `created_time`, usage or test bookkeeping). With a
/// `change`, its status bookkeeping is written too; `c.status` should then agree with it.
pub async fn update(db: &Db, id: i64, c: &NewChannel, change: Option<&StatusChange>) -> Result<(), ControlError> {
    let extra = change.map(|ch| format!(", {}", ch.assignments())).unwrap_or_default();
    let assignments = FIELDS.split(',').map(|f| format!("{} = ?", f.trim())).collect::<Vec<_>>().join(", ");
    let q = format!("UPDATE channels SET {assignments}{extra} WHERE id = ?");
    let sql = db.sql(&q);
    let mut query = bind_fields(sqlx::query(&sql), c);
    if let Some(ch) = change {
        query = ch.bind(query);
    }
    query.bind(id).execute(db.pool()).await?;
    Ok(())
}

/// Sets one channel's status by hand (the gRPC admin service; `PUT /api/channel/` writes the status together with
/// the rest of the channel through [`update`]). `NotFound` when the channel does not exist.
pub async fn set_status(db: &Db, id: i64, change: &StatusChange) -> Result<(), ControlError> {
    let q = format!("UPDATE channels SET status = ?, {} WHERE id = ?", change.assignments());
    let sql = db.sql(&q);
    let done = change.bind(sqlx::query(&sql).bind(change.status())).bind(id).execute(db.pool()).await?;
    if done.rows_affected() == 0 {
        return Err(ControlError::NotFound(format!("channel {id} not found")));
    }
    Ok(())
}

/// Deletes the channels `ids` and their per-key health rows, all or nothing: if any id does not exist,
/// nothing is deleted and the error names the missing ids. Returns how many channels were deleted.
pub async fn delete(db: &Db, ids: &[i64]) -> Result<u64, ControlError> {
    let ids = distinct(ids);
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    require_all(db, &mut tx, &ids).await?;
    let list = placeholders(ids.len());
    let keys = format!("DELETE FROM channel_keys WHERE channel_id IN ({list})");
    bind_all(sqlx::query(&db.sql(&keys)), &ids).execute(&mut *tx).await?;
    let channels = format!("DELETE FROM channels WHERE id IN ({list})");
    let deleted = bind_all(sqlx::query(&db.sql(&channels)), &ids).execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes every disabled channel (status 2 or 3) and their per-key health rows; returns how many channels.
pub async fn delete_disabled(db: &Db) -> Result<u64, ControlError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM channel_keys WHERE channel_id IN (SELECT id FROM channels WHERE status IN (2, 3))")
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM channels WHERE status IN (2, 3)").execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// `ids` without repeats, in their first order.
pub(super) fn distinct(ids: &[i64]) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// `?, ?, ?` for `n` values.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub(super) fn bind_all<'q>(mut q: Query<'q, Any, AnyArguments<'q>>, ids: &[i64]) -> Query<'q, Any, AnyArguments<'q>> {
    for id in ids {
        q = q.bind(*id);
    }
    q
}

/// Fails with `NotFound`, naming the ids that are not channels, unless every one of `ids` exists.
pub(super) async fn require_all(db: &Db, conn: &mut AnyConnection, ids: &[i64]) -> Result<(), ControlError> {
    let q = format!("SELECT id FROM channels WHERE id IN ({})", placeholders(ids.len()));
    let sql = db.sql(&q);
    let mut found = sqlx::query_scalar::<_, i64>(&sql);
    for id in ids {
        found = found.bind(*id);
    }
    let found: std::collections::HashSet<i64> = found.fetch_all(&mut *conn).await?.into_iter().collect();
    let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id)).map(|id| id.to_string()).collect();
    match missing.len() {
        0 => Ok(()),
        1 => Err(ControlError::NotFound(format!("channel {} not found; nothing was changed", missing[0]))),
        _ => Err(ControlError::NotFound(format!("channels {} not found; nothing was changed", missing.join(", ")))),
    }
}
