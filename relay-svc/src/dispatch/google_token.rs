//! Access tokens for Vertex AI service accounts: the account's signed JWT assertion exchanged at its token URI
//! (OAuth 2.0 JWT bearer grant), cached per account until a minute before it expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;

use super::HttpClient;
use crate::error::RelayError;
use crate::providers::vertex::ServiceAccount;

const TOKEN_ANSWER_LIMIT: usize = 64 * 1024;

#[derive(Clone, Default)]
pub struct GoogleTokens {
    cache: Arc<DashMap<String, (String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default = "an_hour")]
    expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

impl GoogleTokens {
    pub async fn token(
        &self,
        client: &HttpClient,
        account: &ServiceAccount,
        wait: Duration,
    ) -> Result<String, RelayError> {
        if let Some(cached) = self.cache.get(&account.client_email).filter(|c| c.1 > Instant::now()) {
            return Ok(cached.0.clone());
        }
        let fail = |why: String| RelayError::UpstreamFailed(format!("Vertex AI token request failed: {why}"));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let assertion = account.assertion(now)?;
        // The assertion is base64url and dots: nothing in it needs form-encoding.
        let form = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
        let request = http::Request::post(account.token_uri())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| fail(e.to_string()))?;
        let response = tokio::time::timeout(wait, client.request(request))
            .await
            .map_err(|_| fail(format!("no answer within {wait:?}")))?
            .map_err(|e| fail(format!("{e:?}")))?;
        let status = response.status();
        let body = tokio::time::timeout(wait, Limited::new(response.into_body(), TOKEN_ANSWER_LIMIT).collect())
            .await
            .map_err(|_| fail(format!("no answer within {wait:?}")))?
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(fail(format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]))));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        let valid_until = Instant::now() + Duration::from_secs(answer.expires_in.saturating_sub(60));
        self.cache.insert(account.client_email.clone(), (answer.access_token.clone(), valid_until));
        Ok(answer.access_token)
    }
}
