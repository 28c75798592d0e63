//! The one place that does upstream I/O: the pooled HTTP client, timeouts, and turning the upstream's
//! answer into either a complete body or a stream of SSE events.

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use http::StatusCode;

use crate::error::RelayError;
use crate::providers::openai::{UpstreamCall, upstream_error};

/// Most of an upstream error body we read (enough for any JSON error object).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct Dispatcher {
    client: reqwest::Client,
    idle_timeout: Duration,
    total_timeout: Option<Duration>,
}

/// A successful upstream answer, not yet read.
pub struct Upstream {
    response: reqwest::Response,
    idle_timeout: Duration,
    total_timeout: Option<Duration>,
}

impl Dispatcher {
    pub fn new(
        connect_timeout: Duration,
        idle_timeout: Duration,
        total_timeout: Option<Duration>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            // Upstream redirects would carry our key to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Dispatcher { client, idle_timeout, total_timeout })
    }

    /// Sends the call; a non-2xx answer is read (bounded) and turned into our error.
    pub async fn send(&self, call: UpstreamCall) -> Result<Upstream, RelayError> {
        let mut request =
            self.client.post(&call.url).header(http::header::CONTENT_TYPE, "application/json").body(call.body);
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        // Headers must arrive within the idle bound (a hung upstream is cut), or the total bound if shorter.
        let header_wait = self.total_timeout.map_or(self.idle_timeout, |t| t.min(self.idle_timeout));
        let response = match tokio::time::timeout(header_wait, request.send()).await {
            Err(_) => return Err(RelayError::UpstreamFailed(format!("no response headers within {header_wait:?}"))),
            Ok(Err(e)) => return Err(RelayError::UpstreamFailed(format!("request failed: {}", without_url(&e)))),
            Ok(Ok(r)) => r,
        };
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if !status.is_success() {
            let body = read_limited(response, ERROR_BODY_LIMIT, self.idle_timeout).await.unwrap_or_default();
            return Err(upstream_error(status, &body));
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
            .is_some_and(|ct| ct.starts_with("text/event-stream"))
    }

    /// Reads the whole (non-streaming) body within the time bounds.
    pub async fn body(self) -> Result<Bytes, RelayError> {
        let limit = self.total_timeout.unwrap_or(self.idle_timeout * 10);
        match tokio::time::timeout(limit, self.response.bytes()).await {
            Err(_) => Err(RelayError::UpstreamFailed(format!("body not complete within {limit:?}"))),
            Ok(Err(e)) => Err(RelayError::UpstreamFailed(format!("body read failed: {}", without_url(&e)))),
            Ok(Ok(b)) => Ok(b),
        }
    }

    /// The body as SSE events, each awaited at most `idle_timeout` after the previous one.
    pub fn events(self) -> impl Stream<Item = Result<Event, RelayError>> + Send + 'static {
        let idle = self.idle_timeout;
        let inner = self.response.bytes_stream().eventsource();
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
                Ok(Some(Err(e))) => {
                    let msg = match e {
                        EventStreamError::Transport(t) => format!("stream broken: {}", without_url(&t)),
                        other => format!("stream unreadable: {other}"),
                    };
                    Some((Err(RelayError::UpstreamFailed(msg)), (inner, true)))
                }
            }
        })
    }
}

async fn read_limited(response: reqwest::Response, limit: usize, wait: Duration) -> Option<Bytes> {
    let mut out = Vec::new();
    let mut stream = response.bytes_stream();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(wait, stream.next()).await {
        out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]);
        if out.len() >= limit {
            break;
        }
    }
    Some(out.into())
}

/// reqwest errors print the URL; upstream URLs may carry keys (`?key=`), so the URL is cut out.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<upstream>");
    }
    s
}
