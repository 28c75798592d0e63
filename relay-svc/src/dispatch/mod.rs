//! The one place that does upstream I/O: the pooled HTTP client, timeouts, and turning the upstream's
//! answer into either a complete body or a stream of SSE events.
//!
//! The client is hyper-util's pooled client with rustls (HTTP/1.1 and HTTP/2 by ALPN) rather than reqwest: on the
//! hot path reqwest's URL re-parsing and redirect layer cost about a tenth of the relay's instructions per request.
//! Redirects are never followed (they would carry our key to wherever they point).

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use http::HeaderValue;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::RelayError;
use crate::providers::openai::UpstreamCall;
use crate::providers::upstream_error;

/// Most of an upstream error body we read (enough for any JSON error object).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub mod eventstream;
mod google_token;
mod proxy;

#[derive(Clone)]
pub struct Dispatcher {
    client: HttpClient,
    proxies: proxy::Proxies,
    google_tokens: google_token::GoogleTokens,
    idle_timeout: Duration,
    total_timeout: Option<Duration>,
}

/// A successful upstream answer, not yet read.
pub struct Upstream {
    response: http::Response<Incoming>,
    idle_timeout: Duration,
    total_timeout: Option<Duration>,
}

impl Dispatcher {
    pub fn new(
        connect_timeout: Duration,
        idle_timeout: Duration,
        total_timeout: Option<Duration>,
    ) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(https);
        Ok(Dispatcher {
            client,
            proxies: proxy::Proxies::new(connect_timeout),
            google_tokens: google_token::GoogleTokens::default(),
            idle_timeout,
            total_timeout,
        })
    }

    /// Sends the call; a non-2xx answer is read (bounded) and turned into our error.
    pub async fn send(&self, call: UpstreamCall) -> Result<Upstream, RelayError> {
        let uri: http::Uri = call
            .url
            .parse()
            .map_err(|_| RelayError::UpstreamFailed("the channel's base URL is not a valid URI".into()))?;
        let wire = call.format;
        let status_map = call.status_map;
        let proxy = call.proxy;
        let mut request = http::Request::post(uri);
        if !call.headers.iter().any(|(name, _)| name == http::header::CONTENT_TYPE) {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        if let Some(account) = &call.google_account {
            let token = self.google_tokens.token(&self.client, account, self.idle_timeout).await?;
            let bearer = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| RelayError::UpstreamFailed("the Vertex AI token is not a header value".into()))?;
            request = request.header(http::header::AUTHORIZATION, bearer);
        }
        let request = request
            .body(Full::new(call.body))
            .map_err(|e| RelayError::UpstreamFailed(format!("cannot build the upstream request: {e}")))?;
        // Headers must arrive within the idle bound (a hung upstream is cut), or the total bound if shorter.
        let header_wait = self.total_timeout.map_or(self.idle_timeout, |t| t.min(self.idle_timeout));
        let pending =
            if proxy.is_empty() { self.client.request(request) } else { self.proxies.request(&proxy, request)? };
        let response = match tokio::time::timeout(header_wait, pending).await {
            Err(_) => return Err(RelayError::UpstreamFailed(format!("no response headers within {header_wait:?}"))),
            Ok(Err(e)) => return Err(RelayError::UpstreamFailed(format!("request failed: {e:?}"))),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if !status.is_success() {
            let body = read_limited(response, ERROR_BODY_LIMIT, self.idle_timeout).await.unwrap_or_default();
            let error = upstream_error(wire, status, &body);
            return Err(match status_map.get(&i32::from(status.as_u16())) {
                Some(&to) => error.shown_as(to),
                None => error,
            });
        }
        Ok(Upstream { response, idle_timeout: self.idle_timeout, total_timeout: self.total_timeout })
    }
}

impl Upstream {
    pub fn is_event_stream(&self) -> bool {
        self.response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream") || ct.starts_with(eventstream::CONTENT_TYPE))
    }

    /// The upstream's content type, if it sent one.
    pub fn content_type(&self) -> Option<HeaderValue> {
        self.response.headers().get(http::header::CONTENT_TYPE).cloned()
    }

    /// The body as it arrives (binary answers such as speech audio are streamed through, never buffered whole),
    /// each piece awaited at most `idle_timeout` after the previous one.
    pub fn into_bytes_stream(self) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
        let idle = self.idle_timeout;
        let inner = self.response.into_body().into_data_stream();
        futures::stream::unfold((inner, false), move |(mut inner, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout(idle, inner.next()).await {
                Err(_) => Some((Err(RelayError::UpstreamFailed(format!("body stalled for {idle:?}"))), (inner, true))),
                Ok(None) => None,
                Ok(Some(Ok(b))) => Some((Ok(b), (inner, false))),
                Ok(Some(Err(e))) => Some((Err(RelayError::UpstreamFailed(format!("body broken: {e}"))), (inner, true))),
            }
        })
    }

    /// Reads the whole (non-streaming) body within the time bounds.
    pub async fn body(self) -> Result<Bytes, RelayError> {
        let limit = self.total_timeout.unwrap_or(self.idle_timeout * 10);
        match tokio::time::timeout(limit, self.response.into_body().collect()).await {
            Err(_) => Err(RelayError::UpstreamFailed(format!("body not complete within {limit:?}"))),
            Ok(Err(e)) => Err(RelayError::UpstreamFailed(format!("body read failed: {e}"))),
            Ok(Ok(b)) => Ok(b.to_bytes()),
        }
    }

    /// The body as SSE events, each awaited at most `idle_timeout` after the previous one.
    pub fn events(self) -> impl Stream<Item = Result<Event, RelayError>> + Send + 'static {
        let idle = self.idle_timeout;
        let aws = self
            .response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with(eventstream::CONTENT_TYPE));
        let body = self.response.into_body().into_data_stream();
        let inner: std::pin::Pin<Box<dyn Stream<Item = Result<Event, RelayError>> + Send>> = if aws {
            Box::pin(eventstream::events(body))
        } else {
            Box::pin(body.eventsource().map(|item| {
                item.map_err(|e| {
                    RelayError::UpstreamFailed(match e {
                        EventStreamError::Transport(t) => format!("stream broken: {t}"),
                        other => format!("stream unreadable: {other}"),
                    })
                })
            }))
        };
        futures::stream::unfold((inner, false), move |(mut inner, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout(idle, inner.next()).await {
                Err(_) => {
                    Some((Err(RelayError::UpstreamFailed(format!("stream stalled for {idle:?}"))), (inner, true)))
                }
                Ok(None) => None,
                Ok(Some(Ok(ev))) => Some((Ok(ev), (inner, false))),
                Ok(Some(Err(e))) => Some((Err(e), (inner, true))),
            }
        })
    }
}

async fn read_limited(response: http::Response<Incoming>, limit: usize, wait: Duration) -> Option<Bytes> {
    let mut out = Vec::new();
    let mut stream = response.into_body().into_data_stream();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(wait, stream.next()).await {
        out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]);
        if out.len() >= limit {
            break;
        }
    }
    Some(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_client_builds_with_one_crypto_provider() {
        // rustls panics here when no (or more than one) crypto provider is compiled in.
        Dispatcher::new(Duration::from_secs(1), Duration::from_secs(1), None).unwrap();
    }
}
