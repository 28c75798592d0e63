//! Quota leases: quota moved out of a token's and its user's balance into a reservation a relay admits
//! requests against. Granting is a pair of conditional updates in one write transaction, so concurrent grants
//! can never take more than the balances hold; settled requests add to `used`; closing shrinks the lease to what
//! was spent under it and gives the rest back. Whatever a lease does not cover is charged to the balances.
//!
//! A user's balance is two columns: `subscription_quota`, spent first, then `quota`. A lease records how much of
//! it came from the subscription (`subscription_amount`). What its requests spend is counted against that part
//! first, so the subscription is still what goes first; what a closing lease gives back returns to `quota` up to
//! what the lease took from it, and the rest to the subscription.

use super::{Db, now_secs};
use crate::error::ControlError;

/// How long a lease may be used; control reclaims it a little after that.
pub const TTL_SECS: i64 = 60;
/// Extra time before an expired lease is reclaimed, for its last usage reports to arrive.
pub const RECLAIM_GRACE_SECS: i64 = 30;

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub id: String,
    pub amount: i64,
}

/// Why nothing could be leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    TokenExhausted,
    UserExhausted,
    /// Quota is left, but less than the request needs (`available` is what could have been leased).
    TokenNotEnough {
        available: i64,
        needed: i64,
    },
    UserNotEnough {
        available: i64,
        needed: i64,
    },
    /// The token or user no longer exists.
    Unknown,
}

/// What a relay asks for.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub relay_id: &'a str,
    pub user_id: i64,
    pub token_id: i64,
    /// What the relay would like to hold.
    pub wanted: i64,
    /// The least it can use: one request's estimate. Nothing less is ever granted.
    pub needed: i64,
    /// The rest of the relay's current lease for the token, given back first: `(lease id, amount)`.
    pub surrender: Option<(&'a str, i64)>,
}

/// The token id of playground requests (`grpc/session.rs`): billed to their user, with no token row.
pub const PLAYGROUND_TOKEN: i64 = 0;

/// Moves up to `wanted` (at least `needed`) quota into a new lease: at most half of what is available, so leases
/// shrink as the balance does and, near zero, cover a single request. A balance smaller than `needed` is
/// refused: the request it was for is never sent. A surrendered rest goes back to the balances first, and stays
/// back even when the grant is refused.
pub async fn grant(db: &Db, ask: Wanted<'_>) -> Result<Result<Granted, Refused>, ControlError> {
    let Wanted { relay_id, user_id, token_id, wanted, .. } = ask;
    let needed = ask.needed.max(1);
    let mut tx = db.begin_write().await?;
    // Locks in the order settlement writes (lease, token, then user), so the two never wait on each other in a
    // cycle. The surrender comes first: it may add to both balances read below.
    if let Some((id, amount)) = ask.surrender {
        give_back_part(db, &mut tx, id, token_id, Shrink::By(amount)).await?;
    }
    // Token 0 is the playground's (Veloera's convention): no token row, so the user's balance alone decides.
    let token: Option<(i64, i64)> = if token_id == PLAYGROUND_TOKEN {
        Some((0, 1))
    } else {
        sqlx::query_as(&db.sql(&format!(
            "SELECT remain_quota, unlimited_quota FROM tokens WHERE id = ? AND user_id = ?{}",
            db.for_update()
        )))
        .bind(token_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
    };
    let user: Option<(i64, i64)> = sqlx::query_as(
        &db.sql(&format!("SELECT quota, subscription_quota FROM users WHERE id = ?{}", db.for_update())),
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (Some((user_quota, subscription)), Some((token_remain, unlimited))) = (user, token) else {
        return Ok(Err(Refused::Unknown));
    };
    let limited = unlimited == 0;
    let user_available = user_quota + subscription;
    let refusal = if limited && token_remain <= 0 {
        Some(Refused::TokenExhausted)
    } else if user_available <= 0 {
        Some(Refused::UserExhausted)
    } else if limited && token_remain < needed {
        Some(Refused::TokenNotEnough { available: token_remain, needed })
    } else if user_available < needed {
        Some(Refused::UserNotEnough { available: user_available, needed })
    } else {
        None
    };
    if let Some(refused) = refusal {
        // What was surrendered stays given back.
        tx.commit().await?;
        return Ok(Err(refused));
    }
    let available = if limited { user_available.min(token_remain) } else { user_available };
    let amount = wanted.min(available / 2).max(needed);
    if limited {
        let took_token = sqlx::query(
            &db.sql("UPDATE tokens SET remain_quota = remain_quota - ? WHERE id = ? AND remain_quota >= ?"),
        )
        .bind(amount)
        .bind(token_id)
        .bind(amount)
        .execute(&mut *tx)
        .await?;
        if took_token.rows_affected() == 0 {
            return Ok(Err(Refused::TokenExhausted));
        }
    }
    let split = Split::taking(amount, subscription);
    // Conditional on both columns still holding their part: never below zero, even were the lock missing.
    let took_user = sqlx::query(&db.sql(
        "UPDATE users SET subscription_quota = subscription_quota - ?, quota = quota - ? \
         WHERE id = ? AND (? = 0 OR subscription_quota >= ?) AND (? = 0 OR quota >= ?)",
    ))
    .bind(split.subscription)
    .bind(split.quota)
    .bind(user_id)
    .bind(split.subscription)
    .bind(split.subscription)
    .bind(split.quota)
    .bind(split.quota)
    .execute(&mut *tx)
    .await?;
    if took_user.rows_affected() == 0 {
        // Dropping the transaction rolls the token's side back.
        return Ok(Err(Refused::UserExhausted));
    }
    let id = format!("lease-{}", crate::secrets::random_string(24));
    let now = now_secs();
    sqlx::query(&db.sql(
        "INSERT INTO quota_leases (id, relay_id, user_id, token_id, token_limited, amount, subscription_amount, used, \
         created_at, expires_at, closed) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0)",
    ))
    .bind(&id)
    .bind(relay_id.chars().take(64).collect::<String>())
    .bind(user_id)
    .bind(token_id)
    .bind(i64::from(limited))
    .bind(amount)
    .bind(split.subscription)
    .bind(now)
    .bind(now + TTL_SECS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(Granted { id, amount }))
}

/// How much of an open lease goes back to the balances.
#[derive(Debug, Clone, Copy)]
enum Shrink {
    /// It closes, keeping what was spent under it.
    Close { spent: Option<i64> },
    /// It stays open, smaller by (at most) this much: what its relay no longer means to reserve.
    By(i64),
}

/// Gives back part of lease `id` inside `tx` (never below what settled requests used), to the token (when the
/// lease took from it) and to the user's two balances where the lease took them from. Returns what went back;
/// 0 when the lease is closed, unknown, or (`token_id` given) another token's.
async fn give_back_part(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    token_of: i64,
    shrink: Shrink,
) -> Result<i64, ControlError> {
    let lease: Option<(i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(&db.sql(&format!(
        "SELECT user_id, token_id, token_limited, amount, subscription_amount, used, closed FROM quota_leases \
         WHERE id = ?{}",
        db.for_update()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((user_id, token_id, limited, amount, subscription_amount, used, 0)) = lease else {
        return Ok(0);
    };
    if token_of != 0 && token_id != token_of {
        return Ok(0);
    }
    let (kept, closed) = match shrink {
        Shrink::Close { spent } => (spent.unwrap_or(used).max(used).clamp(0, amount), 1),
        Shrink::By(by) => ((amount - by.max(0)).max(used).clamp(0, amount), 0),
    };
    let unused = amount - kept;
    let back = Split::returning(unused, amount, subscription_amount);
    sqlx::query(
        &db.sql("UPDATE quota_leases SET closed = ?, amount = ?, subscription_amount = ? WHERE id = ? AND closed = 0"),
    )
    .bind(closed)
    .bind(kept)
    .bind(subscription_amount - back.subscription)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if unused > 0 {
        if limited != 0 {
            sqlx::query(&db.sql("UPDATE tokens SET remain_quota = remain_quota + ? WHERE id = ?"))
                .bind(unused)
                .bind(token_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            &db.sql("UPDATE users SET subscription_quota = subscription_quota + ?, quota = quota + ? WHERE id = ?"),
        )
        .bind(back.subscription)
        .bind(back.quota)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(unused)
}

/// Closes a lease: it keeps what was spent under it (`spent` as the relay counted it, all its requests
/// finished; else what control has settled) and gives the rest back. Usage reports arriving later are covered by
/// what it kept. Returns the quota given back (0 when it was already closed).
pub async fn close(db: &Db, id: &str, spent: Option<i64>) -> Result<i64, ControlError> {
    let mut tx = db.begin_write().await?;
    let unused = give_back_part(db, &mut tx, id, 0, Shrink::Close { spent }).await?;
    tx.commit().await?;
    Ok(unused)
}

/// An amount of a user's balance divided between its two columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub subscription: i64,
    pub quota: i64,
}

impl Split {
    /// Taking `amount` from a user with `subscription` subscription quota: that first, the rest from `quota`.
    pub fn taking(amount: i64, subscription: i64) -> Split {
        let from_subscription = amount.clamp(0, subscription.max(0));
        Split { subscription: from_subscription, quota: amount - from_subscription }
    }

    /// Giving back `unused` of a lease of `amount` of which `subscription_amount` came from the subscription:
    /// what was spent counts against the subscription part first, so the unused rest is first the `quota` part.
    pub fn returning(unused: i64, amount: i64, subscription_amount: i64) -> Split {
        let from_quota = (amount - subscription_amount).max(0);
        let to_quota = unused.clamp(0, from_quota);
        Split { subscription: (unused - to_quota).clamp(0, subscription_amount.max(0)), quota: to_quota }
    }
}

/// Leases past their time (and grace) that nobody returned: a relay that died. Closes them.
pub async fn reclaim_expired(db: &Db) -> Result<usize, ControlError> {
    let ids: Vec<(String,)> =
        sqlx::query_as(&db.sql("SELECT id FROM quota_leases WHERE closed = 0 AND expires_at < ?"))
            .bind(now_secs() - RECLAIM_GRACE_SECS)
            .fetch_all(db.pool())
            .await?;
    for (id,) in &ids {
        close(db, id, None).await?;
    }
    Ok(ids.len())
}

/// What open leases still hold, from their rows (summed here: `SUM` comes back as NUMERIC or DECIMAL from
/// PostgreSQL and MySQL, which the `Any` driver does not decode).
async fn held(db: &Db, column: &str, id: i64) -> Result<Vec<(i64, i64)>, ControlError> {
    let q = format!("SELECT token_id, amount - used FROM quota_leases WHERE {column} = ? AND closed = 0");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_all(db.pool()).await?)
}

/// Quota held in open leases of a token and of a user (counted as still available to them).
pub async fn outstanding(db: &Db, token_id: i64, user_id: i64) -> Result<(i64, i64), ControlError> {
    let token: i64 = held(db, "token_id", token_id).await?.iter().map(|(_, left)| (*left).max(0)).sum();
    let user: i64 = held(db, "user_id", user_id).await?.iter().map(|(_, left)| (*left).max(0)).sum();
    Ok((token, user))
}

/// Quota held in open leases per token of `user_id`.
pub async fn outstanding_by_token(db: &Db, user_id: i64) -> Result<std::collections::HashMap<i64, i64>, ControlError> {
    let mut by_token = std::collections::HashMap::new();
    for (token, left) in held(db, "user_id", user_id).await? {
        *by_token.entry(token).or_insert(0) += left.max(0);
    }
    Ok(by_token)
}

/// Quota held in open leases of `user_id`'s tokens, as the two balances it would go back to if unspent.
pub async fn outstanding_for_user(db: &Db, user_id: i64) -> Result<Split, ControlError> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        &db.sql("SELECT amount, subscription_amount, used FROM quota_leases WHERE user_id = ? AND closed = 0"),
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let mut held = Split { subscription: 0, quota: 0 };
    for (amount, subscription_amount, used) in rows {
        let back = Split::returning((amount - used).max(0), amount, subscription_amount);
        held.subscription += back.subscription;
        held.quota += back.quota;
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::Split;

    #[test]
    fn leases_take_the_subscription_first() {
        assert_eq!(Split::taking(300, 100), Split { subscription: 100, quota: 200 });
        assert_eq!(Split::taking(50, 100), Split { subscription: 50, quota: 50 - 50 });
        assert_eq!(Split::taking(50, -10), Split { subscription: 0, quota: 50 });
    }

    #[test]
    fn returns_go_back_where_they_came_from() {
        // 100 from the subscription, 200 from quota; 50 spent (from the subscription): 200 back to quota, 50 to it.
        assert_eq!(Split::returning(250, 300, 100), Split { subscription: 50, quota: 200 });
        // Nothing spent: all of it back, each part where it came from.
        assert_eq!(Split::returning(300, 300, 100), Split { subscription: 100, quota: 200 });
        // More spent than the subscription part: only quota comes back.
        assert_eq!(Split::returning(20, 300, 100), Split { subscription: 0, quota: 20 });
        assert_eq!(Split::returning(0, 300, 100), Split { subscription: 0, quota: 0 });
    }
}
