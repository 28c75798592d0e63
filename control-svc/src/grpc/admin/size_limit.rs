//! The request size limit's status code. tonic refuses a message over `max_decoding_message_size` with
//! OUT_OF_RANGE; the gRPC status-code guide (and clients' retry policies) expect RESOURCE_EXHAUSTED for it. This
//! wrapper rewrites exactly that refusal, which tonic sends as a trailers-only answer (status in the headers).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderValue;
use tonic::server::NamedService;

/// The message prefix of tonic's own size refusal.
const TOO_LARGE: &str = "Error, decoded message length too large";

/// `inner` with its size refusals answered as RESOURCE_EXHAUSTED.
#[derive(Clone)]
pub struct SizeLimited<S> {
    inner: S,
}

impl<S> SizeLimited<S> {
    pub fn new(inner: S) -> Self {
        SizeLimited { inner }
    }
}

impl<S: NamedService> NamedService for SizeLimited<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, Req, B> tower::Service<Req> for SizeLimited<S>
where
    S: tower::Service<Req, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            let headers = response.headers_mut();
            let out_of_range = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"11");
            let too_large = headers
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|m| percent_decoded(m).starts_with(TOO_LARGE));
            if out_of_range && too_large {
                headers.insert("grpc-status", HeaderValue::from_static("8"));
            }
            Ok(response)
        })
    }
}

/// `grpc-message` is percent-encoded; the prefix needs only spaces and commas decoded.
fn percent_decoded(message: &str) -> String {
    message.replace("%20", " ").replace("%2C", ",")
}
