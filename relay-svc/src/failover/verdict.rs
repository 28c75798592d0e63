//! Whether a failed attempt may be retried, and where: never what cannot succeed elsewhere (a request the
//! upstream found invalid, too long, filtered, or for an unknown model); another key of the same channel when
//! the key itself was refused or rate-limited; another channel when the upstream is unwell. Where the fault
//! lies is `veloera_proto::fault::classify`'s call, shared with control's health, which receives it with the
//! attempt.

use std::time::Duration;

use veloera_proto::fault::{Fault, classify};

use crate::dispatch::Failure;

/// Where the fault lies, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The request itself: retrying cannot help.
    Request,
    /// This key (refused or rate-limited): another key, or another channel, may answer.
    Key,
    /// The channel's upstream (5xx, no answer): another channel may answer.
    Channel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub scope: Scope,
    /// How long this relay leaves the key alone (the upstream's `Retry-After`, or a pause after a refusal).
    pub cool_down: Option<Duration>,
    /// The pause is the upstream's own (`Retry-After`), not ours.
    pub asked_to_wait: bool,
}

/// Longest pause we take from one `Retry-After`, so a bogus header cannot lock a key out for long.
const MAX_COOL_DOWN: Duration = Duration::from_secs(120);
/// A refused key is left alone this long here (control disables it meanwhile, shared by every relay).
const REFUSED_KEY_PAUSE: Duration = Duration::from_secs(60);

/// Where `failure`'s fault lies, by its status and what the upstream said (its error body, or the transport
/// error).
pub fn fault_of(failure: &Failure) -> Fault {
    classify(failure.status(), &failure.detail)
}

pub fn of(failure: &Failure) -> Verdict {
    let retry_after = failure.retry_after.map(|d| d.min(MAX_COOL_DOWN));
    let scope = match fault_of(failure) {
        Fault::Key { refused: true } => {
            return Verdict { scope: Scope::Key, cool_down: Some(REFUSED_KEY_PAUSE), asked_to_wait: false };
        }
        Fault::Key { refused: false } => Scope::Key,
        Fault::Channel => Scope::Channel,
        Fault::Request => Scope::Request,
    };
    Verdict { scope, cool_down: retry_after, asked_to_wait: retry_after.is_some() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::UpstreamFault;
    use crate::error::RelayError;

    fn failure(status: u16, retry_after: Option<u64>) -> Failure {
        said(status, retry_after, "")
    }

    fn said(status: u16, retry_after: Option<u64>, detail: &str) -> Failure {
        let fault = match status {
            0 => UpstreamFault::Connect,
            status => UpstreamFault::Status { status, code: None },
        };
        Failure {
            error: RelayError::UpstreamFailed("x".into()),
            fault,
            retry_after: retry_after.map(Duration::from_secs),
            detail: detail.to_string(),
        }
    }

    #[test]
    fn an_account_level_error_code_refuses_the_key_whatever_the_status() {
        let refused = Verdict { scope: Scope::Key, cool_down: Some(REFUSED_KEY_PAUSE), asked_to_wait: false };
        let body = r#"{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"#;
        assert_eq!(of(&said(429, Some(5), body)), refused);
        assert_eq!(of(&said(400, None, r#"{"error":{"code":"invalid_api_key"}}"#)), refused);
    }

    #[test]
    fn request_faults_are_never_retried() {
        for status in [400, 404, 413, 422] {
            assert_eq!(of(&failure(status, None)).scope, Scope::Request, "{status}");
        }
    }

    #[test]
    fn refused_and_rate_limited_keys_move_to_another_key() {
        let refused = Verdict { scope: Scope::Key, cool_down: Some(REFUSED_KEY_PAUSE), asked_to_wait: false };
        assert_eq!(of(&failure(401, None)), refused);
        let limited = Verdict { scope: Scope::Key, cool_down: Some(Duration::from_secs(7)), asked_to_wait: true };
        assert_eq!(of(&failure(429, Some(7))), limited);
        assert_eq!(of(&failure(429, Some(9999))).cool_down, Some(MAX_COOL_DOWN));
        assert_eq!(of(&failure(429, None)).cool_down, None);
    }

    #[test]
    fn unwell_upstreams_move_to_another_channel() {
        for status in [0, 500, 502, 503, 504, 408] {
            assert_eq!(of(&failure(status, None)).scope, Scope::Channel, "{status}");
        }
    }
}
