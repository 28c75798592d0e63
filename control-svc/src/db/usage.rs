//! Settles a batch of usage reports in one transaction, exactly once per request id.

use std::collections::BTreeSet;

use serde_json::json;
use veloera_admin_types::log_type;

use super::{Db, now_secs};
use crate::billing::{PriceTable, quota_for};
use crate::error::ControlError;

/// One finished request as the relay reported it.
#[derive(Debug, Clone, Default)]
pub struct UsageReport {
    pub request_id: String,
    pub user_id: i64,
    pub token_id: i64,
    pub token_name: String,
    pub channel_id: i64,
    pub model: String,
    pub upstream_model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub latency_ms: i64,
    pub first_byte_ms: i64,
    pub stream: bool,
    /// False when the upstream failed: nothing is charged and no consume log is written.
    pub billable: bool,
    pub group: String,
    pub client_ip: String,
    pub created_at_secs: i64,
}

/// What a committed batch changed, so the caller can push cache invalidations.
#[derive(Debug, Default)]
pub struct Settled {
    /// Reports applied now (not earlier).
    pub newly_applied: usize,
    /// Tokens whose quota ran out with this batch.
    pub exhausted_tokens: BTreeSet<i64>,
    /// Users whose quota ran out with this batch.
    pub exhausted_users: BTreeSet<i64>,
}

/// Applies every report whose request id has not been seen before: charges token, user and channel,
/// and writes the consume log row. All or nothing.
pub async fn settle(db: &Db, prices: &PriceTable, reports: &[UsageReport]) -> Result<Settled, ControlError> {
    let mut settled = Settled::default();
    let mut tx = db.pool().begin().await?;
    let ledger = db.insert_ignore("usage_applied (request_id, applied_at)", "(?, ?)");
    let ledger = db.sql(&ledger).into_owned();
    for r in reports {
        let fresh = sqlx::query(&ledger).bind(&r.request_id).bind(now_secs()).execute(&mut *tx).await?;
        if fresh.rows_affected() == 0 {
            continue;
        }
        settled.newly_applied += 1;
        if !r.billable {
            continue;
        }
        let pricing = prices.lookup(&r.model, &r.group);
        let quota =
            pricing.as_ref().map(|p| quota_for(p, r.prompt_tokens, r.completion_tokens, r.cached_tokens)).unwrap_or(0);
        sqlx::query(&db.sql(
            "UPDATE tokens SET remain_quota = CASE WHEN unlimited_quota = 0 THEN remain_quota - ? ELSE remain_quota END, \
             used_quota = used_quota + ?, accessed_time = ? WHERE id = ?",
        ))
        .bind(quota)
        .bind(quota)
        .bind(now_secs())
        .bind(r.token_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&db.sql(
            "UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, request_count = request_count + 1 WHERE id = ?",
        ))
        .bind(quota)
        .bind(quota)
        .bind(r.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&db.sql("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"))
            .bind(quota)
            .bind(r.channel_id)
            .execute(&mut *tx)
            .await?;
        let other = json!({
            "model_ratio": pricing.as_ref().map(|p| p.model_ratio),
            "completion_ratio": pricing.as_ref().map(|p| p.completion_ratio),
            "cache_ratio": pricing.as_ref().map(|p| p.cache_ratio),
            "group_ratio": pricing.as_ref().map(|p| p.group_ratio),
            "model_price": pricing.as_ref().and_then(|p| p.model_price),
            "cache_tokens": r.cached_tokens,
            "frt": r.first_byte_ms,
            "is_model_mapped": r.upstream_model != r.model,
            "upstream_model_name": r.upstream_model,
        });
        sqlx::query(&db.sql(
            "INSERT INTO logs (user_id, created_at, type, content, username, token_name, token_id, model_name, quota, \
             prompt_tokens, completion_tokens, use_time, is_stream, channel_id, group_name, client_ip, request_id, other) \
             SELECT ?, ?, ?, '', username, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?",
        ))
        .bind(r.user_id)
        .bind(r.created_at_secs)
        .bind(log_type::CONSUME as i64)
        .bind(&r.token_name)
        .bind(r.token_id)
        .bind(&r.model)
        .bind(quota)
        .bind(r.prompt_tokens)
        .bind(r.completion_tokens)
        .bind(r.latency_ms / 1000)
        .bind(r.stream as i64)
        .bind(r.channel_id)
        .bind(&r.group)
        .bind(&r.client_ip)
        .bind(&r.request_id)
        .bind(other.to_string())
        .bind(r.user_id)
        .execute(&mut *tx)
        .await?;
        if quota > 0 {
            let (remain, unlimited): (i64, i64) =
                sqlx::query_as(&db.sql("SELECT remain_quota, unlimited_quota FROM tokens WHERE id = ?"))
                    .bind(r.token_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if unlimited == 0 && remain <= 0 {
                settled.exhausted_tokens.insert(r.token_id);
            }
            let (user_quota,): (i64,) = sqlx::query_as(&db.sql("SELECT quota FROM users WHERE id = ?"))
                .bind(r.user_id)
                .fetch_one(&mut *tx)
                .await?;
            if user_quota <= 0 {
                settled.exhausted_users.insert(r.user_id);
            }
        }
    }
    tx.commit().await?;
    Ok(settled)
}
