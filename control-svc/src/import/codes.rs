//! Redemption and gift codes, matched on the code itself, and Veloera's record of who used a gift code (the
//! record that keeps a user from redeeming the same gift twice).

use veloera_admin_types::redemption_status;

use super::source::{Col, Source};
use super::{PAGE, Run};
use crate::db::insert_returning_id;
use crate::error::ControlError;

const REDEMPTIONS: &str = "redemptions";
const REDEMPTION_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("user_id", Col::Int),
    ("key", Col::Text),
    ("status", Col::Int),
    ("name", Col::Text),
    ("quota", Col::Int),
    ("created_time", Col::Int),
    ("redeemed_time", Col::Int),
    ("used_user_id", Col::Int),
    ("is_gift", Col::Flag),
    ("max_uses", Col::Int),
    ("used_count", Col::Int),
    ("valid_from", Col::Int),
    ("valid_until", Col::Int),
    // new-api's expiry, our `valid_until`.
    ("expired_time", Col::Int),
    ("deleted_at", Col::IsSet),
];

pub(super) async fn import_redemptions(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(REDEMPTIONS, REDEMPTION_COLUMNS, Some((after, PAGE))).await? else {
            run.report.absent(REDEMPTIONS);
            return Ok(());
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            let label = format!("#{after}");
            run.report.table(REDEMPTIONS).read += 1;
            if row.flag("deleted_at") {
                run.report.table(REDEMPTIONS).deleted += 1;
                continue;
            }
            let code = row.text("key").trim().to_string();
            if code.is_empty() {
                run.report.unmapped(REDEMPTIONS, label, "the code is empty");
                continue;
            }
            let existing: Option<i64> = sqlx::query_scalar(&run.db.sql("SELECT id FROM redemptions WHERE code = ?"))
                .bind(&code)
                .fetch_optional(&mut *run.tx)
                .await?;
            if let Some(id) = existing {
                run.redemptions.insert(after, id);
                run.report.table(REDEMPTIONS).existing += 1;
                continue;
            }
            let status = row.int_or("status", redemption_status::ENABLED as i64);
            // new-api and one-api codes are single-use: used once when their status says so.
            let max_uses = row.int_or("max_uses", 1);
            let used_count = if row.has("used_count") {
                row.int("used_count")
            } else {
                (status == redemption_status::USED as i64) as i64
            };
            let valid_until = if row.has("valid_until") { row.int("valid_until") } else { row.int("expired_time") };
            let mapped = |id: i64| run.users.get(&id).copied().unwrap_or(0);
            let (creator, used_by) = (mapped(row.int("user_id")), mapped(row.int("used_user_id")));
            let name: String = row.text("name").chars().take(64).collect();
            let q = format!(
                "INSERT INTO redemptions (user_id, code, name, quota, status, created_time, redeemed_time, used_user_id, \
                 is_gift, max_uses, used_count, valid_from, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){}",
                run.db.returning_id()
            );
            let sql = run.db.sql(&q);
            let query = sqlx::query(&sql)
                .bind(creator)
                .bind(code)
                .bind(name)
                .bind(row.int("quota"))
                .bind(status)
                .bind(row.int("created_time"))
                .bind(row.int("redeemed_time"))
                .bind(used_by)
                .bind(row.flag("is_gift") as i64)
                .bind(max_uses)
                .bind(used_count)
                .bind(row.int("valid_from"))
                .bind(valid_until);
            let id = insert_returning_id(run.db, &mut *run.tx, query).await?;
            run.redemptions.insert(after, id);
            run.report.table(REDEMPTIONS).imported += 1;
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}

const REDEMPTION_LOGS: &str = "redemption_logs";
const REDEMPTION_LOG_COLUMNS: &[(&str, Col)] =
    &[("id", Col::Int), ("redemption_id", Col::Int), ("user_id", Col::Int), ("used_time", Col::Int)];

pub(super) async fn import_redemption_logs(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(REDEMPTION_LOGS, REDEMPTION_LOG_COLUMNS, Some((after, PAGE))).await? else {
            run.report.absent(REDEMPTION_LOGS);
            return Ok(());
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            let label = format!("#{after}");
            run.report.table(REDEMPTION_LOGS).read += 1;
            let Some(redemption) = run.redemptions.get(&row.int("redemption_id")).copied() else {
                let reason = format!("its code #{} was not imported", row.int("redemption_id"));
                run.report.unmapped(REDEMPTION_LOGS, label, reason);
                continue;
            };
            let Some(user) = run.users.get(&row.int("user_id")).copied() else {
                run.report.unmapped(
                    REDEMPTION_LOGS,
                    label,
                    format!("its user #{} was not imported", row.int("user_id")),
                );
                continue;
            };
            // (redemption_id, user_id) is unique: a record already here is left as it is.
            let sql = run.db.insert_ignore("redemption_logs (redemption_id, user_id, used_time)", "(?, ?, ?)");
            let written = sqlx::query(&run.db.sql(&sql))
                .bind(redemption)
                .bind(user)
                .bind(row.int("used_time"))
                .execute(&mut *run.tx)
                .await?
                .rows_affected();
            if written > 0 {
                run.report.table(REDEMPTION_LOGS).imported += 1;
            } else {
                run.report.table(REDEMPTION_LOGS).existing += 1;
            }
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}
