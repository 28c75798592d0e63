//! The `quota_data` table (Veloera's dashboard data): settled usage summed per user, model, channel and hour,
//! added to in the settlement transaction, and the dashboard's reads over it.

use std::collections::BTreeMap;

use veloera_admin_types::{ChannelUsage, QuotaData};

use super::{Backend, Db};
use crate::error::ControlError;

/// Seconds in the hour the table sums over.
pub const HOUR: i64 = 3600;

/// What one (user, model, channel, hour) gains from a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    pub requests: i64,
    pub errors: i64,
    pub tokens: i64,
    pub quota: i64,
}

/// (user id, model, channel id, hour start).
pub type Key = (i64, String, i64, i64);

/// The hour holding `secs`.
pub fn hour_of(secs: i64) -> i64 {
    secs - secs.rem_euclid(HOUR)
}

/// Adds each delta to its row (created when missing) inside the settlement transaction; `names` gives each
/// user's name.
pub async fn add(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    deltas: &BTreeMap<Key, Delta>,
    names: &BTreeMap<i64, String>,
) -> Result<(), ControlError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let insert = "INSERT INTO quota_data (user_id, username, model_name, channel_id, created_at, request_count, \
                  error_count, token_used, quota) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = match db.backend() {
        Backend::MySql => format!(
            "{insert} ON DUPLICATE KEY UPDATE request_count = request_count + VALUES(request_count), \
             error_count = error_count + VALUES(error_count), token_used = token_used + VALUES(token_used), \
             quota = quota + VALUES(quota), username = VALUES(username)"
        ),
        Backend::Sqlite | Backend::Postgres => format!(
            "{insert} ON CONFLICT (user_id, model_name, channel_id, created_at) DO UPDATE SET \
             request_count = quota_data.request_count + excluded.request_count, \
             error_count = quota_data.error_count + excluded.error_count, \
             token_used = quota_data.token_used + excluded.token_used, \
             quota = quota_data.quota + excluded.quota, username = excluded.username"
        ),
    };
    let sql = db.sql(&sql);
    for ((user_id, model, channel_id, hour), d) in deltas {
        sqlx::query(&sql)
            .bind(user_id)
            .bind(names.get(user_id).cloned().unwrap_or_default())
            .bind(model)
            .bind(channel_id)
            .bind(hour)
            .bind(d.requests)
            .bind(d.errors)
            .bind(d.tokens)
            .bind(d.quota)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Which rows a dashboard view sums: a time window (unix seconds, inclusive), optionally one user (by id for
/// `/api/data/self`, by name for administrators), in buckets of `bucket` seconds (an hour, a day or a week).
#[derive(Debug, Clone)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub bucket: i64,
}

/// What a dashboard view groups by besides the time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    User,
}

/// Requests, tokens and quota per bucket and model (or user), oldest first.
pub async fn series(db: &Db, w: &Window, by: GroupBy) -> Result<Vec<QuotaData>, ControlError> {
    let bucket = format!("(created_at - created_at % {})", w.bucket.max(1));
    let (key_columns, group) = match by {
        GroupBy::Model => ("0, '', model_name", "model_name"),
        GroupBy::User => ("user_id, MAX(username), ''", "user_id"),
    };
    let mut sql = format!(
        "SELECT {key_columns}, {bucket} AS bucket, {}, {}, {} FROM quota_data WHERE created_at >= ? AND created_at <= ?",
        db.sum("request_count"),
        db.sum("token_used"),
        db.sum("quota"),
    );
    if w.user_id.is_some() {
        sql.push_str(" AND user_id = ?");
    }
    if w.username.is_some() {
        sql.push_str(" AND username = ?");
    }
    sql.push_str(&format!(
        " GROUP BY {group}, {bucket} HAVING {} > 0 ORDER BY bucket, {group}",
        db.sum("request_count")
    ));
    let sql = db.sql(&sql);
    // The window's start is widened to its bucket, so the first bucket is whole.
    let start = w.start - w.start.rem_euclid(w.bucket.max(1));
    let mut query = sqlx::query_as::<_, (i64, String, String, i64, i64, i64, i64)>(&sql).bind(start).bind(w.end);
    if let Some(id) = w.user_id {
        query = query.bind(id);
    }
    if let Some(name) = &w.username {
        query = query.bind(name.clone());
    }
    let rows = query.fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, username, model_name, created_at, count, token_used, quota)| QuotaData {
            user_id,
            username,
            model_name,
            created_at,
            count,
            token_used,
            quota,
        })
        .collect())
}

/// Per channel over `[start, end]`: requests answered, failed attempts, tokens and quota, busiest first.
pub async fn channels(db: &Db, start: i64, end: i64) -> Result<Vec<ChannelUsage>, ControlError> {
    let sql = format!(
        "SELECT q.channel_id, COALESCE(MAX(c.name), ''), {}, {}, {}, {} FROM quota_data q \
         LEFT JOIN channels c ON c.id = q.channel_id WHERE q.created_at >= ? AND q.created_at <= ? \
         GROUP BY q.channel_id ORDER BY q.channel_id",
        db.sum("q.request_count"),
        db.sum("q.error_count"),
        db.sum("q.token_used"),
        db.sum("q.quota"),
    );
    let start = hour_of(start);
    let rows: Vec<(i64, String, i64, i64, i64, i64)> =
        sqlx::query_as(&db.sql(&sql)).bind(start).bind(end).fetch_all(db.pool()).await?;
    let mut out: Vec<ChannelUsage> = rows
        .into_iter()
        .map(|(channel_id, channel_name, count, error_count, token_used, quota)| ChannelUsage {
            channel_id,
            channel_name,
            count,
            error_count,
            error_rate: if count + error_count > 0 { error_count as f64 / (count + error_count) as f64 } else { 0.0 },
            token_used,
            quota,
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.count + c.error_count));
    Ok(out)
}
