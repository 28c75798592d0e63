//! The `tokens` table. Keys are stored as a SHA-256 digest (lookup) plus AES-GCM ciphertext (owner reveal).

use sqlx::FromRow;
use veloera_admin_types::Token;

use super::{Db, insert_returning_id};
use crate::error::ControlError;

#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub key_hint: String,
    pub status: i64,
    pub created_time: i64,
    pub accessed_time: i64,
    pub expired_time: i64,
    pub remain_quota: i64,
    pub unlimited_quota: i64,
    pub used_quota: i64,
    pub model_limits_enabled: i64,
    pub model_limits: String,
    pub allow_ips: String,
    pub group_name: String,
    pub rate_limit_enabled: i64,
    pub rate_limit_period: i64,
    pub rate_limit_count: i64,
    pub rate_limit_success: i64,
}

const COLUMNS: &str = "id, user_id, name, key_hint, status, created_time, accessed_time, expired_time, remain_quota, \
                       unlimited_quota, used_quota, model_limits_enabled, model_limits, allow_ips, group_name, \
                       rate_limit_enabled, rate_limit_period, rate_limit_count, rate_limit_success";

impl TokenRow {
    /// The list view: key masked.
    pub fn to_dto(&self) -> Token {
        Token {
            id: self.id,
            user_id: self.user_id,
            name: self.name.clone(),
            key: self.key_hint.clone(),
            status: self.status as i32,
            created_time: self.created_time,
            accessed_time: self.accessed_time,
            expired_time: self.expired_time,
            remain_quota: self.remain_quota,
            unlimited_quota: self.unlimited_quota != 0,
            used_quota: self.used_quota,
            model_limits_enabled: self.model_limits_enabled != 0,
            model_limits: self.model_limits.clone(),
            allow_ips: self.allow_ips.clone(),
            group: self.group_name.clone(),
            rate_limit_enabled: self.rate_limit_enabled != 0,
            rate_limit_period: self.rate_limit_period,
            rate_limit_count: self.rate_limit_count,
            rate_limit_success: self.rate_limit_success,
        }
    }
}

/// A token to insert; the caller has generated the key and derived digest, ciphertext and hint.
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub key_digest_hex: String,
    pub key_ciphertext: String,
    pub key_hint: String,
    pub created_time: i64,
    pub expired_time: i64,
    pub remain_quota: i64,
    pub unlimited_quota: bool,
    pub model_limits_enabled: bool,
    pub model_limits: String,
    pub allow_ips: String,
    pub group_name: String,
    pub rate_limit: RateLimit,
}

/// A token's own request limit, as stored (validated by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub enabled: bool,
    pub period: i64,
    pub count: i64,
    pub success: i64,
}

impl Default for RateLimit {
    /// Veloera's defaults: off, 1000 requests and 10 successes per 60 seconds once turned on.
    fn default() -> Self {
        RateLimit { enabled: false, period: 60, count: 1000, success: 10 }
    }
}

impl TokenRow {
    pub fn rate_limit(&self) -> RateLimit {
        RateLimit {
            enabled: self.rate_limit_enabled != 0,
            period: self.rate_limit_period,
            count: self.rate_limit_count,
            success: self.rate_limit_success,
        }
    }

    pub fn set_rate_limit(&mut self, r: RateLimit) {
        self.rate_limit_enabled = r.enabled as i64;
        self.rate_limit_period = r.period;
        self.rate_limit_count = r.count;
        self.rate_limit_success = r.success;
    }
}

pub async fn insert(db: &Db, t: &NewToken) -> Result<i64, ControlError> {
    let q = format!(
        "INSERT INTO tokens (user_id, name, key_digest, key_ciphertext, key_hint, status, created_time, accessed_time, \
         expired_time, remain_quota, unlimited_quota, used_quota, model_limits_enabled, model_limits, allow_ips, group_name, \
         rate_limit_enabled, rate_limit_period, rate_limit_count, rate_limit_success) \
         VALUES (?, ?, ?, ?, ?, 1, ?, 0, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?){}",
        db.returning_id()
    );
    let sql = db.sql(&q);
    let query = sqlx::query(&sql)
        .bind(t.user_id)
        .bind(&t.name)
        .bind(&t.key_digest_hex)
        .bind(&t.key_ciphertext)
        .bind(&t.key_hint)
        .bind(t.created_time)
        .bind(t.expired_time)
        .bind(t.remain_quota)
        .bind(t.unlimited_quota as i64)
        .bind(t.model_limits_enabled as i64)
        .bind(&t.model_limits)
        .bind(&t.allow_ips)
        .bind(&t.group_name)
        .bind(t.rate_limit.enabled as i64)
        .bind(t.rate_limit.period)
        .bind(t.rate_limit.count)
        .bind(t.rate_limit.success);
    insert_returning_id(db, db.pool(), query).await
}

pub async fn list_by_user(db: &Db, user_id: i64) -> Result<Vec<TokenRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM tokens WHERE user_id = ? AND deleted_at IS NULL ORDER BY id DESC");
    Ok(sqlx::query_as(&db.sql(&q)).bind(user_id).fetch_all(db.pool()).await?)
}

/// One page of the user's live tokens, newest first: `limit` of them after skipping `offset`.
pub async fn page_by_user(db: &Db, user_id: i64, offset: i64, limit: i64) -> Result<Vec<TokenRow>, ControlError> {
    let q = format!(
        "SELECT {COLUMNS} FROM tokens WHERE user_id = ? AND deleted_at IS NULL ORDER BY id DESC LIMIT ? OFFSET ?"
    );
    Ok(sqlx::query_as(&db.sql(&q)).bind(user_id).bind(limit).bind(offset).fetch_all(db.pool()).await?)
}

/// How many live tokens the user has (the `total` of the paged list).
pub async fn count_by_user(db: &Db, user_id: i64) -> Result<i64, ControlError> {
    let q = "SELECT COUNT(*) FROM tokens WHERE user_id = ? AND deleted_at IS NULL";
    Ok(sqlx::query_scalar(&db.sql(q)).bind(user_id).fetch_one(db.pool()).await?)
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<TokenRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM tokens WHERE id = ? AND deleted_at IS NULL");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_optional(db.pool()).await?)
}

/// What authorization needs of a token's owner (absent when the user was deleted).
#[derive(Debug, Clone, FromRow)]
pub struct TokenWithOwner {
    #[sqlx(flatten)]
    pub token: TokenRow,
    pub owner_status: Option<i64>,
    pub owner_role: Option<i64>,
    pub owner_quota: Option<i64>,
    pub owner_subscription_quota: Option<i64>,
    pub owner_group: Option<String>,
}

/// A live token and its owner in one query: the cold path of a relay request reads nothing else.
pub async fn find_with_owner_by_digest(db: &Db, digest_hex: &str) -> Result<Option<TokenWithOwner>, ControlError> {
    static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let token_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect();
        format!(
            "SELECT {}, u.status AS owner_status, u.role AS owner_role, u.quota AS owner_quota, \
             u.subscription_quota AS owner_subscription_quota, u.group_name AS owner_group FROM tokens t LEFT JOIN users u ON u.id = t.user_id AND u.deleted_at IS NULL \
             WHERE t.key_digest = ? AND t.deleted_at IS NULL",
            token_columns.join(", ")
        )
    });
    Ok(sqlx::query_as(&db.sql(&QUERY)).bind(digest_hex).fetch_optional(db.pool()).await?)
}

/// The digest of a token's key, for invalidation events.
pub async fn digest_of(db: &Db, id: i64) -> Result<Option<String>, ControlError> {
    let row: Option<(String,)> = sqlx::query_as(&db.sql("SELECT key_digest FROM tokens WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.0))
}

/// Writes every editable column of `row` (after the caller has applied and validated changes) except the quota,
/// which settlement changes concurrently: see [`set_remain_quota`].
pub async fn save(db: &Db, row: &TokenRow) -> Result<(), ControlError> {
    sqlx::query(&db.sql(
        "UPDATE tokens SET name = ?, status = ?, expired_time = ?, unlimited_quota = ?, \
         model_limits_enabled = ?, model_limits = ?, allow_ips = ?, group_name = ?, rate_limit_enabled = ?, \
         rate_limit_period = ?, rate_limit_count = ?, rate_limit_success = ? WHERE id = ?",
    ))
    .bind(&row.name)
    .bind(row.status)
    .bind(row.expired_time)
    .bind(row.unlimited_quota)
    .bind(row.model_limits_enabled)
    .bind(&row.model_limits)
    .bind(&row.allow_ips)
    .bind(&row.group_name)
    .bind(row.rate_limit_enabled)
    .bind(row.rate_limit_period)
    .bind(row.rate_limit_count)
    .bind(row.rate_limit_success)
    .bind(row.id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Sets what a token has left to `remain`: quota held in its open leases counts as left, so the stored balance
/// is `remain` minus that.
pub async fn set_remain_quota(db: &Db, id: i64, user_id: i64, remain: i64) -> Result<(), ControlError> {
    let (leased, _) = super::leases::outstanding(db, id, user_id).await?;
    sqlx::query(&db.sql("UPDATE tokens SET remain_quota = ? WHERE id = ?"))
        .bind(remain - leased)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The encrypted key of a live token (for its owner to reveal).
pub async fn key_ciphertext(db: &Db, id: i64) -> Result<Option<String>, ControlError> {
    let row: Option<(String,)> =
        sqlx::query_as(&db.sql("SELECT key_ciphertext FROM tokens WHERE id = ? AND deleted_at IS NULL"))
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(c,)| c))
}

/// Soft delete: the row stays for the logs that name it, but the key stops working.
pub async fn soft_delete(db: &Db, id: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE tokens SET deleted_at = ? WHERE id = ?"))
        .bind(super::now_secs())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
