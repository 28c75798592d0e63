//! AWS Bedrock channels serving Claude (key `AK|SK|region`): Anthropic's Messages body with `anthropic_version:
//! bedrock-2023-05-31` and no `model` or `stream` (both are in the URL). Calls are signed with SigV4 by
//! `dispatch::auth`. Answers are Anthropic's; streams arrive in AWS event-stream framing, which `dispatch`
//! unwraps into Anthropic's events.

use serde_json::Value;

use crate::channel::ApiKey;
use crate::error::RelayError;

const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// The channel key's parts. `Debug` shows the secret key as `ApiKey(***)`.
#[derive(Debug, Clone)]
pub struct AwsKey {
    pub access_key: String,
    pub secret_key: ApiKey,
    pub region: String,
}

impl AwsKey {
    pub fn parse(key: &str) -> Result<AwsKey, RelayError> {
        let mut parts = key.split('|').map(str::trim);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(s), Some(r), None) if !a.is_empty() && !s.is_empty() && !r.is_empty() => {
                Ok(AwsKey { access_key: a.to_string(), secret_key: ApiKey::new(s), region: r.to_string() })
            }
            _ => Err(RelayError::UpstreamFailed("the Bedrock channel's key is not AK|SK|region".into())),
        }
    }
}

/// Anthropic's body as Bedrock takes it.
pub fn body(mut body: Value) -> Value {
    if let Value::Object(map) = &mut body {
        map.remove("model");
        map.remove("stream");
        map.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    }
    body
}

/// The endpoint for `model` in `region`. `base_url` overrides the regional endpoint (tests, VPC endpoints).
pub fn url(base_url: &str, region: &str, model: &str, stream: bool) -> String {
    let base = match base_url.trim_end_matches('/') {
        "" => format!("https://bedrock-runtime.{region}.amazonaws.com"),
        custom => custom.to_string(),
    };
    let action = if stream { "invoke-with-response-stream" } else { "invoke" };
    // Model ids carry `:` (`anthropic.claude-3-5-sonnet-20241022-v2:0`), which the path must escape.
    format!("{base}/model/{}/{action}", model.replace(':', "%3A"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bedrock_call_is_shaped() {
        assert_eq!(
            url("", "us-east-1", "anthropic.claude-3-5-sonnet-20241022-v2:0", true),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke-with-response-stream"
        );
        let sent = body(json!({"model": "claude", "stream": true, "max_tokens": 10, "messages": []}));
        assert_eq!(sent["anthropic_version"], ANTHROPIC_VERSION);
        assert!(sent.get("model").is_none() && sent.get("stream").is_none());
        assert!(AwsKey::parse("not-a-key").is_err());
        assert_eq!(AwsKey::parse(" AK | SK | eu-west-1 ").unwrap().region, "eu-west-1");
    }
}
