//! The one place a call's credentials are written, driven by the channel's auth style (made into each key's
//! `Credential` when the channel was): the key's header (bearer or a named API-key header), a SigV4 signature,
//! or nothing yet for a Google service account (its access token is fetched when the call is sent). Every header
//! carrying a secret is marked sensitive, so it never shows in debug output or HTTP/2 header tables.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue, Method};

use crate::channel::{Credential, Target, Wire};
use crate::error::RelayError;
use crate::providers::bedrock::AwsKey;

/// The headers that authorize a `method` call of `body` to `url` at `target`'s channel with `target`'s key; for
/// OpenAI-format channels also the channel's `OpenAI-Organization`.
pub fn auth_headers(
    target: &Target<'_>,
    method: &Method,
    url: &str,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, RelayError> {
    let mut headers = match &target.key.credential {
        Credential::Header(name, value) => vec![(name.clone(), value.clone())],
        Credential::Aws(key) => sigv4(key, method, url, body, SystemTime::now())?,
        Credential::ServiceAccount(_) => Vec::new(),
        Credential::Unusable(why) => return Err(RelayError::UpstreamFailed(why.clone())),
    };
    let organization = &target.channel.organization;
    if target.channel.wire == Wire::OpenAi && !organization.is_empty() {
        let value = HeaderValue::from_str(organization).map_err(|_| {
            RelayError::UpstreamFailed(format!(
                "channel {} has an organization that is not a valid header",
                target.channel.id
            ))
        })?;
        headers.push((HeaderName::from_static("openai-organization"), value));
    }
    Ok(headers)
}

/// SigV4 headers for Bedrock (`x-amz-date`, `authorization`, …) signed at `now`.
fn sigv4(
    key: &AwsKey,
    method: &Method,
    url: &str,
    body: &[u8],
    now: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, RelayError> {
    let failed = |e: &dyn std::fmt::Display| RelayError::UpstreamFailed(format!("cannot sign the Bedrock call: {e}"));
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}"))))
        .ok_or_else(|| RelayError::UpstreamFailed("the Bedrock endpoint is not a URL".into()))?;
    let identity: Identity = Credentials::new(&key.access_key, key.secret_key.expose(), None, None, "channel").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&key.region)
        .name("bedrock")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(&e))?
        .into();
    // The dispatcher sends `content-type: application/json` with every POST; a GET carries none.
    let signed: &[(&str, &str)] = if method == Method::POST {
        &[("content-type", "application/json"), ("host", host.as_str())]
    } else {
        &[("host", host.as_str())]
    };
    let signable = SignableRequest::new(method.as_str(), url, signed.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
    let mut headers = Vec::new();
    for (name, value) in instructions.headers() {
        let bad = || RelayError::UpstreamFailed("the signer made a bad header".into());
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
        value.set_sensitive(name == http::header::AUTHORIZATION);
        headers.push((name, value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use veloera_proto::v1::{AuthStyle, Candidate, ChannelKey, UrlStyle, WireFormat};

    use super::*;
    use crate::channel::testing::{channel, openai_candidate, target};

    #[test]
    fn a_bedrock_call_is_signed_with_sigv4() {
        let key = AwsKey::parse("AKIDEXAMPLE|secret|us-east-1").unwrap();
        let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke";
        let headers = sigv4(&key, &Method::POST, url, b"{}", SystemTime::now()).unwrap();
        let auth = headers.iter().find(|(n, _)| n == http::header::AUTHORIZATION).unwrap();
        let text = auth.1.to_str().unwrap();
        assert!(text.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{text}");
        assert!(text.contains("/us-east-1/bedrock/aws4_request"), "{text}");
        assert!(auth.1.is_sensitive());
        assert!(headers.iter().any(|(n, _)| n == "x-amz-date"));
        assert!(sigv4(&key, &Method::POST, "not a url", b"", SystemTime::now()).is_err());
    }

    #[test]
    fn a_channel_whose_row_names_an_api_key_header_sends_the_key_in_it() {
        let c = channel(Candidate {
            auth: AuthStyle::ApiKeyHeader as i32,
            auth_header: "x-foo".into(),
            ..openai_candidate()
        });
        let headers = auth_headers(&target(&c), &Method::POST, "http://h/v1/chat/completions", b"{}").unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!((headers[0].0.as_str(), headers[0].1.to_str().unwrap()), ("x-foo", "sk-up"));
        assert!(headers[0].1.is_sensitive());
    }

    #[test]
    fn bearer_keys_are_sensitive_and_the_organization_follows() {
        let c = channel(Candidate { openai_organization: "org-1".into(), ..openai_candidate() });
        let headers = auth_headers(&target(&c), &Method::POST, "http://h", b"").unwrap();
        assert_eq!(headers[0].1, "Bearer sk-up");
        assert!(headers[0].1.is_sensitive());
        assert_eq!((headers[1].0.as_str(), headers[1].1.to_str().unwrap()), ("openai-organization", "org-1"));
    }

    #[test]
    fn a_service_account_sends_no_header_until_its_token_is_fetched_and_a_bad_key_fails() {
        let vertex = |key: &str| Candidate {
            wire: WireFormat::Vertex as i32,
            auth: AuthStyle::GoogleServiceAccount as i32,
            url: UrlStyle::Vertex as i32,
            keys: vec![ChannelKey { slot: 0, key: key.into() }],
            ..openai_candidate()
        };
        let account = r#"{"client_email":"svc@p","private_key":"k","project_id":"p"}"#;
        let c = channel(vertex(account));
        assert!(auth_headers(&target(&c), &Method::POST, "http://h", b"").unwrap().is_empty());
        let bad = channel(vertex("not json"));
        assert!(matches!(
            auth_headers(&target(&bad), &Method::POST, "http://h", b""),
            Err(RelayError::UpstreamFailed(_))
        ));
    }
}
