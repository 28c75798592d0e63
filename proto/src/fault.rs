//! Where an upstream failure's fault lies, decided once for both services: the relay retries by it (another
//! key, another channel, or not at all) and sends it with each failed attempt; control's health applies it
//! (disable the key, count against the channel's circuit, or nothing).

use crate::v1;

/// What a failed attempt says about where the fault lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request itself (400, 404, …): retrying cannot help and it says nothing about the channel.
    Request,
    /// This key: `refused` when its account is refused (401–403 or an account-level error code; disabled
    /// until a probe passes), else rate-limited (429; another key may answer, the channel is well).
    Key { refused: bool },
    /// The channel's upstream is unwell (5xx, 408, no answer): another channel may answer; it counts
    /// against the channel's circuit.
    Channel,
}

/// Account-level error codes and types (Veloera's list): the key's account, not the request, is refused.
pub const KEY_ERROR_CODES: &[&str] = &[
    "invalid_api_key",
    "account_deactivated",
    "billing_not_active",
    "insufficient_quota",
    "authentication_error",
    "permission_error",
];

/// Classifies a failure by the upstream's HTTP status (0 when no answer came) and what it said: its error
/// code, or the error body or message that carries it (matched case-insensitively).
pub fn classify(status: u16, upstream_code: &str) -> Fault {
    if account_code(upstream_code).is_some() {
        return Fault::Key { refused: true };
    }
    match status {
        401..=403 => Fault::Key { refused: true },
        429 => Fault::Key { refused: false },
        0 | 408 | 500..=599 => Fault::Channel,
        _ => Fault::Request,
    }
}

/// The account-level error code `text` names, if any.
pub fn account_code(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    KEY_ERROR_CODES.iter().copied().find(|c| lower.contains(c))
}

impl From<Fault> for v1::Fault {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Request => v1::Fault::Request,
            Fault::Key { refused: true } => v1::Fault::KeyRefused,
            Fault::Key { refused: false } => v1::Fault::KeyLimited,
            Fault::Channel => v1::Fault::Channel,
        }
    }
}

impl Fault {
    /// The fault a relay reported on the wire; `None` when it did not say (an older relay).
    pub fn from_wire(value: i32) -> Option<Fault> {
        match v1::Fault::try_from(value).ok()? {
            v1::Fault::Unspecified => None,
            v1::Fault::Request => Some(Fault::Request),
            v1::Fault::KeyRefused => Some(Fault::Key { refused: true }),
            v1::Fault::KeyLimited => Some(Fault::Key { refused: false }),
            v1::Fault::Channel => Some(Fault::Channel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_keys_rate_limits_unwell_upstreams_and_bad_requests_are_told_apart() {
        assert_eq!(classify(401, ""), Fault::Key { refused: true });
        assert_eq!(classify(429, "rate_limit_exceeded"), Fault::Key { refused: false });
        assert_eq!(classify(429, r#"{"error":{"code":"insufficient_quota"}}"#), Fault::Key { refused: true });
        assert_eq!(classify(400, "Invalid_API_Key"), Fault::Key { refused: true });
        for status in [0, 408, 500, 503] {
            assert_eq!(classify(status, "overloaded"), Fault::Channel, "{status}");
        }
        for status in [400, 404, 413, 422] {
            assert_eq!(classify(status, "context_length_exceeded"), Fault::Request, "{status}");
        }
    }

    #[test]
    fn the_wire_carries_every_fault_and_unspecified_means_unknown() {
        for fault in [Fault::Request, Fault::Key { refused: true }, Fault::Key { refused: false }, Fault::Channel] {
            assert_eq!(Fault::from_wire(v1::Fault::from(fault) as i32), Some(fault));
        }
        assert_eq!(Fault::from_wire(0), None);
        assert_eq!(Fault::from_wire(99), None);
    }
}
