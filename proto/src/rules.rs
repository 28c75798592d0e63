//! Rules both sides of the contract apply: control on the cold path, the relay on every warm request.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::v1::DenialReason;

/// A token's IP allow-list, parsed: each entry a network (an exact address is its one-address network). The
/// relay keeps one per cached caller, so a warm request parses no entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowList {
    /// The list had entries (even if none parsed): an address must match one.
    restricted: bool,
    nets: Vec<IpNet>,
}

impl IpAllowList {
    /// The allow-list of `entries` (exact addresses or CIDRs); entries that are neither match nothing.
    pub fn parse(entries: &[String]) -> IpAllowList {
        let net =
            |entry: &String| entry.parse::<IpNet>().ok().or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from));
        IpAllowList { restricted: !entries.is_empty(), nets: entries.iter().filter_map(net).collect() }
    }

    /// True when `ip` is in one of the networks, or the list is empty.
    pub fn allows(&self, ip: &str) -> bool {
        if !self.restricted {
            return true;
        }
        let Ok(addr) = ip.parse::<IpAddr>() else { return false };
        self.nets.iter().any(|net| net.contains(&addr))
    }
}

/// True when `ip` matches one entry of the allowlist (exact address or CIDR), or the list is empty.
pub fn ip_allowed(allowlist: &[String], ip: &str) -> bool {
    IpAllowList::parse(allowlist).allows(ip)
}

/// Role number from which a user may pin a request to a channel (Veloera's administrator).
const ADMIN_ROLE: i32 = 10;

/// What one request asks of a caller's limits.
#[derive(Debug, Clone, Copy)]
pub struct CallerAsk<'a> {
    /// The model asked for; empty when none is (model lists, balances).
    pub model: &'a str,
    pub client_ip: &'a str,
    pub pinned_channel: Option<i64>,
    /// Seconds since the epoch.
    pub now: i64,
    /// Quota spent since `caller`'s balances were read (the relay's local spending; 0 for control).
    pub spent: i64,
}

/// The caller checks both services apply, in one order, with Veloera's messages: expiry, the token's and
/// the user's quota, the IP allow-list, the model allow-list and channel pinning. Control runs them on the
/// cold path (after the checks only its database can make: token and user status), the relay on every warm
/// request against its cached `caller`.
pub fn check_caller(caller: &crate::v1::Caller, ask: &CallerAsk<'_>) -> Result<(), (DenialReason, String)> {
    check_caller_with(caller, &IpAllowList::parse(&caller.ip_allowlist), ask)
}

/// [`check_caller`] with the caller's IP allow-list already parsed (`ips`, from `caller.ip_allowlist`).
pub fn check_caller_with(
    caller: &crate::v1::Caller,
    ips: &IpAllowList,
    ask: &CallerAsk<'_>,
) -> Result<(), (DenialReason, String)> {
    let c = caller;
    if c.expires_at != -1 && c.expires_at <= ask.now {
        return Err((DenialReason::TokenExpired, "token has expired".into()));
    }
    if !c.unlimited_quota && c.token_remain_quota - ask.spent <= 0 {
        return Err((DenialReason::TokenExhausted, "token quota is used up".into()));
    }
    if c.user_quota - ask.spent <= 0 {
        return Err((DenialReason::UserExhausted, "user quota is used up".into()));
    }
    if !ips.allows(ask.client_ip) {
        return Err((DenialReason::IpNotAllowed, format!("IP {} is not allowed to use this token", ask.client_ip)));
    }
    if !ask.model.is_empty() && !c.model_allowlist.is_empty() && !c.model_allowlist.iter().any(|m| m == ask.model) {
        return Err((DenialReason::ModelNotAllowed, format!("this token may not use model {}", ask.model)));
    }
    if ask.pinned_channel.is_some() && c.user_role < ADMIN_ROLE {
        return Err((DenialReason::ChannelPinForbidden, "only administrators may pin a channel".into()));
    }
    Ok(())
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

/// What a request asking for `answers` answers costs: token prices already count every answer's tokens, a price
/// per call is charged once per answer (an image request's `n` images), as Veloera charges them.
pub fn quota_for_answers(
    pricing: &crate::v1::Pricing,
    prompt: i64,
    completion: i64,
    cached: i64,
    written: i64,
    answers: i64,
) -> i64 {
    let quota = quota_for(pricing, prompt, completion, cached, written);
    if pricing.model_price.is_some() { quota.saturating_mul(answers.max(1)) } else { quota }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> crate::v1::Caller {
        crate::v1::Caller {
            expires_at: -1,
            token_remain_quota: 100,
            user_quota: 100,
            model_allowlist: vec!["gpt-4o".into()],
            ip_allowlist: vec!["10.0.0.0/8".into()],
            ..Default::default()
        }
    }

    fn ask(model: &str) -> CallerAsk<'_> {
        CallerAsk { model, client_ip: "10.1.2.3", pinned_channel: None, now: 1_000, spent: 0 }
    }

    #[test]
    fn a_caller_within_every_limit_is_admitted_and_each_limit_refuses_with_its_reason() {
        let reason = |c: &crate::v1::Caller, a: &CallerAsk<'_>| check_caller(c, a).err().map(|(r, _)| r);
        assert_eq!(reason(&caller(), &ask("gpt-4o")), None);
        assert_eq!(reason(&caller(), &ask("")), None, "no model asked: the model allow-list does not apply");
        let expired = crate::v1::Caller { expires_at: 1_000, ..caller() };
        assert_eq!(reason(&expired, &ask("gpt-4o")), Some(DenialReason::TokenExpired));
        assert_eq!(reason(&caller(), &CallerAsk { spent: 100, ..ask("gpt-4o") }), Some(DenialReason::TokenExhausted));
        let unlimited = crate::v1::Caller { unlimited_quota: true, token_remain_quota: 0, ..caller() };
        assert_eq!(reason(&unlimited, &CallerAsk { spent: 100, ..ask("gpt-4o") }), Some(DenialReason::UserExhausted));
        assert_eq!(
            reason(&caller(), &CallerAsk { client_ip: "192.168.0.1", ..ask("gpt-4o") }),
            Some(DenialReason::IpNotAllowed)
        );
        assert_eq!(reason(&caller(), &ask("gpt-4o-mini")), Some(DenialReason::ModelNotAllowed));
        let pinned = CallerAsk { pinned_channel: Some(3), ..ask("gpt-4o") };
        assert_eq!(reason(&caller(), &pinned), Some(DenialReason::ChannelPinForbidden));
        assert_eq!(reason(&crate::v1::Caller { user_role: 10, ..caller() }, &pinned), None);
    }

    #[test]
    fn allowlist_accepts_exact_ips_and_cidrs() {
        let list = vec!["10.0.0.0/8".to_string(), "192.168.1.5".to_string()];
        assert!(ip_allowed(&list, "10.2.3.4"));
        assert!(ip_allowed(&list, "192.168.1.5"));
        assert!(!ip_allowed(&list, "192.168.1.6"));
        assert!(!ip_allowed(&list, "not-an-ip"));
        assert!(ip_allowed(&[], "anything"));
        assert!(!ip_allowed(&["not an entry".to_string()], "10.0.0.1"), "a list of bad entries still restricts");
        assert!(IpAllowList::parse(&["2001:db8::/32".to_string()]).allows("2001:db8::1"));
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
