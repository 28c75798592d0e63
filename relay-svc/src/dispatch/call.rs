//! The transport's input: everything the dispatcher needs to make one upstream call. Adaptors write the URL, their
//! own headers and the body; [`UpstreamCall::to_channel`] adds the channel's credentials (`auth`) and its extra
//! headers and brings its status mapping, proxy and time bounds along.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

use super::auth::auth_headers;
use crate::channel::{Credential, Target, Timeouts};
use crate::error::RelayError;
use crate::providers::Format;
use crate::providers::vertex::ServiceAccount;

/// One upstream call.
#[derive(Debug)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// The channel's wire format, which shapes its error answers.
    pub format: Format,
    /// The channel's `status_code_mapping`: upstream status → status shown to the client.
    pub status_map: HashMap<i32, i32>,
    /// The channel's proxy URL; `None` for a direct connection.
    pub proxy: Option<String>,
    /// A Vertex AI service account whose access token authorizes the call (fetched and cached by `dispatch`).
    pub google_account: Option<Arc<ServiceAccount>>,
    /// POST for every relayed call; GET for model lists and balances.
    pub method: Method,
    /// The channel's own time bounds.
    pub timeouts: Timeouts,
}

impl UpstreamCall {
    /// A POST of `body` to `url` at `target`'s channel: the key's credentials first, then the adaptor's `headers`,
    /// then the channel's extra headers (which replace any of the same name).
    pub fn to_channel(
        target: &Target<'_>,
        url: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<UpstreamCall, RelayError> {
        UpstreamCall::new(target, Method::POST, url, headers, body)
    }

    /// A GET of `url` at `target`'s channel (model lists, balances), credentials and extra headers as for a POST.
    pub fn get(
        target: &Target<'_>,
        url: String,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<UpstreamCall, RelayError> {
        UpstreamCall::new(target, Method::GET, url, headers, Bytes::new())
    }

    fn new(
        target: &Target<'_>,
        method: Method,
        url: String,
        own: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<UpstreamCall, RelayError> {
        let channel = target.channel;
        let mut headers = auth_headers(target, &method, &url, &body)?;
        headers.extend(own);
        for (name, value) in &channel.extra_headers {
            headers.retain(|(existing, _)| existing != name);
            headers.push((name.clone(), value.clone()));
        }
        let google_account = match &target.key.credential {
            Credential::ServiceAccount(account) => Some(account.clone()),
            _ => None,
        };
        Ok(UpstreamCall {
            url,
            headers,
            body,
            format: channel.format,
            status_map: channel.status_map.clone(),
            proxy: channel.proxy.clone(),
            google_account,
            method,
            timeouts: channel.timeouts,
        })
    }
}

#[cfg(test)]
mod tests {
    use veloera_proto::v1::Candidate;

    use super::*;
    use crate::channel::testing::{channel, openai_candidate, target};

    #[test]
    fn extra_headers_come_last_and_replace_the_adaptors() {
        let c = channel(Candidate {
            extra_headers: [("X-Team".to_string(), "blue".to_string())].into(),
            ..openai_candidate()
        });
        let own = vec![(HeaderName::from_static("x-team"), HeaderValue::from_static("red"))];
        let call = UpstreamCall::to_channel(&target(&c), "http://h".into(), own, Bytes::new()).unwrap();
        assert_eq!(call.headers[0].0, http::header::AUTHORIZATION);
        assert_eq!(call.headers.len(), 2);
        assert_eq!(call.headers[1], (HeaderName::from_static("x-team"), HeaderValue::from_static("blue")));
    }
}
