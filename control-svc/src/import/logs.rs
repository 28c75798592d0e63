//! The log (`--with-logs`): request and account entries, with user, token and channel ids translated, and the
//! dashboard's hourly sums (`quota_data`). Each imported entry's `request_id` is `imported:<source id>`, the natural
//! key that keeps a second run from adding it again; a sum is matched on user, model and hour. Rows of users that
//! were not imported are reported.

use std::collections::HashSet;

use super::source::{Col, Source};
use super::{PAGE, Run};
use crate::error::ControlError;

const LOGS: &str = "logs";
const LOG_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("user_id", Col::Int),
    ("created_at", Col::Int),
    ("type", Col::Int),
    ("content", Col::Text),
    ("username", Col::Text),
    ("token_name", Col::Text),
    ("model_name", Col::Text),
    ("quota", Col::Int),
    ("prompt_tokens", Col::Int),
    ("completion_tokens", Col::Int),
    ("use_time", Col::Int),
    ("is_stream", Col::Flag),
    ("channel_id", Col::Int),
    ("token_id", Col::Int),
    ("group", Col::Text),
    ("other", Col::Text),
    // new-api records the client address.
    ("ip", Col::Text),
];

const MARK: &str = "imported:";

pub(super) async fn import_logs(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let already: HashSet<String> =
        sqlx::query_scalar(&run.db.sql("SELECT request_id FROM logs WHERE request_id LIKE ?"))
            .bind(format!("{MARK}%"))
            .fetch_all(&mut *run.tx)
            .await?
            .into_iter()
            .collect();
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(LOGS, LOG_COLUMNS, Some((after, PAGE))).await? else {
            run.report.absent(LOGS);
            return Ok(());
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            run.report.table(LOGS).read += 1;
            let request_id = format!("{MARK}{after}");
            if already.contains(&request_id) {
                run.report.table(LOGS).existing += 1;
                continue;
            }
            let Some(user_id) = run.users.get(&row.int("user_id")).copied() else {
                let reason = format!("its user #{} was not imported", row.int("user_id"));
                run.report.unmapped(LOGS, format!("#{after}"), reason);
                continue;
            };
            // A token or channel that did not come over leaves 0, as Veloera's log has for entries without one.
            let token_id = run.tokens.get(&row.int("token_id")).copied().unwrap_or(0);
            let channel_id = run.channels.get(&row.int("channel_id")).copied().unwrap_or(0);
            sqlx::query(&run.db.sql(
                "INSERT INTO logs (user_id, created_at, type, content, username, token_name, token_id, model_name, \
                 quota, prompt_tokens, completion_tokens, use_time, is_stream, channel_id, group_name, client_ip, \
                 request_id, other) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(user_id)
            .bind(row.int("created_at"))
            .bind(row.int("type"))
            .bind(row.text("content"))
            .bind(row.text("username"))
            .bind(row.text("token_name"))
            .bind(token_id)
            .bind(row.text("model_name"))
            .bind(row.int("quota"))
            .bind(row.int("prompt_tokens"))
            .bind(row.int("completion_tokens"))
            .bind(row.int("use_time"))
            .bind(row.flag("is_stream") as i64)
            .bind(channel_id)
            .bind(row.text("group"))
            .bind(row.text("ip"))
            .bind(request_id)
            .bind(row.text("other"))
            .execute(&mut *run.tx)
            .await?;
            run.report.table(LOGS).imported += 1;
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}

const QUOTA_DATA: &str = "quota_data";
const QUOTA_DATA_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("user_id", Col::Int),
    ("username", Col::Text),
    ("model_name", Col::Text),
    ("created_at", Col::Int),
    ("token_used", Col::Int),
    ("count", Col::Int),
    ("quota", Col::Int),
];

pub(super) async fn import_quota_data(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(QUOTA_DATA, QUOTA_DATA_COLUMNS, Some((after, PAGE))).await? else {
            run.report.absent(QUOTA_DATA);
            return Ok(());
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            run.report.table(QUOTA_DATA).read += 1;
            let Some(user_id) = run.users.get(&row.int("user_id")).copied() else {
                let reason = format!("its user #{} was not imported", row.int("user_id"));
                run.report.unmapped(QUOTA_DATA, format!("#{after}"), reason);
                continue;
            };
            // Veloera's sums are per user, model and hour, not per channel: channel 0 here.
            let sql = run.db.insert_ignore(
                "quota_data (user_id, username, model_name, channel_id, created_at, request_count, error_count, \
                 token_used, quota)",
                "(?, ?, ?, 0, ?, ?, 0, ?, ?)",
            );
            let written = sqlx::query(&run.db.sql(&sql))
                .bind(user_id)
                .bind(row.text("username"))
                .bind(row.text("model_name"))
                .bind(row.int("created_at"))
                .bind(row.int("count"))
                .bind(row.int("token_used"))
                .bind(row.int("quota"))
                .execute(&mut *run.tx)
                .await?
                .rows_affected();
            if written > 0 {
                run.report.table(QUOTA_DATA).imported += 1;
            } else {
                run.report.table(QUOTA_DATA).existing += 1;
            }
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}
