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
/// `round((prompt − cached + cached×cache_ratio + completion×completion_ratio) × model_ratio × group_ratio)`,
/// at least 1 when the ratio is non-zero and tokens were used; a fixed price is `price × quota_per_unit × group_ratio`.
pub fn quota_for(pricing: &crate::v1::Pricing, prompt: i64, completion: i64, cached: i64) -> i64 {
    if let Some(price) = pricing.model_price {
        return (price * pricing.quota_per_unit as f64 * pricing.group_ratio).round() as i64;
    }
    let cached = cached.clamp(0, prompt.max(0));
    let tokens =
        (prompt - cached) as f64 + cached as f64 * pricing.cache_ratio + completion as f64 * pricing.completion_ratio;
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
}
