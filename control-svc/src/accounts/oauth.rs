//! OAuth providers: an authorization code exchanged for the identity behind it, at GitHub or at a generic OpenID
//! Connect provider. Only the provider I/O lives here; signing the identity in (or creating its account) is
//! `admin::oauth`'s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::{GitHubSettings, OidcSettings};
use crate::error::ControlError;

const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a fetched discovery document is trusted, and how long a failed fetch is not retried.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const DISCOVERY_RETRY: Duration = Duration::from_secs(60);

/// Where GitHub sign-in goes: `https://github.com` and `https://api.github.com` unless configured otherwise.
#[derive(Debug, Clone)]
pub struct GitHubEndpoints {
    /// `GITHUB_OAUTH_BASE`: serves `/login/oauth/authorize` and `/login/oauth/access_token`.
    pub oauth_base: String,
    /// `GITHUB_API_BASE`: serves `/user`.
    pub api_base: String,
}

impl Default for GitHubEndpoints {
    fn default() -> Self {
        GitHubEndpoints { oauth_base: "https://github.com".into(), api_base: "https://api.github.com".into() }
    }
}

/// The identity a provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Stable id at the provider: GitHub's numeric user id, OIDC's `sub`.
    pub subject: String,
    /// GitHub login, or OIDC `preferred_username` (else `name`).
    pub login: String,
    /// May be empty.
    pub email: String,
}

/// An OIDC provider's endpoints, explicit or discovered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OidcEndpoints {
    #[serde(default)]
    pub authorization_endpoint: String,
    #[serde(default)]
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: String,
}

struct Discovered {
    url: String,
    at: Instant,
    endpoints: Option<OidcEndpoints>,
}

/// The HTTP client for providers and a cache of the OIDC discovery document.
pub struct OAuthClient {
    http: reqwest::Client,
    github: GitHubEndpoints,
    discovery: Mutex<Option<Discovered>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl OAuthClient {
    pub fn new(github: GitHubEndpoints) -> Result<Self, ControlError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("veloera-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ControlError::Internal(format!("cannot build the OAuth HTTP client: {e}")))?;
        Ok(OAuthClient {
            http,
            github: GitHubEndpoints {
                oauth_base: github.oauth_base.trim_end_matches('/').to_string(),
                api_base: github.api_base.trim_end_matches('/').to_string(),
            },
            discovery: Mutex::new(None),
        })
    }

    /// Exchanges a GitHub code for the account behind it (`POST /login/oauth/access_token`, then `GET /user`).
    pub async fn github_identity(&self, settings: &GitHubSettings, code: &str) -> Result<Identity, ControlError> {
        let url = format!("{}/login/oauth/access_token", self.github.oauth_base);
        let body = serde_json::json!({
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "code": code,
        });
        let request = self.http.post(url).header("accept", "application/json").json(&body);
        let token = access_token("GitHub", request).await?;
        let request = self
            .http
            .get(format!("{}/user", self.github.api_base))
            .header("accept", "application/vnd.github+json")
            .bearer_auth(token);
        let user = json_of("GitHub", request).await?;
        let subject = match &user["id"] {
            Value::Number(n) => n.to_string(),
            _ => return Err(refused("GitHub", "its user answer has no id")),
        };
        Ok(Identity { subject, login: text(&user["login"]), email: text(&user["email"]) })
    }

    /// Exchanges an OIDC code (token endpoint, then userinfo) for the identity behind it.
    pub async fn oidc_identity(
        &self,
        settings: &OidcSettings,
        redirect_uri: &str,
        code: &str,
    ) -> Result<Identity, ControlError> {
        let endpoints = self.oidc_endpoints(settings).await?;
        if endpoints.token_endpoint.is_empty() || endpoints.userinfo_endpoint.is_empty() {
            return Err(ControlError::BadRequest(
                "OIDC is not fully configured: set OidcWellKnown, or OidcTokenEndpoint and OidcUserInfoEndpoint".into(),
            ));
        }
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", settings.client_id.as_str()),
            ("client_secret", settings.client_secret.as_str()),
        ];
        let request = self.http.post(&endpoints.token_endpoint).header("accept", "application/json").form(&form);
        let token = access_token("the OIDC provider", request).await?;
        let request = self.http.get(&endpoints.userinfo_endpoint).bearer_auth(token);
        let info = json_of("the OIDC provider", request).await?;
        let subject = match &info["sub"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(refused("the OIDC provider", "its userinfo answer has no sub")),
        };
        let login = Some(text(&info["preferred_username"])).filter(|s| !s.is_empty()).unwrap_or(text(&info["name"]));
        Ok(Identity { subject, login, email: text(&info["email"]) })
    }

    /// The explicit endpoints, completed from the discovery document (`OidcWellKnown`, cached for an hour) where
    /// one is missing.
    pub async fn oidc_endpoints(&self, settings: &OidcSettings) -> Result<OidcEndpoints, ControlError> {
        let mut endpoints = OidcEndpoints {
            authorization_endpoint: settings.authorization_endpoint.clone(),
            token_endpoint: settings.token_endpoint.clone(),
            userinfo_endpoint: settings.userinfo_endpoint.clone(),
        };
        let complete = !endpoints.authorization_endpoint.is_empty()
            && !endpoints.token_endpoint.is_empty()
            && !endpoints.userinfo_endpoint.is_empty();
        if complete || settings.well_known.is_empty() {
            return Ok(endpoints);
        }
        if let Some(found) = self.discover(&settings.well_known).await? {
            for (mine, theirs) in [
                (&mut endpoints.authorization_endpoint, found.authorization_endpoint),
                (&mut endpoints.token_endpoint, found.token_endpoint),
                (&mut endpoints.userinfo_endpoint, found.userinfo_endpoint),
            ] {
                if mine.is_empty() {
                    *mine = theirs;
                }
            }
        }
        Ok(endpoints)
    }

    async fn discover(&self, url: &str) -> Result<Option<OidcEndpoints>, ControlError> {
        {
            let cached = self.discovery.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(d) = cached.as_ref().filter(|d| d.url == url) {
                let ttl = if d.endpoints.is_some() { DISCOVERY_TTL } else { DISCOVERY_RETRY };
                if d.at.elapsed() < ttl {
                    return Ok(d.endpoints.clone());
                }
            }
        }
        let fetched = match json_of("the OIDC provider", self.http.get(url)).await {
            Ok(doc) => serde_json::from_value::<OidcEndpoints>(doc).ok(),
            Err(e) => {
                tracing::warn!(error = %e, url, "OIDC discovery failed");
                None
            }
        };
        let mut cached = self.discovery.lock().unwrap_or_else(|p| p.into_inner());
        *cached = Some(Discovered { url: url.to_string(), at: Instant::now(), endpoints: fetched.clone() });
        Ok(fetched)
    }
}

/// Sends a token request and returns the access token, or the provider's refusal as a 400.
async fn access_token(provider: &str, request: reqwest::RequestBuilder) -> Result<String, ControlError> {
    let answer: TokenAnswer = serde_json::from_value(json_of(provider, request).await?)
        .map_err(|e| refused(provider, &format!("unreadable token answer ({e})")))?;
    if !answer.error.is_empty() {
        let mut why = answer.error;
        if !answer.error_description.is_empty() {
            why = format!("{why}: {}", answer.error_description.chars().take(200).collect::<String>());
        }
        return Err(refused(provider, &why));
    }
    if answer.access_token.is_empty() {
        return Err(refused(provider, "no access token in its answer"));
    }
    Ok(answer.access_token)
}

/// Sends a request and reads a JSON answer. No answer or a 5xx is the provider's failure (502); a 4xx is its
/// refusal (400), with its `error` when it gave one.
async fn json_of(provider: &str, request: reqwest::RequestBuilder) -> Result<Value, ControlError> {
    let unreachable = |detail: String| ControlError::Upstream {
        public: format!("sign-in failed: {provider} did not answer properly; try again later"),
        detail,
    };
    let resp = request.send().await.map_err(|e| unreachable(format!("request failed: {e}")))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_server_error() {
        return Err(unreachable(format!("HTTP {status}: {body}")));
    }
    if !status.is_success() {
        let why = Some(text(&body["error"])).filter(|s| !s.is_empty()).unwrap_or_else(|| format!("HTTP {status}"));
        return Err(refused(provider, &why));
    }
    if body.is_null() {
        return Err(unreachable(format!("HTTP {status} without a JSON body")));
    }
    Ok(body)
}

fn refused(provider: &str, why: &str) -> ControlError {
    ControlError::BadRequest(format!("sign-in failed: {provider} refused it ({why})"))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().trim().to_string()
}
