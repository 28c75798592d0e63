//! `/api/log/…`: usage logs with Veloera's filters, search, statistics, CSV export and deletion. Administrators
//! see every row in full; a user's `self` views show only that user's rows, sanitised (`LogRow::to_self_dto`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veloera_admin_types::{ChatContent, Envelope, LogEntry, LogStat, Page};

use super::paging::{FirstPage, PageRequest};
use super::session::{Active, Admin};
use crate::db::logs::{LogFilter, LogRow};
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::state::AppState;

/// Rows `/search` returns at most (as Veloera).
const SEARCH_LIMIT: i64 = 100;
/// Rows one CSV export holds at most; narrow the filters for more.
pub const EXPORT_LIMIT: i64 = 100_000;

/// Veloera's query parameters. All arrive as text: the UI sends empty values for unset filters, and a bad
/// number gets an error naming the parameter.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    p: Option<String>,
    page_size: Option<String>,
    #[serde(rename = "type")]
    log_type: Option<String>,
    start_timestamp: Option<String>,
    end_timestamp: Option<String>,
    username: Option<String>,
    token_name: Option<String>,
    model_name: Option<String>,
    channel: Option<String>,
    group: Option<String>,
}

/// A query parameter's text, `None` when absent or blank.
fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A whole-number query parameter, `None` when absent or blank.
pub(super) fn number(name: &str, v: &Option<String>) -> Result<Option<i64>, ControlError> {
    text(v)
        .map(|s| s.parse::<i64>().map_err(|_| ControlError::BadRequest(format!("{name}: {s:?} is not a whole number"))))
        .transpose()
}

impl LogQuery {
    /// The filter this query selects; `user` confines it to one user (whose `username` and `channel` filters are
    /// ignored, as in Veloera).
    fn filter(&self, user: Option<i64>) -> Result<LogFilter, ControlError> {
        let (start, end) =
            (number("start_timestamp", &self.start_timestamp)?, number("end_timestamp", &self.end_timestamp)?);
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(ControlError::BadRequest("start_timestamp is after end_timestamp".into()));
        }
        Ok(LogFilter {
            user_id: user,
            log_type: number("type", &self.log_type)?.unwrap_or(0),
            start_timestamp: start,
            end_timestamp: end,
            username: if user.is_none() { text(&self.username) } else { None },
            token_name: text(&self.token_name),
            model_name: text(&self.model_name),
            channel: if user.is_none() { number("channel", &self.channel)? } else { None },
            group: text(&self.group),
        })
    }

    /// The page asked for: Veloera counts log pages from 1 and reads unparsable numbers as the defaults.
    fn page(&self) -> PageRequest {
        PageRequest::read(self.p.as_deref(), self.page_size.as_deref(), FirstPage::One)
    }
}

type Rows = Json<Envelope<Vec<LogEntry>>>;

/// One page of the filter's rows, newest first, and how many rows match it.
async fn paged(state: &AppState, q: &LogQuery, user: Option<i64>) -> Result<Page<LogRow>, ControlError> {
    let filter = q.filter(user)?;
    let page = q.page();
    let rows = db::logs::page(state.db(), &filter, page.offset(), page.size).await?;
    Ok(page.answer(rows, db::logs::count(state.db(), &filter).await?))
}

/// `GET /api/log/` (admin): `{items, total, page, page_size}`.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<LogQuery>,
) -> Result<Json<Envelope<Page<LogEntry>>>, ControlError> {
    let page = paged(&state, &q, None).await?;
    Ok(Json(Envelope::ok(page.map(|r| r.to_dto()))))
}

/// `GET /api/log/self`: the caller's rows, sanitised, as `{items, total, page, page_size}`.
pub async fn list_self(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<LogQuery>,
) -> Result<Json<Envelope<Page<LogEntry>>>, ControlError> {
    let page = paged(&state, &q, Some(user.id)).await?;
    Ok(Json(Envelope::ok(page.map(|r| r.to_self_dto()))))
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
}

/// `GET /api/log/search?keyword=` (admin): rows of that type (a number) or whose content starts with it.
pub async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<SearchQuery>,
) -> Result<Rows, ControlError> {
    let rows = db::logs::search(state.db(), None, &q.keyword, SEARCH_LIMIT).await?;
    Ok(Json(Envelope::ok(rows.iter().map(LogRow::to_dto).collect())))
}

/// `GET /api/log/self/search?keyword=`: the user's rows of that type (`keyword` must be a log type number).
pub async fn search_self(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<SearchQuery>,
) -> Result<Rows, ControlError> {
    let keyword = q.keyword.trim();
    if !keyword.is_empty() && keyword.parse::<i64>().is_err() {
        return Err(ControlError::BadRequest(format!("keyword: {keyword:?} is not a log type number")));
    }
    let rows = db::logs::search(state.db(), Some(user.id), keyword, SEARCH_LIMIT).await?;
    Ok(Json(Envelope::ok(rows.iter().map(LogRow::to_self_dto).collect())))
}

/// `GET /api/log/stat` (admin).
pub async fn stat(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<LogQuery>,
) -> Result<Json<Envelope<LogStat>>, ControlError> {
    Ok(Json(Envelope::ok(db::logs::stat(state.db(), &q.filter(None)?, now_secs() - 60).await?)))
}

/// `GET /api/log/self/stat`.
pub async fn stat_self(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<LogQuery>,
) -> Result<Json<Envelope<LogStat>>, ControlError> {
    Ok(Json(Envelope::ok(db::logs::stat(state.db(), &q.filter(Some(user.id))?, now_secs() - 60).await?)))
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteQuery {
    target_timestamp: Option<String>,
}

/// `DELETE /api/log/?target_timestamp=` (admin): deletes every row created before it; `data` is how many.
pub async fn delete_before(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let before = number("target_timestamp", &q.target_timestamp)?
        .ok_or_else(|| ControlError::BadRequest("target_timestamp is required".into()))?;
    let deleted = db::logs::delete_before(state.db(), before).await?;
    tracing::info!(admin = admin.username, before, deleted, "usage logs deleted");
    Ok(Json(Envelope::ok(deleted)))
}

/// `GET /api/log/export` (admin): the matching rows as CSV, newest first, at most [`EXPORT_LIMIT`].
pub async fn export(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<LogQuery>,
) -> Result<Response, ControlError> {
    let rows = db::logs::page(state.db(), &q.filter(None)?, 0, EXPORT_LIMIT).await?;
    csv_response(rows.iter().map(LogRow::to_dto), true)
}

/// `GET /api/log/self/export`: the user's matching rows as CSV, without channel columns.
pub async fn export_self(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<LogQuery>,
) -> Result<Response, ControlError> {
    let rows = db::logs::page(state.db(), &q.filter(Some(user.id))?, 0, EXPORT_LIMIT).await?;
    csv_response(rows.iter().map(LogRow::to_self_dto), false)
}

fn csv_response(rows: impl Iterator<Item = LogEntry>, admin: bool) -> Result<Response, ControlError> {
    let failed = |e: csv::Error| ControlError::Internal(format!("CSV export: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["id", "time_utc", "created_at", "type", "username", "token_name", "model_name", "group"];
    if admin {
        header.extend(["channel", "channel_name"]);
    }
    header.extend([
        "prompt_tokens",
        "completion_tokens",
        "quota",
        "use_time",
        "is_stream",
        "client_ip",
        "request_id",
        "content",
        "chat_prompt",
        "chat_answer",
    ]);
    out.write_record(&header).map_err(failed)?;
    for r in rows {
        let mut record = vec![
            r.id.to_string(),
            utc_time(r.created_at),
            r.created_at.to_string(),
            r.log_type.to_string(),
            cell(r.username),
            cell(r.token_name),
            cell(r.model_name),
            cell(r.group),
        ];
        if admin {
            record.extend([r.channel.to_string(), cell(r.channel_name)]);
        }
        record.extend([
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.quota.to_string(),
            r.use_time.to_string(),
            r.is_stream.to_string(),
            cell(r.client_ip),
            cell(r.request_id),
            cell(r.content),
        ]);
        let chat = r.chat_content.unwrap_or_else(|| ChatContent { prompt: String::new(), answer: String::new() });
        record.extend([cell(chat.prompt), cell(chat.answer)]);
        out.write_record(&record).map_err(failed)?;
    }
    let body = out.into_inner().map_err(|e| ControlError::Internal(format!("CSV export: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"logs.csv\""),
        ],
        body,
    )
        .into_response())
}

/// A text cell that a spreadsheet will not run as a formula: users name their own tokens, and an administrator
/// opens the export (OWASP's CSV-injection advice: prefix `=`, `+`, `-`, `@`, tab and carriage return with `'`).
fn cell(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc_time(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_never_start_a_formula() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")".into()), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(cell("gpt-4o".into()), "gpt-4o");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20");
    }
}
