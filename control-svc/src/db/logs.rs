//! The `logs` table: reads for the admin views, and the account events (top-ups, check-ins, administrators'
//! quota changes). Consume rows are written in batches by `usage::settle`.

use sqlx::FromRow;
use veloera_admin_types::{ChatContent, LogEntry, LogStat, log_type};

use super::Db;
use crate::error::ControlError;

#[derive(Debug, Clone, FromRow)]
pub struct LogRow {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    #[sqlx(rename = "type")]
    pub log_type: i64,
    pub content: String,
    pub username: String,
    pub token_name: String,
    pub token_id: i64,
    pub model_name: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub use_time: i64,
    pub is_stream: i64,
    pub channel_id: i64,
    pub group_name: String,
    pub client_ip: String,
    pub request_id: String,
    pub other: String,
    /// The recorded prompt and answer (NULL unless `LogChatContentEnabled` was on).
    pub content_prompt: Option<LongText>,
    pub content_answer: Option<LongText>,
    /// Joined from `channels` at read time (empty once the channel is gone).
    pub channel_name: String,
}

impl LogRow {
    /// The row as administrators see it.
    pub fn to_dto(&self) -> LogEntry {
        LogEntry {
            id: self.id,
            user_id: self.user_id,
            created_at: self.created_at,
            log_type: self.log_type as i32,
            content: self.content.clone(),
            username: self.username.clone(),
            token_name: self.token_name.clone(),
            token_id: self.token_id,
            model_name: self.model_name.clone(),
            quota: self.quota,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            use_time: self.use_time,
            is_stream: self.is_stream != 0,
            channel: self.channel_id,
            group: self.group_name.clone(),
            request_id: self.request_id.clone(),
            other: self.other.clone(),
            channel_name: self.channel_name.clone(),
            client_ip: self.client_ip.clone(),
            chat_content: match (&self.content_prompt, &self.content_answer) {
                (None, None) => None,
                (prompt, answer) => Some(ChatContent {
                    prompt: prompt.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
                    answer: answer.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
                }),
            },
        }
    }

    /// The row as its own user sees it (Veloera's sanitising): no channel id or name, no `other.admin_info`
    /// (the retry trail names channels), and the id reduced to `id % 1024` so it does not reveal the site's volume.
    /// The recorded chat content stays: the self views select only the user's own rows.
    pub fn to_self_dto(&self) -> LogEntry {
        let mut dto = self.to_dto();
        dto.id = self.id % 1024;
        dto.channel = 0;
        dto.channel_name = String::new();
        if let Ok(serde_json::Value::Object(mut other)) = serde_json::from_str(&self.other) {
            other.remove("admin_info");
            dto.other = serde_json::Value::Object(other).to_string();
        }
        dto
    }
}

/// A text column too long for MySQL's `VARCHAR` (the recorded chat content, up to 64 KiB, is `MEDIUMTEXT`
/// there): sqlx's Any driver hands MySQL's `TEXT` types over as bytes, the other backends' `TEXT` as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongText(pub String);

impl sqlx::Type<sqlx::Any> for LongText {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty) || <Vec<u8> as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for LongText {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <String as sqlx::Decode<sqlx::Any>>::decode(value.clone()) {
            Ok(text) => Ok(LongText(text)),
            Err(_) => {
                let bytes = <Vec<u8> as sqlx::Decode<sqlx::Any>>::decode(value)?;
                Ok(LongText(String::from_utf8(bytes)?))
            }
        }
    }
}

/// Which rows a view selects: Veloera's filters. `user_id` confines the view to one user (the self views);
/// `log_type` 0 means every type; `model_name` is an SQL `LIKE` pattern, as in Veloera.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub user_id: Option<i64>,
    pub log_type: i64,
    pub start_timestamp: Option<i64>,
    pub end_timestamp: Option<i64>,
    pub username: Option<String>,
    pub token_name: Option<String>,
    pub model_name: Option<String>,
    pub channel: Option<i64>,
    pub group: Option<String>,
}

enum Bind {
    Int(i64),
    Text(String),
}

impl LogFilter {
    /// `WHERE …` (always present, so callers may append `AND …`) and its values, in order.
    fn where_clause(&self) -> (String, Vec<Bind>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut binds = Vec::new();
        let mut int = |sql: &mut String, cond: &str, v: i64| {
            sql.push_str(cond);
            binds.push(Bind::Int(v));
        };
        if let Some(id) = self.user_id {
            int(&mut sql, " AND l.user_id = ?", id);
        }
        if self.log_type != 0 {
            int(&mut sql, " AND l.type = ?", self.log_type);
        }
        if let Some(t) = self.start_timestamp {
            int(&mut sql, " AND l.created_at >= ?", t);
        }
        if let Some(t) = self.end_timestamp {
            int(&mut sql, " AND l.created_at <= ?", t);
        }
        if let Some(c) = self.channel {
            int(&mut sql, " AND l.channel_id = ?", c);
        }
        for (cond, value) in [
            (" AND l.username = ?", &self.username),
            (" AND l.token_name = ?", &self.token_name),
            (" AND l.model_name LIKE ?", &self.model_name),
            (" AND l.group_name = ?", &self.group),
        ] {
            if let Some(v) = value {
                sql.push_str(cond);
                binds.push(Bind::Text(v.clone()));
            }
        }
        (sql, binds)
    }
}

const SELECT: &str = "SELECT l.id, l.user_id, l.created_at, l.type, l.content, l.username, l.token_name, l.token_id, \
    l.model_name, l.quota, l.prompt_tokens, l.completion_tokens, l.use_time, l.is_stream, l.channel_id, l.group_name, \
    l.client_ip, l.request_id, l.other, l.content_prompt, l.content_answer, COALESCE(c.name, '') AS channel_name \
    FROM logs l LEFT JOIN channels c ON c.id = l.channel_id";

async fn select(db: &Db, filter_sql: &str, binds: Vec<Bind>, tail: &str) -> Result<Vec<LogRow>, ControlError> {
    let sql = format!("{SELECT}{filter_sql}{tail}");
    let sql = db.sql(&sql);
    let mut query = sqlx::query_as::<_, LogRow>(&sql);
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    Ok(query.fetch_all(db.pool()).await?)
}

/// Matching rows, newest first: `limit` of them after skipping `offset`.
pub async fn page(db: &Db, filter: &LogFilter, offset: i64, limit: i64) -> Result<Vec<LogRow>, ControlError> {
    let (sql, mut binds) = filter.where_clause();
    binds.push(Bind::Int(limit));
    binds.push(Bind::Int(offset));
    select(db, &sql, binds, " ORDER BY l.id DESC LIMIT ? OFFSET ?").await
}

/// How many rows match (the `total` of a paged list).
pub async fn count(db: &Db, filter: &LogFilter) -> Result<i64, ControlError> {
    let (filter_sql, binds) = filter.where_clause();
    let sql = format!("SELECT COUNT(*) FROM logs l{filter_sql}");
    let sql = db.sql(&sql);
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    Ok(query.fetch_one(db.pool()).await?)
}

/// Rows of `/api/log/search`, newest first, at most `limit`: of that type when `keyword` is a number, and (for
/// administrators, `user_id` = None) also those whose content starts with `keyword`.
pub async fn search(db: &Db, user_id: Option<i64>, keyword: &str, limit: i64) -> Result<Vec<LogRow>, ControlError> {
    let keyword = keyword.trim();
    let log_type = keyword.parse::<i64>().ok();
    let mut sql = String::from(" WHERE 1 = 1");
    let mut binds = Vec::new();
    if let Some(id) = user_id {
        sql.push_str(" AND l.user_id = ?");
        binds.push(Bind::Int(id));
    }
    let prefix = (user_id.is_none() && !keyword.is_empty()).then(|| format!("{}%", escape_like(keyword)));
    match (log_type, prefix) {
        (Some(t), Some(p)) => {
            sql.push_str(" AND (l.type = ? OR l.content LIKE ? ESCAPE '!')");
            binds.extend([Bind::Int(t), Bind::Text(p)]);
        }
        (Some(t), None) => {
            sql.push_str(" AND l.type = ?");
            binds.push(Bind::Int(t));
        }
        (None, Some(p)) => {
            sql.push_str(" AND l.content LIKE ? ESCAPE '!'");
            binds.push(Bind::Text(p));
        }
        (None, None) => {}
    }
    binds.push(Bind::Int(limit));
    select(db, &sql, binds, " ORDER BY l.id DESC LIMIT ?").await
}

/// `text` with `LIKE`'s wildcards (and the escape character `!`) escaped.
fn escape_like(text: &str) -> String {
    text.replace('!', "!!").replace('%', "!%").replace('_', "!_")
}

/// Deletes every row created before `before` (unix seconds); returns how many went.
pub async fn delete_before(db: &Db, before: i64) -> Result<u64, ControlError> {
    let done = sqlx::query(&db.sql("DELETE FROM logs WHERE created_at < ?")).bind(before).execute(db.pool()).await?;
    Ok(done.rows_affected())
}

/// Consume quota of the matching rows, and requests and tokens of those created since `since` (Veloera's
/// rpm/tpm over the last minute).
pub async fn stat(db: &Db, filter: &LogFilter, since: i64) -> Result<LogStat, ControlError> {
    let filter = LogFilter { log_type: log_type::CONSUME as i64, ..filter.clone() };
    let (sql, binds) = filter.where_clause();
    let recent = format!("CASE WHEN l.created_at >= {since} THEN 1 ELSE 0 END");
    let columns = format!(
        "SELECT {}, {}, {} FROM logs l",
        db.sum("l.quota"),
        db.sum(&recent),
        db.sum(&format!("CASE WHEN l.created_at >= {since} THEN l.prompt_tokens + l.completion_tokens ELSE 0 END")),
    );
    let full = format!("{columns}{sql}");
    let full = db.sql(&full);
    let mut query = sqlx::query_as::<_, (i64, i64, i64)>(&full);
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    let (quota, rpm, tpm) = query.fetch_one(db.pool()).await?;
    Ok(LogStat { quota, rpm, tpm })
}

/// An account event for the log (top-up, check-in, management, system): who, what, and the quota involved.
pub struct AccountEvent<'a> {
    pub user_id: i64,
    /// `veloera_admin_types::log_type`: TOPUP, MANAGE, SYSTEM or CHECK_IN.
    pub log_type: i32,
    pub content: &'a str,
    pub quota: i64,
}

/// Writes one account event inside `tx` (so it commits with the change it describes); the user name is
/// copied from the user row, as Veloera's log keeps it.
pub async fn record_event(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &AccountEvent<'_>,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql(
        "INSERT INTO logs (user_id, created_at, type, content, username, quota) \
         SELECT id, ?, ?, ?, username, ? FROM users WHERE id = ?",
    ))
    .bind(super::now_secs())
    .bind(event.log_type)
    .bind(event.content)
    .bind(event.quota)
    .bind(event.user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(other: &str) -> LogRow {
        LogRow {
            id: 5000,
            user_id: 7,
            created_at: 1,
            log_type: 2,
            content: String::new(),
            username: "bob".into(),
            token_name: "t".into(),
            token_id: 3,
            model_name: "gpt-4o".into(),
            quota: 10,
            prompt_tokens: 1,
            completion_tokens: 2,
            use_time: 0,
            is_stream: 0,
            channel_id: 9,
            group_name: "default".into(),
            client_ip: String::new(),
            request_id: "r".into(),
            other: other.into(),
            content_prompt: None,
            content_answer: None,
            channel_name: "secret-upstream".into(),
        }
    }

    #[test]
    fn a_users_view_drops_channel_and_retry_trail_only() {
        let own = row(r#"{"model_ratio":1.25,"admin_info":{"use_channel":[4,9]}}"#).to_self_dto();
        assert_eq!((own.id, own.channel, own.channel_name.as_str()), (5000 % 1024, 0, ""));
        assert_eq!(own.other, r#"{"model_ratio":1.25}"#);
        assert_eq!((own.quota, own.model_name.as_str()), (10, "gpt-4o"));
        let admin = row(r#"{"admin_info":{"use_channel":[4,9]}}"#).to_dto();
        assert_eq!((admin.channel, admin.channel_name.as_str()), (9, "secret-upstream"));
        assert!(admin.other.contains("admin_info"));
    }

    #[test]
    fn like_wildcards_in_a_search_keyword_are_literal() {
        assert_eq!(escape_like("50%_off!"), "50!%!_off!!");
    }
}

/// Rows after `cursor` (a log id) in id order, at most `limit`, of every user and type: the usage stream reads them
/// all so it can tell a hole left by a transaction still in flight from the rows it filters out.
pub async fn after(db: &Db, cursor: i64, limit: i64) -> Result<Vec<LogRow>, ControlError> {
    select(db, " WHERE l.id > ?", vec![Bind::Int(cursor), Bind::Int(limit)], " ORDER BY l.id LIMIT ?").await
}

/// The newest log id, 0 for an empty table (where a stream that asks for live events only begins).
pub async fn last_id(db: &Db) -> Result<i64, ControlError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM logs").fetch_one(db.pool()).await?)
}

/// What [`totals`] groups the rows by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalsBy {
    User,
    Token,
    Model,
    Channel,
}

/// The sums of one group of rows: `id` is the user, token or channel id (0 when grouped by model), `name` the
/// username, token name, model or channel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    pub id: i64,
    pub name: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub quota: i64,
}

/// Requests, tokens and quota of the filter's rows per group, largest quota first (at most 1000 groups).
pub async fn totals(db: &Db, filter: &LogFilter, by: TotalsBy) -> Result<Vec<Total>, ControlError> {
    let (key, name) = match by {
        TotalsBy::User => ("l.user_id", "MAX(l.username)"),
        TotalsBy::Token => ("l.token_id", "MAX(l.token_name)"),
        TotalsBy::Model => ("l.model_name", "l.model_name"),
        TotalsBy::Channel => ("l.channel_id", "MAX(COALESCE(c.name, ''))"),
    };
    let id = if by == TotalsBy::Model { "0" } else { key };
    let (filter_sql, binds) = filter.where_clause();
    let sql = format!(
        "SELECT {id}, {name}, COUNT(*), {}, {}, {} FROM logs l LEFT JOIN channels c ON c.id = l.channel_id{filter_sql} \
         GROUP BY {key} ORDER BY 6 DESC, 1 LIMIT 1000",
        db.sum("l.prompt_tokens"),
        db.sum("l.completion_tokens"),
        db.sum("l.quota"),
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query_as::<_, (i64, String, i64, i64, i64, i64)>(&sql);
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    let rows = query.fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, requests, prompt_tokens, completion_tokens, quota)| Total {
            id,
            name,
            requests,
            prompt_tokens,
            completion_tokens,
            quota,
        })
        .collect())
}
