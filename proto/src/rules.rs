//! Rules both sides of the contract apply: control on the cold path, the relay on every warm request.

use std::net::IpAddr;

use ipnet::IpNet;

/// True when `ip` matches one entry of the allowlist (exact address or CIDR), or the list is empty.
pub fn ip_allowed(allowlist: &[String], ip: &str) -> bool {
    if allowlist.is_empty() {
        return true;
    }
    let Ok(addr) = ip.parse::<IpAddr>() else { return false };
    allowlist.iter().any(|entry| match entry.parse::<IpNet>() {
        Ok(net) => net.contains(&addr),
        Err(_) => entry.parse::<IpAddr>().map(|a| a == addr).unwrap_or(false),
    })
}

/// Veloera's per-token charge, shared so the relay's local estimate and control's settlement agree:
/// `round((prompt − cached − written + cached×cache_ratio + written×cache_creation_ratio + completion×completion_ratio)
/// × model_ratio × group_ratio)`, where `cached` (read from the prompt cache) and `written` (written to it,
/// Anthropic's `cache_creation_input_tokens`) are parts of `prompt`; at least 1 when the ratio is non-zero and
/// tokens were used. A fixed price is `price × quota_per_unit × group_ratio`.
pub fn quota_for(pricing: &crate::v1::Pricing, prompt: i64, completion: i64, cached: i64, written: i64) -> i64 {
    if let Some(price) = pricing.model_price {
        return (price * pricing.quota_per_unit as f64 * pricing.group_ratio).round() as i64;
    }
    let prompt = prompt.max(0);
    let cached = cached.clamp(0, prompt);
    let written = written.clamp(0, prompt - cached);
    let tokens = (prompt - cached - written) as f64
        + cached as f64 * pricing.cache_ratio
        + written as f64 * pricing.cache_creation_ratio
        + completion as f64 * pricing.completion_ratio;
    let ratio = pricing.model_ratio * pricing.group_ratio;
    let quota = (tokens * ratio).round() as i64;
    if ratio > 0.0 && quota == 0 && prompt + completion > 0 { 1 } else { quota }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_accepts_exact_ips_and_cidrs() {
        let list = vec!["10.0.0.0/8".to_string(), "192.168.1.5".to_string()];
        assert!(ip_allowed(&list, "10.2.3.4"));
        assert!(ip_allowed(&list, "192.168.1.5"));
        assert!(!ip_allowed(&list, "192.168.1.6"));
        assert!(!ip_allowed(&list, "not-an-ip"));
        assert!(ip_allowed(&[], "anything"));
    }

    fn claude() -> crate::v1::Pricing {
        crate::v1::Pricing {
            model_ratio: 1.5,
            completion_ratio: 5.0,
            cache_ratio: 0.1,
            cache_creation_ratio: 1.25,
            group_ratio: 1.0,
            model_price: None,
            quota_per_unit: 500_000,
        }
    }

    #[test]
    fn cache_writes_cost_the_creation_ratio() {
        // 1000 prompt tokens of which 800 read from the cache and 100 written to it, 10 out:
        // (100 + 800×0.1 + 100×1.25 + 10×5) × 1.5 = (100 + 80 + 125 + 50) × 1.5 = 532.5 → 533
        assert_eq!(quota_for(&claude(), 1000, 10, 800, 100), 533);
        // Without the write, the same 100 tokens cost the plain input price.
        assert_eq!(quota_for(&claude(), 1000, 10, 800, 0), 495);
    }

    #[test]
    fn cache_counts_never_exceed_the_prompt() {
        // Reads and writes are parts of the prompt: more than it is clamped, never charged twice.
        assert_eq!(quota_for(&claude(), 100, 0, 0, 500), quota_for(&claude(), 100, 0, 0, 100));
        assert_eq!(quota_for(&claude(), 100, 0, 80, 500), quota_for(&claude(), 100, 0, 80, 20));
        assert_eq!(quota_for(&claude(), 100, 0, -5, -5), quota_for(&claude(), 100, 0, 0, 0));
    }

    #[test]
    fn a_fixed_price_ignores_cache_tokens() {
        let p = crate::v1::Pricing { model_price: Some(0.04), ..claude() };
        assert_eq!(quota_for(&p, 1000, 10, 800, 100), 20_000);
    }
}
