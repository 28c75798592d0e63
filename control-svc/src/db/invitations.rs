//! Invitations: each user's invitation code (`aff_code`), the invitation quota (`aff_quota`) inviters earn and
//! move into their balance, the reward paid when someone registers with a code, and the optional rebate on an
//! invited user's top-ups.

use rand::Rng;
use veloera_admin_types::log_type;

use super::Db;
use super::logs::{AccountEvent, record_event};
use super::redemptions::is_unique_violation;
use crate::error::ControlError;

/// Veloera's invitation codes: 4 characters.
const AFF_CODE_LEN: usize = 4;
const AFF_CODE_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Attempts at a free random code before giving up (a collision needs millions of users to become likely).
const AFF_CODE_ATTEMPTS: usize = 20;

/// The user's invitation code, generating a random one on first use. Codes are unique among users: the
/// database's unique index refuses a taken code and another is drawn.
pub async fn aff_code(db: &Db, user_id: i64) -> Result<String, ControlError> {
    for _ in 0..AFF_CODE_ATTEMPTS {
        if let Some(code) = current_aff_code(db, user_id).await? {
            return Ok(code);
        }
        let candidate = random_aff_code();
        let set = sqlx::query(&db.sql("UPDATE users SET aff_code = ? WHERE id = ? AND aff_code = ''"))
            .bind(&candidate)
            .bind(user_id)
            .execute(db.pool())
            .await;
        match set {
            Ok(done) if done.rows_affected() == 1 => return Ok(candidate),
            // Another request gave the user a code first: read it on the next turn.
            Ok(_) => {}
            // Someone else holds this code: draw another.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(ControlError::Internal(format!("no free invitation code after {AFF_CODE_ATTEMPTS} attempts")))
}

/// `Some(code)` once the user has one; `NotFound` for an unknown user.
async fn current_aff_code(db: &Db, user_id: i64) -> Result<Option<String>, ControlError> {
    let row: Option<(String,)> =
        sqlx::query_as(&db.sql("SELECT aff_code FROM users WHERE id = ? AND deleted_at IS NULL"))
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    let (code,) = row.ok_or_else(|| ControlError::NotFound(format!("user {user_id} not found")))?;
    Ok(Some(code).filter(|c| !c.is_empty()))
}

fn random_aff_code() -> String {
    let mut rng = rand::rng();
    (0..AFF_CODE_LEN).map(|_| AFF_CODE_ALPHABET[rng.random_range(0..AFF_CODE_ALPHABET.len())] as char).collect()
}

/// Balances after a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    pub quota: i64,
    pub aff_quota: i64,
}

/// Moves `amount` of the user's invitation quota into its quota: at least one unit (`QuotaPerUnit`, $1), at
/// most what it has. The move is one conditional update, so concurrent transfers never overdraw. `unit` is the
/// options' `QuotaPerUnit` (at least 1 is asked for, whatever it says).
pub async fn transfer(db: &Db, unit: i64, user_id: i64, amount: i64) -> Result<Balances, ControlError> {
    let unit = unit.max(1);
    if amount < unit {
        return Err(ControlError::BadRequest(format!("at least {unit} quota (one unit) must be transferred")));
    }
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(&db.sql(
        "UPDATE users SET aff_quota = aff_quota - ?, quota = quota + ? \
         WHERE id = ? AND deleted_at IS NULL AND aff_quota >= ?",
    ))
    .bind(amount)
    .bind(amount)
    .bind(user_id)
    .bind(amount)
    .execute(&mut *tx)
    .await?;
    let (quota, aff_quota): (i64, i64) =
        sqlx::query_as(&db.sql("SELECT quota, aff_quota FROM users WHERE id = ? AND deleted_at IS NULL"))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("user {user_id} not found")))?;
    if moved.rows_affected() == 0 {
        return Err(ControlError::BadRequest(format!(
            "not enough invitation quota: {aff_quota} available, {amount} requested"
        )));
    }
    let content = format!("moved {amount} invitation quota into the balance");
    record_event(db, &mut tx, &AccountEvent { user_id, log_type: log_type::SYSTEM, content: &content, quota: amount })
        .await?;
    tx.commit().await?;
    Ok(Balances { quota, aff_quota })
}

/// What [`reward_inviter`] credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationReward {
    /// Added to the new user's quota (option `QuotaForInvitee`).
    pub invitee_quota: i64,
    /// Added to the inviter's `aff_quota` and `aff_history_quota` (option `QuotaForInviter`).
    pub inviter_quota: i64,
}

/// The reward for a registration with `inviter_id`'s invitation code, inside the registration's transaction
/// `tx` (so it commits or rolls back with the new user): records the inviter on the invitee, credits the
/// invitee `reward.invitee_quota`, and counts the invitation for the inviter (`aff_count` + 1) with
/// `reward.inviter_quota` added to its `aff_quota` and `aff_history_quota`; a system log for each credit.
/// Refused (nothing written) when the invitee already has another inviter, invites itself, or either user
/// does not exist. The one implementation every registration path uses (through `accounts::create_in`).
pub async fn reward_inviter(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    inviter_id: i64,
    invitee_id: i64,
    reward: InvitationReward,
) -> Result<(), ControlError> {
    if inviter_id == invitee_id {
        return Err(ControlError::BadRequest("a user cannot invite itself".into()));
    }
    let reward =
        InvitationReward { invitee_quota: reward.invitee_quota.max(0), inviter_quota: reward.inviter_quota.max(0) };
    let invitee = sqlx::query(&db.sql(
        "UPDATE users SET inviter_id = ?, quota = quota + ? \
         WHERE id = ? AND deleted_at IS NULL AND (inviter_id = 0 OR inviter_id = ?)",
    ))
    .bind(inviter_id)
    .bind(reward.invitee_quota)
    .bind(invitee_id)
    .bind(inviter_id)
    .execute(&mut **tx)
    .await?;
    if invitee.rows_affected() == 0 {
        return Err(ControlError::Conflict(format!("user {invitee_id} does not exist or was invited by someone else")));
    }
    let inviter = sqlx::query(&db.sql(
        "UPDATE users SET aff_count = aff_count + 1, aff_quota = aff_quota + ?, \
         aff_history_quota = aff_history_quota + ? WHERE id = ? AND deleted_at IS NULL",
    ))
    .bind(reward.inviter_quota)
    .bind(reward.inviter_quota)
    .bind(inviter_id)
    .execute(&mut **tx)
    .await?;
    if inviter.rows_affected() == 0 {
        return Err(ControlError::NotFound(format!("inviter {inviter_id} not found")));
    }
    if reward.invitee_quota > 0 {
        let content =
            format!("invitation reward for registering with an invitation code: {} quota", reward.invitee_quota);
        let event = AccountEvent {
            user_id: invitee_id,
            log_type: log_type::SYSTEM,
            content: &content,
            quota: reward.invitee_quota,
        };
        record_event(db, tx, &event).await?;
    }
    if reward.inviter_quota > 0 {
        let content = format!("invitation reward for inviting a new user: {} invitation quota", reward.inviter_quota);
        let event = AccountEvent {
            user_id: inviter_id,
            log_type: log_type::SYSTEM,
            content: &content,
            quota: reward.inviter_quota,
        };
        record_event(db, tx, &event).await?;
    }
    Ok(())
}

/// Veloera's rebate ("拉新返佣"), off unless the option `RebateEnabled` is true: when an invited user tops up
/// `topped_up`, its inviter gets `RebatePercentage` percent of it (rounded down) as quota, and both get a
/// log. Veloera v0.5 no longer pays it on redemption codes; here an administrator may still turn it on.
pub(crate) async fn pay_rebate(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rebate_percentage: Option<f64>,
    invitee_id: i64,
    topped_up: i64,
) -> Result<(), ControlError> {
    let Some(percentage) = rebate_percentage else {
        return Ok(());
    };
    let invitee: Option<(i64, String)> = sqlx::query_as(&db.sql("SELECT inviter_id, username FROM users WHERE id = ?"))
        .bind(invitee_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some((inviter_id, invitee_name)) = invitee.filter(|(inviter, _)| *inviter != 0) else {
        return Ok(());
    };
    let rebate = (topped_up as f64 * percentage / 100.0).floor() as i64;
    if rebate <= 0 {
        return Ok(());
    }
    let paid = sqlx::query(&db.sql("UPDATE users SET quota = quota + ? WHERE id = ? AND deleted_at IS NULL"))
        .bind(rebate)
        .bind(inviter_id)
        .execute(&mut **tx)
        .await?;
    if paid.rows_affected() == 0 {
        return Ok(());
    }
    let to_inviter = format!("invitation rebate: {percentage}% of a top-up by {invitee_name}: {rebate} quota");
    let event = AccountEvent { user_id: inviter_id, log_type: log_type::TOPUP, content: &to_inviter, quota: rebate };
    record_event(db, tx, &event).await?;
    let to_invitee = format!("your inviter received a {percentage}% rebate ({rebate} quota) on this top-up");
    let event = AccountEvent { user_id: invitee_id, log_type: log_type::SYSTEM, content: &to_invitee, quota: 0 };
    record_event(db, tx, &event).await?;
    Ok(())
}
