//! The one place that does upstream I/O: the pooled HTTP client, timeouts, and turning the upstream's
//! answer into either a complete body or a stream of SSE events.
//!
//! The client is hyper-util's pooled client with rustls (HTTP/1.1 and HTTP/2 by ALPN) rather than reqwest: on the
//! hot path reqwest's URL re-parsing and redirect layer cost about a tenth of the relay's instructions per request.
//! Redirects are never followed (they would carry our key to wherever they point). Every failure leaves through
//! [`Dispatcher::send`] with the channel's secrets scrubbed from what the upstream said (`redact`).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

use crate::channel::{Key, Timeouts};
use crate::error::RelayError;
use crate::failover::verdict::Scope;
use crate::providers::upstream_error;
pub use call::UpstreamCall;
pub use fault::{Phase, UpstreamFault};

/// Most of an upstream error body we read (enough for any JSON error object).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub mod auth;
mod call;
pub mod eventstream;
pub mod fault;
mod google_token;
mod proxy;
pub mod redact;

#[derive(Clone)]
pub struct Dispatcher {
    client: HttpClient,
    /// Clients for channels with their own connect timeout, by that timeout in milliseconds.
    clients_by_connect: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u32, HttpClient>>>,
    proxies: proxy::Proxies,
    google_tokens: google_token::GoogleTokens,
    defaults: Limits,
}

/// The time bounds of one upstream call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    /// Until the first byte of the answer: the response headers and, for streams, the first event.
    pub first_byte: Duration,
    /// Longest silence between two pieces of a body or two events of a stream.
    pub idle: Duration,
    /// The whole call; `None` for no bound beyond the others.
    pub total: Option<Duration>,
}

impl Limits {
    /// These limits with a channel's overrides (unset = keep ours).
    fn with(self, t: &Timeouts) -> Limits {
        Limits {
            connect: t.connect.unwrap_or(self.connect),
            first_byte: t.first_byte.unwrap_or(self.first_byte),
            idle: t.idle.unwrap_or(self.idle),
            total: t.total.or(self.total),
        }
    }
}

/// A failed upstream call: our error for the client, the typed fault retry and health decide on, and what the
/// upstream said.
#[derive(Debug)]
pub struct Failure {
    pub error: RelayError,
    pub fault: UpstreamFault,
    /// The upstream's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// What the upstream said (error code and message, or the transport error), for health checks.
    pub detail: String,
}

impl Failure {
    /// A call that got no usable answer: `fault` says why, `error` what the client is told.
    pub fn without_answer(fault: UpstreamFault, error: RelayError) -> Failure {
        let detail = error.to_string();
        Failure { error, fault, retry_after: None, detail }
    }

    /// The upstream's status as `Attempt.status_code` carries it (0: no status came).
    pub fn status(&self) -> u16 {
        self.fault.wire_status()
    }

    /// Where the fault lies, as far as retrying goes.
    pub fn scope(&self) -> Scope {
        crate::failover::verdict::of(self).scope
    }

    /// Whether another attempt (another key or channel) may succeed where this one failed.
    pub fn is_retryable(&self) -> bool {
        self.scope() != Scope::Request
    }

    /// The failure with `keys` (and anything shaped like a key) removed from everything it says.
    fn redacted(self, keys: &[Key]) -> Failure {
        let Failure { error, fault, retry_after, detail } = self;
        let error = error.map_text(|text| redact::redact(&text, keys).into_owned());
        Failure { error, fault, retry_after, detail: redact::redact(&detail, keys).into_owned() }
    }
}

/// SSE events of an upstream stream, each bounded by the idle timeout.
pub type Events = Pin<Box<dyn Stream<Item = Result<Event, RelayError>> + Send>>;

/// A successful upstream answer: its first event (streams) or whole body (JSON) already read, so that a
/// failure before the first byte reaches the client can still be retried elsewhere.
pub struct Upstream {
    response: Option<http::Response<Incoming>>,
    content_type: Option<HeaderValue>,
    limits: Limits,
    started: Instant,
    events: Option<Events>,
    body: Option<Bytes>,
    /// The channel's keys, scrubbed from error events that arrive mid-stream.
    keys: Arc<[Key]>,
}

impl Dispatcher {
    pub fn new(defaults: Limits) -> Result<Self, String> {
        Ok(Dispatcher {
            client: http_client(defaults.connect),
            clients_by_connect: Default::default(),
            proxies: proxy::Proxies::new(defaults.connect),
            google_tokens: google_token::GoogleTokens::default(),
            defaults,
        })
    }

    fn client_for(&self, connect: Duration) -> HttpClient {
        if connect == self.defaults.connect {
            return self.client.clone();
        }
        let ms = connect.as_millis().min(u128::from(u32::MAX)) as u32;
        let mut clients = self.clients_by_connect.lock().unwrap_or_else(|p| p.into_inner());
        clients.entry(ms).or_insert_with(|| http_client(connect)).clone()
    }

    /// Sends the call and reads the answer up to its first byte: a non-2xx answer is read (bounded) and
    /// turned into our error; a stream's first event and a JSON body are read before this returns. `keys` are
    /// the channel's stored keys, never repeated by what a failure says (nor by an error event later in the
    /// stream).
    pub async fn send(&self, call: UpstreamCall, keys: &Arc<[Key]>) -> Result<Upstream, Failure> {
        self.send_unredacted(call, keys.clone()).await.map_err(|failure| failure.redacted(keys))
    }

    async fn send_unredacted(&self, call: UpstreamCall, keys: Arc<[Key]>) -> Result<Upstream, Failure> {
        let limits = self.defaults.with(&call.timeouts);
        let started = Instant::now();
        let first_byte_by = started + limits.total.map_or(limits.first_byte, |t| t.min(limits.first_byte));
        let pending = self.request(call, limits);
        let response = match tokio::time::timeout_at(first_byte_by.into(), pending).await {
            Err(_) => {
                return Err(Failure::without_answer(
                    UpstreamFault::Timeout(Phase::Headers),
                    RelayError::UpstreamFailed(format!("no response headers within {:?}", limits.first_byte)),
                ));
            }
            Ok(result) => result?,
        };
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let mut upstream =
            Upstream { response: Some(response), content_type, limits, started, events: None, body: None, keys };
        upstream.read_first_byte(first_byte_by).await?;
        Ok(upstream)
    }

    /// Builds and sends the request; a non-2xx answer becomes a `Failure`.
    async fn request(&self, call: UpstreamCall, limits: Limits) -> Result<http::Response<Incoming>, Failure> {
        let uri: http::Uri = call.url.parse().map_err(|_| {
            Failure::without_answer(
                UpstreamFault::Connect,
                RelayError::UpstreamFailed("the channel's base URL is not a valid URI".into()),
            )
        })?;
        let wire = call.format;
        let status_map = call.status_map;
        let proxy = call.proxy;
        let post = call.method == http::Method::POST;
        let mut request = http::Request::builder().method(call.method).uri(uri);
        if post && !call.headers.iter().any(|(name, _)| name == http::header::CONTENT_TYPE) {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        if let Some(account) = &call.google_account {
            let token = self.google_tokens.token(&self.client, account, limits.idle).await.map_err(connect_failure)?;
            let mut bearer = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                connect_failure(RelayError::UpstreamFailed("the Vertex AI token is not a header value".into()))
            })?;
            bearer.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, bearer);
        }
        let request = request.body(Full::new(call.body)).map_err(|e| {
            connect_failure(RelayError::UpstreamFailed(format!("cannot build the upstream request: {e}")))
        })?;
        let response = match &proxy {
            None => self.client_for(limits.connect).request(request).await,
            Some(proxy) => self.proxies.request(proxy, request).map_err(connect_failure)?.await,
        };
        let response =
            response.map_err(|e| connect_failure(RelayError::UpstreamFailed(format!("request failed: {e:?}"))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let body = read_limited(response, ERROR_BODY_LIMIT, limits.idle).await.unwrap_or_default();
        let error = upstream_error(wire, status, &body);
        let detail = format!("{}", String::from_utf8_lossy(&body[..body.len().min(1024)]));
        let fault = UpstreamFault::Status { status: status.as_u16(), code: error.upstream_code().map(str::to_string) };
        let error = match status_map.get(&i32::from(status.as_u16())) {
            Some(&to) => error.shown_as(to),
            None => error,
        };
        Err(Failure { error, fault, retry_after, detail })
    }
}

/// A call that never reached an answering upstream.
fn connect_failure(error: RelayError) -> Failure {
    Failure::without_answer(UpstreamFault::Connect, error)
}

fn http_client(connect_timeout: Duration) -> HttpClient {
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
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(https)
}

impl Upstream {
    pub fn is_event_stream(&self) -> bool {
        self.events.is_some()
    }

    /// The upstream's content type, if it sent one.
    pub fn content_type(&self) -> Option<HeaderValue> {
        self.content_type.clone()
    }

    fn content_type_is(&self, prefix: &str) -> bool {
        self.content_type.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with(prefix))
    }

    /// Reads a stream's first event, or a JSON body whole, by `deadline`; anything else is left unread.
    async fn read_first_byte(&mut self, deadline: Instant) -> Result<(), Failure> {
        let sse = self.content_type_is("text/event-stream") || self.content_type_is(eventstream::CONTENT_TYPE);
        if sse {
            let mut events = self.take_events();
            let first = match tokio::time::timeout_at(deadline.into(), events.next()).await {
                Err(_) => Err((
                    UpstreamFault::Timeout(Phase::FirstByte),
                    format!("no first event within {:?}", self.limits.first_byte),
                )),
                Ok(None) => Err((UpstreamFault::StreamCut, "the stream ended before its first event".to_string())),
                Ok(Some(Err(e))) => Err((UpstreamFault::StreamCut, e.to_string())),
                Ok(Some(Ok(ev))) => Ok(ev),
            };
            let first = first.map_err(|(f, m)| Failure::without_answer(f, RelayError::UpstreamFailed(m)))?;
            if let Some(detail) = error_event(&first) {
                let error = RelayError::UpstreamFailed(format!("the stream began with an error: {detail}"));
                return Err(Failure { error, fault: UpstreamFault::Malformed, retry_after: None, detail });
            }
            self.events = Some(Box::pin(futures::stream::once(async move { Ok(first) }).chain(events)));
            return Ok(());
        }
        let json = self.content_type.is_none() || self.content_type_is("application/json");
        if json {
            let Some(response) = self.response.take() else {
                return Err(Failure::without_answer(
                    UpstreamFault::Malformed,
                    RelayError::UpstreamFailed("the answer was already read".into()),
                ));
            };
            let limit =
                self.limits.total.map(|t| t.saturating_sub(self.started.elapsed())).unwrap_or(self.limits.idle * 10);
            let body = match tokio::time::timeout(limit, response.into_body().collect()).await {
                Err(_) => {
                    Err((UpstreamFault::Timeout(Phase::FirstByte), format!("body not complete within {limit:?}")))
                }
                Ok(Err(e)) => Err((UpstreamFault::StreamCut, format!("body read failed: {e}"))),
                Ok(Ok(b)) => Ok(b.to_bytes()),
            }
            .map_err(|(f, m)| Failure::without_answer(f, RelayError::UpstreamFailed(m)))?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(Failure::without_answer(
                    UpstreamFault::Malformed,
                    RelayError::UpstreamFailed("the upstream answered with an empty body".into()),
                ));
            }
            self.body = Some(body);
        }
        Ok(())
    }

    /// The body as it arrives (binary answers such as speech audio are streamed through, never buffered whole),
    /// each piece awaited at most the idle timeout after the previous one.
    pub fn into_bytes_stream(self) -> impl Stream<Item = Result<Bytes, RelayError>> + Send + 'static {
        let bound = self.bound();
        let ready = self.body.map(|b| futures::stream::once(async move { Ok(b) }));
        let inner = self.response.map(|r| r.into_body().into_data_stream());
        let rest = futures::stream::unfold((inner, false), move |(inner, done)| async move {
            let mut inner = inner?;
            if done {
                return None;
            }
            match tokio::time::timeout_at(bound.next().into(), inner.next()).await {
                Err(_) => Some((Err(RelayError::UpstreamFailed(bound.exceeded("body"))), (Some(inner), true))),
                Ok(None) => None,
                Ok(Some(Ok(b))) => Some((Ok(b), (Some(inner), false))),
                Ok(Some(Err(e))) => {
                    Some((Err(RelayError::UpstreamFailed(format!("body broken: {e}"))), (Some(inner), true)))
                }
            }
        });
        futures::stream::iter(ready).flatten().chain(rest)
    }

    /// The whole (non-streaming) body.
    pub async fn body(mut self) -> Result<Bytes, RelayError> {
        if let Some(b) = self.body.take() {
            return Ok(b);
        }
        let pieces: Vec<Bytes> =
            self.into_bytes_stream().collect::<Vec<_>>().await.into_iter().collect::<Result<_, _>>()?;
        Ok(pieces.concat().into())
    }

    /// The stream's events (the first one already read), each awaited at most the idle timeout.
    pub fn events(mut self) -> Events {
        match self.events.take() {
            Some(events) => events,
            None => self.take_events(),
        }
    }

    /// The bound on each next piece of the answer: the idle timeout, within the total one.
    fn bound(&self) -> PieceBound {
        PieceBound { idle: self.limits.idle, end: self.limits.total.map(|t| self.started + t) }
    }

    fn take_events(&mut self) -> Events {
        let bound = self.bound();
        let keys = self.keys.clone();
        let aws = self.content_type_is(eventstream::CONTENT_TYPE);
        let Some(response) = self.response.take() else {
            return Box::pin(futures::stream::empty());
        };
        let body = response.into_body().into_data_stream();
        let inner: Events = if aws {
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
        Box::pin(futures::stream::unfold((inner, keys, false), move |(mut inner, keys, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout_at(bound.next().into(), inner.next()).await {
                Err(_) => Some((Err(RelayError::UpstreamFailed(bound.exceeded("stream"))), (inner, keys, true))),
                Ok(None) => None,
                Ok(Some(Ok(ev))) => Some((Ok(scrubbed(ev, &keys)), (inner, keys, false))),
                Ok(Some(Err(e))) => Some((Err(e), (inner, keys, true))),
            }
        }))
    }
}

/// An error event with the channel's keys (and anything shaped like a key) removed: whether it passes through
/// to the client or becomes our own error, it may quote the credentials the upstream was called with. Other
/// events pass untouched (answers are the client's, and scanning them would cost every chunk).
fn scrubbed(mut ev: Event, keys: &[Key]) -> Event {
    if is_error_event(&ev)
        && let std::borrow::Cow::Owned(clean) = redact::redact(&ev.data, keys)
    {
        ev.data = clean;
    }
    ev
}

/// When the next piece of an answer must have arrived.
#[derive(Debug, Clone, Copy)]
struct PieceBound {
    idle: Duration,
    /// The end of the call's total time, if it has one.
    end: Option<Instant>,
}

impl PieceBound {
    fn next(&self) -> Instant {
        let idle_end = Instant::now() + self.idle;
        self.end.map_or(idle_end, |end| end.min(idle_end))
    }

    fn exceeded(&self, what: &str) -> String {
        match self.end {
            Some(end) if Instant::now() >= end => format!("the {what} ran past the call's total time bound"),
            _ => format!("the {what} stalled for {:?}", self.idle),
        }
    }
}

/// A stream whose first event is an error object (OpenAI `{"error": …}`, Anthropic `event: error`) failed
/// before it began; its text is returned.
fn error_event(ev: &Event) -> Option<String> {
    is_error_event(ev).then(|| ev.data.chars().take(1024).collect())
}

/// An error object: OpenAI's (and Gemini's) `{"error": …}`, Anthropic's `event: error`.
fn is_error_event(ev: &Event) -> bool {
    let trimmed = ev.data.trim_start();
    ev.event == "error" || trimmed.starts_with("{\"error\"") || trimmed.starts_with("{ \"error\"")
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
    fn channel_timeouts_override_the_defaults_where_set() {
        let second = Duration::from_secs(1);
        let defaults = Limits { connect: second, first_byte: second * 300, idle: second * 60, total: None };
        let ms = |v: u64| Some(Duration::from_millis(v));
        let t = Timeouts { connect: ms(500), first_byte: None, idle: ms(2000), total: ms(9000) };
        let l = defaults.with(&t);
        assert_eq!((l.connect, l.first_byte, l.idle), (second / 2, second * 300, second * 2));
        assert_eq!(l.total, Some(second * 9));
    }

    #[test]
    fn the_tls_client_builds_with_one_crypto_provider() {
        // rustls panics here when no (or more than one) crypto provider is compiled in.
        let second = Duration::from_secs(1);
        Dispatcher::new(Limits { connect: second, first_byte: second, idle: second, total: None }).unwrap();
    }
}
