//! AWS Bedrock channels serving Claude (Veloera channel type 33, key `AK|SK|region`): Anthropic's Messages
//! body with `anthropic_version: bedrock-2023-05-31` and no `model` or `stream` (both are in the URL), signed
//! with SigV4 by `aws-sigv4`. Answers are Anthropic's; streams arrive in AWS event-stream framing, which
//! `dispatch` unwraps into Anthropic's events.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::error::RelayError;

pub const CHANNEL_TYPE: i32 = 33;
const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// The channel key's parts.
struct AwsKey<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
}

fn parse_key(key: &str) -> Result<AwsKey<'_>, RelayError> {
    let mut parts = key.split('|').map(str::trim);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(s), Some(r), None) if !a.is_empty() && !s.is_empty() && !r.is_empty() => {
            Ok(AwsKey { access_key: a, secret_key: s, region: r })
        }
        _ => Err(RelayError::UpstreamFailed("the Bedrock channel's key is not AK|SK|region".into())),
    }
}

/// A signed call's URL, headers and body.
pub type SignedCall = (String, Vec<(HeaderName, HeaderValue)>, Bytes);

/// The signed call: (URL, headers, body). `base_url` overrides the regional endpoint (for tests and VPC
/// endpoints); `now` is the signing time.
pub fn call(
    base_url: &str,
    api_key: &str,
    model: &str,
    mut body: Value,
    stream: bool,
    now: SystemTime,
) -> Result<SignedCall, RelayError> {
    let key = parse_key(api_key)?;
    if let Value::Object(map) = &mut body {
        map.remove("model");
        map.remove("stream");
        map.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    }
    let body = Bytes::from(body.to_string());
    let base = match base_url.trim_end_matches('/') {
        "" => format!("https://bedrock-runtime.{}.amazonaws.com", key.region),
        custom => custom.to_string(),
    };
    let action = if stream { "invoke-with-response-stream" } else { "invoke" };
    // Model ids carry `:` (`anthropic.claude-3-5-sonnet-20241022-v2:0`), which the path must escape.
    let url = format!("{base}/model/{}/{action}", model.replace(':', "%3A"));
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}"))))
        .ok_or_else(|| RelayError::UpstreamFailed("the Bedrock endpoint is not a URL".into()))?;
    let identity: Identity = Credentials::new(key.access_key, key.secret_key, None, None, "channel").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region)
        .name("bedrock")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| RelayError::UpstreamFailed(format!("cannot sign the Bedrock call: {e}")))?
        .into();
    let unsigned = [("content-type", "application/json"), ("host", host.as_str())];
    let signable = SignableRequest::new("POST", &url, unsigned.iter().copied(), SignableBody::Bytes(&body))
        .map_err(|e| RelayError::UpstreamFailed(format!("cannot sign the Bedrock call: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| RelayError::UpstreamFailed(format!("cannot sign the Bedrock call: {e}")))?
        .into_parts();
    let mut headers = vec![(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    for (name, value) in instructions.headers() {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| RelayError::UpstreamFailed("the signer made a bad header".into()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| RelayError::UpstreamFailed("the signer made a bad header".into()))?;
        headers.push((name, value));
    }
    Ok((url, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bedrock_call_is_signed_and_shaped() {
        let body = json!({"model": "claude", "stream": true, "max_tokens": 10, "messages": []});
        let (url, headers, body) = call(
            "",
            "AKIDEXAMPLE|secret|us-east-1",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            body,
            true,
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke-with-response-stream"
        );
        let auth = headers.iter().find(|(n, _)| n == http::header::AUTHORIZATION).unwrap().1.to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
        assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
        assert!(headers.iter().any(|(n, _)| n == "x-amz-date"));
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["anthropic_version"], ANTHROPIC_VERSION);
        assert!(sent.get("model").is_none() && sent.get("stream").is_none());
        assert!(call("", "not-a-key", "m", json!({}), false, SystemTime::now()).is_err());
    }
}
