//! Reads the caller's API key from the request, the ways Veloera clients send it, or for the playground the
//! signed-in browser's session.

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::RelayError;

/// A presented key: its digest (what control knows) and an optional pinned channel. For the playground, the
/// session standing in for a key, with a digest of its own that names it in the relay's caches.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey {
    pub digest: [u8; 32],
    pub pinned_channel: Option<i64>,
    pub session: Option<Box<SessionCredential>>,
}

/// What signs a browser in, forwarded to control as received (only control can check the cookie's signature
/// and the session row), with the group picked in the playground.
#[derive(PartialEq, Eq)]
pub struct SessionCredential {
    pub cookie: String,
    pub authorization: String,
    pub claimed_user: String,
    pub group: String,
}

impl std::fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredential").field("group", &self.group).finish_non_exhaustive()
    }
}

/// The playground's caller: the session cookie or the personal access token in `Authorization` (Veloera's UI
/// sends `Veloera-User` or `New-Api-User` with it), using `group` (empty: the user's own).
pub fn session_from_headers(headers: &HeaderMap, group: &str) -> Result<PresentedKey, RelayError> {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default().to_string();
    let credential = SessionCredential {
        cookie: header("cookie"),
        authorization: header("authorization"),
        claimed_user: match header("veloera-user") {
            v if v.is_empty() => header("new-api-user"),
            v => v,
        },
        group: group.to_string(),
    };
    if credential.cookie.is_empty() && credential.authorization.is_empty() {
        return Err(RelayError::Denied {
            reason: veloera_proto::v1::DenialReason::UnknownToken,
            message: "not signed in; sign in to use the playground".into(),
        });
    }
    let mut digest = Sha256::new();
    // Domain-separated from key digests (a key's digest hashes the bare key), each part ended so none runs into the next.
    for part in ["playground", &credential.cookie, &credential.authorization, &credential.claimed_user, group] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    Ok(PresentedKey { digest: digest.finalize().into(), pinned_channel: None, session: Some(Box::new(credential)) })
}

/// `Authorization: Bearer sk-<key>[-<channel id>]`; `Bearer ` and `sk-` are optional, as in Veloera.
pub fn from_headers(headers: &HeaderMap) -> Result<PresentedKey, RelayError> {
    let raw = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(RelayError::MissingKey)?;
    parse(raw)
}

/// Anthropic and Gemini clients send the key in their own headers (`x-api-key`, `x-goog-api-key`) or, for
/// Gemini, as `?key=`; `Authorization` is accepted too. The first one present wins.
pub fn from_any(headers: &HeaderMap, query_key: Option<&str>) -> Result<PresentedKey, RelayError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    match header("x-api-key").or_else(|| header("x-goog-api-key")).or(query_key.filter(|k| !k.is_empty())) {
        Some(raw) => parse(raw),
        None => from_headers(headers),
    }
}

pub fn parse(raw: &str) -> Result<PresentedKey, RelayError> {
    let raw = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).unwrap_or(raw).trim();
    let raw = raw.strip_prefix("sk-").unwrap_or(raw);
    if raw.is_empty() {
        return Err(RelayError::MissingKey);
    }
    // Keys are alphanumeric, so a dash can only introduce a pinned channel id.
    let (key, pinned_channel) = match raw.split_once('-') {
        Some((key, channel)) => {
            // No issued key has a dash, so a non-numeric suffix cannot belong to a valid key: answered as an
            // unknown key (401), which is what clients and their SDKs expect for a wrong key.
            let id = channel.parse::<i64>().map_err(|_| RelayError::Denied {
                reason: veloera_proto::v1::DenialReason::UnknownToken,
                message: "invalid token".into(),
            })?;
            (key, Some(id))
        }
        None => (raw, None),
    };
    Ok(PresentedKey { digest: Sha256::digest(key.as_bytes()).into(), pinned_channel, session: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_sk_prefixes_are_optional() {
        let a = parse("Bearer sk-abc").unwrap();
        assert_eq!(a, parse("sk-abc").unwrap());
        assert_eq!(a, parse("abc").unwrap());
        assert_eq!(a.digest, <[u8; 32]>::from(Sha256::digest(b"abc")));
    }

    #[test]
    fn a_numeric_suffix_pins_a_channel() {
        let k = parse("Bearer sk-abc-42").unwrap();
        assert_eq!(k.pinned_channel, Some(42));
        assert_eq!(k.digest, parse("sk-abc").unwrap().digest);
        assert!(matches!(parse("sk-abc-xyz"), Err(RelayError::Denied { .. })));
    }

    #[test]
    fn vendor_headers_and_query_keys_are_read() {
        let mut h = HeaderMap::new();
        assert!(matches!(from_any(&h, None), Err(RelayError::MissingKey)));
        assert_eq!(from_any(&h, Some("sk-abc")).unwrap(), parse("abc").unwrap());
        h.insert("x-goog-api-key", "sk-def".parse().unwrap());
        assert_eq!(from_any(&h, Some("sk-abc")).unwrap(), parse("def").unwrap());
        h.insert("x-api-key", "sk-ghi".parse().unwrap());
        assert_eq!(from_any(&h, None).unwrap(), parse("ghi").unwrap());
    }

    #[test]
    fn a_session_names_its_own_cache_entry_per_group_and_never_a_keys() {
        let mut h = HeaderMap::new();
        assert!(matches!(session_from_headers(&h, "default"), Err(RelayError::Denied { .. })));
        h.insert("cookie", "session=abc".parse().unwrap());
        let default = session_from_headers(&h, "default").unwrap();
        assert_ne!(default.digest, session_from_headers(&h, "vip").unwrap().digest);
        assert_ne!(default.digest, parse("session=abc").unwrap().digest);
        assert_eq!(default.session.as_ref().map(|s| s.cookie.as_str()), Some("session=abc"));
        assert!(!format!("{default:?}").contains("abc"), "the cookie is not logged");
    }

    #[test]
    fn an_empty_key_is_missing() {
        assert!(matches!(parse("Bearer sk-"), Err(RelayError::MissingKey)));
    }
}
