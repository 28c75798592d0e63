//! The `redemptions` table (redemption and gift codes) and `redemption_logs` (who redeemed which code).
//!
//! Redeeming is one transaction of conditional updates, so racing redemptions never credit more than a code
//! allows, on any backend and with any number of control instances: an ordinary code is claimed by the one
//! `UPDATE … WHERE status = 1` that matches a row; a gift code's use is counted by an `UPDATE … WHERE used_count
//! < max_uses`, and the unique (redemption_id, user_id) of `redemption_logs` refuses a second use by one user.
//! Every redemption of a code locks the code's row first and the user's row second, always in that order.

use sqlx::FromRow;
use veloera_admin_types::{Redemption, log_type, redemption_status};

use super::logs::{AccountEvent, record_event};
use super::{Db, invitations};
use crate::error::ControlError;

#[derive(Debug, Clone, FromRow)]
pub struct RedemptionRow {
    pub id: i64,
    pub user_id: i64,
    pub code: String,
    pub name: String,
    pub quota: i64,
    pub status: i64,
    pub created_time: i64,
    pub redeemed_time: i64,
    pub used_user_id: i64,
    pub is_gift: i64,
    pub max_uses: i64,
    pub used_count: i64,
    pub valid_from: i64,
    pub valid_until: i64,
}

const COLUMNS: &str = "id, user_id, code, name, quota, status, created_time, redeemed_time, used_user_id, is_gift, \
                       max_uses, used_count, valid_from, valid_until";

impl RedemptionRow {
    pub fn to_dto(&self) -> Redemption {
        Redemption {
            id: self.id,
            user_id: self.user_id,
            key: self.code.clone(),
            name: self.name.clone(),
            quota: self.quota,
            status: self.status as i32,
            created_time: self.created_time,
            redeemed_time: self.redeemed_time,
            used_user_id: self.used_user_id,
            is_gift: self.is_gift != 0,
            max_uses: self.max_uses,
            used_count: self.used_count,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }

    /// Whether every allowed use is taken (an ordinary code has one).
    fn used_up(&self) -> bool {
        self.max_uses != -1 && self.used_count >= self.max_uses
    }
}

/// A code to create; the caller has validated it.
#[derive(Debug, Clone)]
pub struct NewRedemption {
    /// The administrator creating it.
    pub user_id: i64,
    pub code: String,
    pub name: String,
    pub quota: i64,
    pub is_gift: bool,
    /// 1 for an ordinary code.
    pub max_uses: i64,
    pub valid_from: i64,
    pub valid_until: i64,
    pub created_time: i64,
}

/// The fields an administrator may change after creation.
#[derive(Debug, Clone)]
pub struct RedemptionEdit {
    pub name: String,
    pub quota: i64,
    pub max_uses: i64,
    pub valid_from: i64,
    pub valid_until: i64,
}

/// Creates all the codes or none; a key that already exists is refused as a conflict.
pub async fn insert_all(db: &Db, codes: &[NewRedemption]) -> Result<(), ControlError> {
    let mut tx = db.begin_write().await?;
    let q = "INSERT INTO redemptions (user_id, code, name, quota, status, created_time, is_gift, max_uses, \
             valid_from, valid_until) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)";
    for c in codes {
        let inserted = sqlx::query(&db.sql(q))
            .bind(c.user_id)
            .bind(&c.code)
            .bind(&c.name)
            .bind(c.quota)
            .bind(c.created_time)
            .bind(c.is_gift as i64)
            .bind(c.max_uses)
            .bind(c.valid_from)
            .bind(c.valid_until)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(ControlError::Conflict("a redemption code with this key already exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Whether `e` is the database refusing a duplicate of a unique key (each backend's own error code).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<RedemptionRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM redemptions WHERE id = ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_optional(db.pool()).await?)
}

/// Newest first: `limit` codes after skipping `offset`.
pub async fn page(db: &Db, offset: i64, limit: i64) -> Result<Vec<RedemptionRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM redemptions ORDER BY id DESC LIMIT ? OFFSET ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(limit).bind(offset).fetch_all(db.pool()).await?)
}

/// How many codes there are (the `total` of the paged list).
pub async fn count(db: &Db) -> Result<i64, ControlError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM redemptions").fetch_one(db.pool()).await?)
}

/// Codes whose id is `keyword`, or whose name contains it (case-insensitive; `%` and `_` taken literally),
/// newest first, at most 1000. An empty keyword matches nothing.
pub async fn search(db: &Db, keyword: &str) -> Result<Vec<RedemptionRow>, ControlError> {
    let keyword = keyword.trim().to_lowercase();
    if keyword.is_empty() {
        return Ok(Vec::new());
    }
    // `!` escapes LIKE wildcards: a backslash would itself need escaping in MySQL string literals.
    let pattern = format!("%{}%", keyword.replace('!', "!!").replace('%', "!%").replace('_', "!_"));
    let q = format!(
        "SELECT {COLUMNS} FROM redemptions WHERE id = ? OR LOWER(name) LIKE ? ESCAPE '!' ORDER BY id DESC LIMIT 1000"
    );
    let id: i64 = keyword.parse().unwrap_or(-1);
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).bind(&pattern).fetch_all(db.pool()).await?)
}

/// How many codes carry exactly this name.
pub async fn count_by_name(db: &Db, name: &str) -> Result<i64, ControlError> {
    let (n,): (i64,) = sqlx::query_as(&db.sql("SELECT COUNT(*) FROM redemptions WHERE name = ?"))
        .bind(name)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// Writes the editable fields and, when asked, a status set by hand (1 or 2), in one transaction. A gift code
/// whose `max_uses` is now taken becomes used; a used-up code cannot be enabled or disabled.
pub async fn update(db: &Db, id: i64, edit: &RedemptionEdit, status: Option<i32>) -> Result<(), ControlError> {
    if let Some(other) = status.filter(|s| ![redemption_status::ENABLED, redemption_status::DISABLED].contains(s)) {
        return Err(ControlError::BadRequest(format!(
            "status must be 1 (enabled) or 2 (disabled), not {other}; 3 (used) is set by redemption"
        )));
    }
    let mut tx = db.begin_write().await?;
    let fields =
        sqlx::query(&db.sql(
            "UPDATE redemptions SET name = ?, quota = ?, max_uses = ?, valid_from = ?, valid_until = ? WHERE id = ?",
        ))
        .bind(&edit.name)
        .bind(edit.quota)
        .bind(edit.max_uses)
        .bind(edit.valid_from)
        .bind(edit.valid_until)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if fields.rows_affected() == 0 {
        return Err(ControlError::NotFound(format!("redemption code {id} not found")));
    }
    sqlx::query(&db.sql(
        "UPDATE redemptions SET status = 3 WHERE id = ? AND status = 1 AND max_uses <> -1 AND used_count >= max_uses",
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let refused = match status {
        Some(redemption_status::ENABLED) => {
            let q = "UPDATE redemptions SET status = 1 WHERE id = ? AND (max_uses = -1 OR used_count < max_uses)";
            let done = sqlx::query(&db.sql(q)).bind(id).execute(&mut *tx).await?;
            (done.rows_affected() == 0)
                .then_some("this code is used up and cannot be enabled again (for a gift code, raise max_uses first)")
        }
        Some(redemption_status::DISABLED) => {
            let q = "UPDATE redemptions SET status = 2 WHERE id = ? AND status <> 3";
            let done = sqlx::query(&db.sql(q)).bind(id).execute(&mut *tx).await?;
            (done.rows_affected() == 0).then_some("this code is used up; there is nothing left to disable")
        }
        _ => None,
    };
    if let Some(message) = refused {
        return Err(ControlError::Conflict(message.into()));
    }
    tx.commit().await?;
    Ok(())
}

/// Disables the enabled codes among `ids` (others are left as they are); returns how many changed.
pub async fn disable_all(db: &Db, ids: &[i64]) -> Result<u64, ControlError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let q = format!("UPDATE redemptions SET status = 2 WHERE status = 1 AND id IN ({marks})");
    let sql = db.sql(&q);
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// Deletes one code (its use records go with it: the schema cascades); false when there was none.
pub async fn delete(db: &Db, id: i64) -> Result<bool, ControlError> {
    let done = sqlx::query(&db.sql("DELETE FROM redemptions WHERE id = ?")).bind(id).execute(db.pool()).await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes every code named exactly `name`; returns how many.
pub async fn delete_by_name(db: &Db, name: &str) -> Result<u64, ControlError> {
    let done = sqlx::query(&db.sql("DELETE FROM redemptions WHERE name = ?")).bind(name).execute(db.pool()).await?;
    Ok(done.rows_affected())
}

/// Deletes every disabled or used code; returns how many.
pub async fn delete_disabled(db: &Db) -> Result<u64, ControlError> {
    let done = sqlx::query("DELETE FROM redemptions WHERE status IN (2, 3)").execute(db.pool()).await?;
    Ok(done.rows_affected())
}

/// What a redemption credited, and from which code.
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub quota: i64,
    pub is_gift: bool,
    pub name: String,
}

pub const UNKNOWN_CODE: &str = "no such redemption code";
pub const DISABLED: &str = "this redemption code is disabled";
pub const ALREADY_USED: &str = "this redemption code has already been used";
pub const ALREADY_USED_BY_YOU: &str = "you have already used this gift code";
pub const EXHAUSTED: &str = "this gift code has reached its maximum number of uses";
pub const EXPIRED: &str = "this redemption code has expired";

/// Redeems `code` for `user_id` at `now` (unix seconds): claims the code, credits the user's quota, records
/// the use and a top-up log (naming the code's name, never its key) and, when `rebate_percentage` is set (the
/// options' `RebateEnabled` with `RebatePercentage`), pays the inviter's rebate, all in one transaction.
/// Refusals are `NotFound` (unknown code) or `Conflict` with a message saying why; nothing is written then.
pub async fn redeem(
    db: &Db,
    rebate_percentage: Option<f64>,
    user_id: i64,
    code: &str,
    now: i64,
) -> Result<Redeemed, ControlError> {
    let mut tx = db.begin_write().await?;
    let q = format!("SELECT {COLUMNS} FROM redemptions WHERE code = ?");
    let row: RedemptionRow = sqlx::query_as(&db.sql(&q))
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ControlError::NotFound(UNKNOWN_CODE.into()))?;
    let is_gift = row.is_gift != 0;
    let refuse = |message: &str| Err(ControlError::Conflict(message.into()));
    if row.status == redemption_status::DISABLED as i64 {
        return refuse(DISABLED);
    }
    if !is_gift && (row.status == redemption_status::USED as i64 || row.used_up()) {
        return refuse(ALREADY_USED);
    }
    if is_gift {
        let used: Option<(i64,)> =
            sqlx::query_as(&db.sql("SELECT id FROM redemption_logs WHERE redemption_id = ? AND user_id = ?"))
                .bind(row.id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if used.is_some() {
            return refuse(ALREADY_USED_BY_YOU);
        }
        if row.status == redemption_status::USED as i64 || row.used_up() {
            return refuse(EXHAUSTED);
        }
    }
    if row.valid_from != 0 && now < row.valid_from {
        return Err(ControlError::Conflict(format!(
            "this redemption code is not valid yet (valid from {})",
            utc_time(row.valid_from)
        )));
    }
    if row.valid_until != 0 && now > row.valid_until {
        return refuse(EXPIRED);
    }

    // The claim: rows affected decides who wins. MySQL applies SET assignments left to right, so `status` is
    // computed before `used_count` changes (the other backends read the old row throughout).
    let claim_sql = if is_gift {
        "UPDATE redemptions SET status = CASE WHEN max_uses <> -1 AND used_count + 1 >= max_uses THEN 3 ELSE status END, \
         used_count = used_count + 1, redeemed_time = ? \
         WHERE id = ? AND status = 1 AND (used_count < max_uses OR max_uses = -1)"
    } else {
        "UPDATE redemptions SET status = 3, used_user_id = ?, redeemed_time = ?, used_count = 1 \
         WHERE id = ? AND status = 1"
    };
    let claim_sql = db.sql(claim_sql);
    let mut claim = sqlx::query(&claim_sql);
    if !is_gift {
        claim = claim.bind(user_id);
    }
    if claim.bind(now).bind(row.id).execute(&mut *tx).await?.rows_affected() == 0 {
        return refuse(if is_gift { EXHAUSTED } else { ALREADY_USED });
    }
    let credited = sqlx::query(&db.sql("UPDATE users SET quota = quota + ? WHERE id = ? AND deleted_at IS NULL"))
        .bind(row.quota)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if credited.rows_affected() == 0 {
        return Err(ControlError::NotFound(format!("user {user_id} not found")));
    }
    let use_record = db.insert_ignore("redemption_logs (redemption_id, user_id, used_time)", "(?, ?, ?)");
    let recorded = sqlx::query(&db.sql(&use_record)).bind(row.id).bind(user_id).bind(now).execute(&mut *tx).await?;
    if recorded.rows_affected() == 0 {
        return refuse(ALREADY_USED_BY_YOU);
    }
    let kind = if is_gift { "gift code" } else { "redemption code" };
    let content = format!("top-up with {kind} \"{}\": {} quota", row.name, row.quota);
    let event = AccountEvent { user_id, log_type: log_type::TOPUP, content: &content, quota: row.quota };
    record_event(db, &mut tx, &event).await?;
    invitations::pay_rebate(db, &mut tx, rebate_percentage, user_id, row.quota).await?;
    tx.commit().await?;
    Ok(Redeemed { quota: row.quota, is_gift, name: row.name })
}

/// `2025-06-01 12:00 UTC`, for messages.
fn utc_time(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        }
        Err(_) => format!("unix time {unix}"),
    }
}
