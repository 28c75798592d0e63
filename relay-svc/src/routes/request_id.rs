//! Every request gets a fresh id, also returned as `X-Veloera-Request-Id` and used as the usage record's
//! idempotency key. It is always generated here, never taken from the client: a client that could choose it
//! could replay an id control has already settled and have its request go unbilled.
//!
//! The same layer opens the request's span (`request` with its id; `model`, `channel` and `slot` recorded as
//! they become known), in which the handler runs and, through [`InRequestSpan`], the response body streams.
//! It is also the one place a failed request is logged: the error's response carries its log text
//! ([`crate::error::Logged`]) and this layer writes it, once.
//!
//! A plain tower layer rather than `axum::middleware::from_fn`, which boxes a future and clones the inner
//! service on every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

pub const HEADER: HeaderName = HeaderName::from_static("x-veloera-request-id");

/// 32 hex characters: milliseconds since the epoch, then randomness. Time-ordered ids land at the end of
/// control's idempotency index instead of at random pages, which keeps settlement cheap at high rates.
#[derive(Clone, Copy)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn generate() -> Self {
        let millis =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let random = rand::random::<u128>();
        let mut out = [0u8; 32];
        hex_into(&mut out[..11], millis as u64 & ((1 << 44) - 1));
        hex_into(&mut out[11..22], random as u64 & ((1 << 44) - 1)); // 11 digits
        hex_into(&mut out[22..], (random >> 64) as u64 & ((1 << 40) - 1)); // 10 digits
        RequestId(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    #[allow(clippy::expect_used, reason = "only ASCII hex digits are ever written, all valid in a header value")]
    fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).expect("hex digits are a valid header value")
    }
}

/// Writes `value`'s lowest `out.len()` hex digits into `out`, most significant first.
fn hex_into(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[derive(Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = WithRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestId { inner }
    }
}

#[derive(Clone)]
pub struct WithRequestId<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for WithRequestId<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RespondWithId<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = RequestId::generate();
        request.extensions_mut().insert(id);
        let span = tracing::info_span!(
            "request",
            id = id.as_str(),
            model = tracing::field::Empty,
            channel = tracing::field::Empty,
            slot = tracing::field::Empty,
        );
        let inner = {
            let _in_span = span.enter();
            self.inner.call(request)
        };
        RespondWithId { inner, id, span }
    }
}

pin_project_lite::pin_project! {
    pub struct RespondWithId<F> {
        #[pin]
        inner: F,
        id: RequestId,
        span: tracing::Span,
    }
}

impl<F, R, E> Future for RespondWithId<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _in_span = this.span.enter();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(crate::error::Logged(error)) = response.extensions_mut().remove() {
            // Escaped (`?`): the text may carry what the client sent, such as a model name with line breaks.
            tracing::warn!(status = response.status().as_u16(), error = ?error, "relay request failed");
        }
        response.headers_mut().insert(HEADER, this.id.header_value());
        Poll::Ready(Ok(response))
    }
}

/// Records the model asked for on the current request's span.
pub fn record_model(model: &str) {
    tracing::Span::current().record("model", model);
}

/// Records the channel and key slot now serving the current request on its span.
pub fn record_target(channel: i64, slot: i32) {
    let span = tracing::Span::current();
    span.record("channel", channel);
    span.record("slot", slot);
}

pin_project_lite::pin_project! {
    /// A response body stream that runs in the request's span: an SSE answer outlives its handler, and what it
    /// logs still names the request.
    pub struct InRequestSpan<S> {
        #[pin]
        inner: S,
        span: tracing::Span,
    }
}

impl<S> InRequestSpan<S> {
    /// `inner` in the current request's span.
    pub fn new(inner: S) -> Self {
        InRequestSpan { inner, span: tracing::Span::current() }
    }
}

impl<S: futures::Stream> futures::Stream for InRequestSpan<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let _in_span = this.span.enter();
        this.inner.poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn request_ids_are_32_hex_characters_and_time_ordered() {
        let a = RequestId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RequestId::generate();
        let (a, b) = (a.as_str(), b.as_str());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a[..11] < b[..11], "{a} then {b}");
        assert_ne!(a[11..], b[11..]);
        // All 21 random digits vary, not only the last ones.
        let ids: Vec<RequestId> = (0..64).map(|_| RequestId::generate()).collect();
        for position in 11..32 {
            let distinct: std::collections::HashSet<u8> = ids.iter().map(|id| id.0[position]).collect();
            assert!(distinct.len() > 1, "digit {position} never changes");
        }
    }
}
