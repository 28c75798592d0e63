//! Webhook delivery: Veloera's JSON body, signed with HMAC-SHA256 of the body under the user's
//! `webhook_secret`, timestamped, and retried with back-off while the receiver is unreachable or failing.
//!
//! Headers: `X-Webhook-Signature` (lowercase hex HMAC-SHA256 of the exact body bytes; only with a secret, as
//! Veloera sends it), `X-Webhook-Timestamp` (Unix seconds, equal to the body's `timestamp`, which the signature
//! covers), and `X-Webhook-Id` (one id per notice, the same on every attempt, so a receiver can drop repeats).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::Notice;
use super::egress::{EgressClient, EgressError};

/// Waits before the second, third and fourth attempt.
pub const BACKOFF: [Duration; 3] = [Duration::from_secs(1), Duration::from_secs(4), Duration::from_secs(16)];

/// Veloera's webhook body (`service/webhook.go`): content with its values filled in, and the values.
#[derive(serde::Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    content: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    values: &'a [String],
    timestamp: i64,
}

/// The body for `notice` sent at `timestamp`.
pub fn body(notice: &Notice, timestamp: i64) -> Vec<u8> {
    let payload = Payload {
        kind: notice.kind,
        title: &notice.title,
        content: &notice.content,
        values: &notice.values,
        timestamp,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// Lowercase hex HMAC-SHA256 of `body` under `secret`.
#[allow(clippy::expect_used, reason = "HMAC accepts keys of any length; new_from_slice only fails for fixed-size MACs")]
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: usize,
    /// The receiver's status on success; why it failed otherwise.
    pub result: Result<u16, String>,
}

/// Posts `notice` to `url` until a 2xx answer, a failure retrying cannot fix (the address is refused, or a 4xx
/// other than 408/429), the back-off schedule runs out, or control shuts down. Each attempt is signed anew with
/// its own timestamp.
pub async fn deliver(
    client: &EgressClient,
    url: &str,
    secret: &str,
    notice: &Notice,
    backoff: &[Duration],
    shutdown: &CancellationToken,
) -> Delivery {
    let id = notice.id.clone();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let timestamp = crate::db::now_secs();
        let body = body(notice, timestamp);
        let mut headers = vec![("X-Webhook-Timestamp", timestamp.to_string()), ("X-Webhook-Id", id.clone())];
        if !secret.is_empty() {
            headers.push(("X-Webhook-Signature", sign(secret, &body)));
        }
        let (retryable, why) = match client.post_json(url, &headers, body).await {
            Ok(answer) if answer.status().is_success() => {
                return Delivery { attempts, result: Ok(answer.status().as_u16()) };
            }
            Ok(answer) => {
                let status = answer.status().as_u16();
                (status == 408 || status == 429 || status >= 500, format!("the receiver answered HTTP {status}"))
            }
            Err(EgressError::Refused(why)) => (false, why),
            Err(EgressError::Failed(why)) => (true, why),
        };
        let Some(wait) = backoff.get(attempts - 1).filter(|_| retryable) else {
            return Delivery { attempts, result: Err(why) };
        };
        tracing::debug!(notice = %id, attempts, error = %why, "webhook attempt failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(*wait) => {}
            _ = shutdown.cancelled() => {
                return Delivery { attempts, result: Err(format!("{why}; not retried: control is shutting down")) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_body_has_veloeras_fields_and_the_timestamp() {
        let notice = Notice {
            id: "n1".into(),
            kind: "quota_exceed",
            title: "t".into(),
            content: "c".into(),
            values: vec!["v".into()],
        };
        let parsed: serde_json::Value = serde_json::from_slice(&body(&notice, 1_700_000_000)).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"type": "quota_exceed", "title": "t", "content": "c", "values": ["v"],
                               "timestamp": 1_700_000_000})
        );
    }
}
