//! The quota warning: sent once each time a user's remaining quota falls below their threshold, found by
//! settlement (which knows the remaining quota before and after each batch, in its transaction). Falling further
//! sends nothing; rising to the threshold or above (a top-up, a redemption, an administrator) re-arms it, so the
//! next fall warns again.
//!
//! "Remaining" is what the user can still spend: `quota` + `subscription_quota` + what their open quota leases
//! still hold (the amount `Authorize` checks). Lease grants and returns move quota between the balance and
//! leases without changing it, so it falls only as requests are settled.

use super::Notice;
use crate::state::AppState;

/// Veloera's default `QuotaRemindThreshold` (quota units), for users who set no threshold of their own.
pub const DEFAULT_SITE_THRESHOLD: i64 = 1000;

/// A user whose remaining quota fell below their threshold with one settled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub user_id: i64,
    pub remaining: i64,
    pub threshold: i64,
}

/// Whether a batch taking the remaining quota from `before` to `after` crosses `threshold` downwards (a
/// threshold of 0 or less warns never).
pub fn crossed(before: i64, after: i64, threshold: i64) -> bool {
    threshold > 0 && before >= threshold && after < threshold
}

/// The threshold that applies: the user's own, else the site's `QuotaRemindThreshold`.
pub fn threshold(own: i64, site: i64) -> i64 {
    if own > 0 { own } else { site }
}

/// Quota as the UI shows it: units, and what they are worth in US dollars.
fn amount(quota: i64, quota_per_unit: i64) -> String {
    format!("{quota} (${:.2})", quota as f64 / quota_per_unit.max(1) as f64)
}

/// Veloera's `quota_exceed` notice, in English and plain text.
pub fn notice(c: &Crossing, quota_per_unit: i64, server_address: &str) -> Notice {
    let remaining = amount(c.remaining, quota_per_unit);
    let threshold = amount(c.threshold, quota_per_unit);
    let link = format!("{}/topup", server_address.trim_end_matches('/'));
    Notice::new(
        "quota_exceed",
        "Your quota is running low".to_string(),
        format!(
            "Your remaining quota is {remaining}, below your warning threshold of {threshold}. \
             Top up so your requests keep working: {link}"
        ),
        vec![remaining, threshold, link],
    )
}

/// Queues a warning for each crossing (after the batch committed).
pub async fn send(state: &AppState, crossings: &[Crossing]) {
    if crossings.is_empty() {
        return;
    }
    let server_address = state.accounts().server_address.clone();
    let per_unit = state.prices().quota_per_unit();
    for c in crossings {
        tracing::info!(user = c.user_id, remaining = c.remaining, threshold = c.threshold, "quota warning");
        super::send(state, c.user_id, notice(c, per_unit, &server_address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fall_from_at_or_above_to_below_is_a_crossing() {
        assert!(crossed(1000, 999, 1000));
        assert!(crossed(5000, -20, 1000));
        assert!(!crossed(999, 500, 1000), "already below: warned before");
        assert!(!crossed(2000, 1000, 1000), "at the threshold is not below it");
        assert!(!crossed(5000, 10, 0), "threshold 0: no warnings");
    }

    #[test]
    fn the_users_threshold_wins_over_the_sites() {
        assert_eq!(threshold(0, DEFAULT_SITE_THRESHOLD), 1000);
        assert_eq!(threshold(250_000, DEFAULT_SITE_THRESHOLD), 250_000);
        assert_eq!(threshold(0, 0), 0);
    }

    #[test]
    fn the_notice_names_the_amounts_and_the_top_up_page() {
        let n =
            notice(&Crossing { user_id: 1, remaining: 250_000, threshold: 500_000 }, 500_000, "https://ai.example/");
        assert_eq!(n.kind, "quota_exceed");
        assert!(n.content.contains("250000 ($0.50)") && n.content.contains("500000 ($1.00)"), "{}", n.content);
        assert_eq!(n.values[2], "https://ai.example/topup");
    }
}
