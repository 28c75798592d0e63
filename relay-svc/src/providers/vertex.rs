//! Google Vertex AI channels: the key is a service-account JSON, the channel's
//! `other` is the region. Claude models are called with Anthropic's body (`anthropic_version:
//! vertex-2023-10-16`, no `model`) at `rawPredict` / `streamRawPredict`; every other model is a Gemini model at
//! `generateContent` / `streamGenerateContent`. The access token comes from an RS256 JWT assertion exchanged at
//! the account's `token_uri` (by `dispatch`, which caches it); here we only build the assertion.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RelayError;

const DEFAULT_REGION: &str = "us-central1";
const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The fields of a service-account key file that are used. `Debug` leaves the private key out.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    pub project_id: String,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    pub fn parse(key: &str) -> Result<ServiceAccount, RelayError> {
        serde_json::from_str(key)
            .map_err(|_| RelayError::UpstreamFailed("the Vertex AI channel's key is not a service-account JSON".into()))
    }

    pub fn token_uri(&self) -> &str {
        self.token_uri.as_deref().unwrap_or(GOOGLE_TOKEN_URI)
    }

    /// The signed JWT to exchange for an access token, valid for an hour from `now_secs`.
    pub fn assertion(&self, now_secs: u64) -> Result<String, RelayError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: self.token_uri(),
            iat: now_secs,
            exp: now_secs + 3600,
        };
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key.as_bytes())
            .map_err(|e| RelayError::UpstreamFailed(format!("the service account's private key is unusable: {e}")))?;
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key)
            .map_err(|e| RelayError::UpstreamFailed(format!("cannot sign the token request: {e}")))
    }
}

/// Claude models go to Anthropic's publisher on Vertex; everything else is Gemini.
pub fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// The endpoint for `model`. `base_url` overrides Google's host (tests, private endpoints).
pub fn url(base_url: &str, region: &str, project: &str, model: &str, stream: bool) -> String {
    let region = if region.trim().is_empty() { DEFAULT_REGION } else { region.trim() };
    let base = match base_url.trim_end_matches('/') {
        "" if region == "global" => "https://aiplatform.googleapis.com".to_string(),
        "" => format!("https://{region}-aiplatform.googleapis.com"),
        custom => custom.to_string(),
    };
    let (publisher, action) = match (is_claude(model), stream) {
        (true, false) => ("anthropic", "rawPredict"),
        (true, true) => ("anthropic", "streamRawPredict"),
        (false, false) => ("google", "generateContent"),
        (false, true) => ("google", "streamGenerateContent?alt=sse"),
    };
    format!("{base}/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{action}")
}

/// Anthropic's body as Vertex takes it.
pub fn claude_body(mut body: Value) -> Value {
    if let Value::Object(map) = &mut body {
        map.remove("model");
        map.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/vertex-test-key.pem");

    #[test]
    fn urls_follow_the_publisher_of_the_model() {
        assert_eq!(
            url("", "us-east5", "p", "claude-sonnet-4-5", true),
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict"
        );
        assert_eq!(
            url("", "global", "p", "gemini-2.5-flash", false),
            "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        assert!(url("", "", "p", "gemini-2.5-flash", true).contains("us-central1"));
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_for_the_token_uri() {
        let sa = ServiceAccount {
            client_email: "svc@p.iam.gserviceaccount.com".into(),
            private_key: KEY.into(),
            project_id: "p".into(),
            token_uri: Some("http://127.0.0.1:9/token".into()),
        };
        let jwt = sa.assertion(1_700_000_000).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(jwt.split('.').count(), 3);
        assert!(ServiceAccount::parse("not json").is_err());
    }
}
