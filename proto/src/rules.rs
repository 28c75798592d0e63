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
