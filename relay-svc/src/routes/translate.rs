//! Relaying a chat answer whose client format differs from the channel's (converted through the shared chat
//! representation), or whose formats match but are not OpenAI's (passed through, read only for usage).
//! OpenAI to OpenAI has its own leaner path in `chat` and `sse`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use eventsource_stream::Event;
use futures::{Stream, StreamExt};
use http::HeaderValue;

use crate::dispatch::Upstream;
use crate::error::RelayError;
use crate::providers::chat::{self, Reply, StreamDecoder, StreamEncoder, StreamEvent, Usage};
use crate::providers::{self, Format};
use crate::tokenizer;
use crate::usage::Metering;

/// How the answer reaches the client.
pub enum Delivery {
    /// Re-encoded in the client's format.
    Convert,
    /// The upstream's bytes as they are (same format); decoded only to learn usage and completion.
    PassThrough,
}

/// A whole answer: read, metered, and either converted to `client` or passed through.
pub async fn reply(
    upstream: Upstream,
    mut meter: Metering,
    wire: Format,
    client: Format,
    delivery: Delivery,
    model: &str,
    request: &chat::Request,
) -> Result<Response, RelayError> {
    let body = match upstream.body().await {
        Ok(b) => b,
        Err(e) => {
            meter.failed(e.status_code(), &e.to_string());
            return Err(e);
        }
    };
    meter.first_byte();
    let parsed: Result<Reply, RelayError> = providers::parse_reply(wire, &body, model).map(|mut reply| {
        if reply.usage == Usage::default() {
            reply.usage = Usage {
                input: tokenizer::count_request(request),
                output: tokenizer::count_reply(&reply),
                ..Usage::default()
            };
        }
        reply
    });
    match delivery {
        Delivery::PassThrough => {
            if let Ok(reply) = &parsed {
                meter.usage_of(reply.usage);
            }
            meter.succeeded();
            let mut response = Body::from(body).into_response();
            response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(response)
        }
        Delivery::Convert => {
            let reply = match parsed {
                Ok(r) => r,
                Err(e) => {
                    meter.failed(e.status_code(), &e.to_string());
                    return Err(e);
                }
            };
            meter.usage_of(reply.usage);
            meter.succeeded();
            Ok(Json(providers::render_reply(client, &reply)).into_response())
        }
    }
}

struct Translation {
    events: Pin<Box<dyn Stream<Item = Result<Event, RelayError>> + Send>>,
    decoder: Box<dyn StreamDecoder>,
    /// Writes the client's frames (converting), or only its error frame (passing through).
    encoder: Box<dyn StreamEncoder>,
    delivery: Delivery,
    meter: Metering,
    ended: bool,
    /// For counting usage here when the upstream reports none: the request, and the output counted so far.
    request: Option<Arc<chat::Request>>,
    usage_seen: bool,
    output_tokens: i64,
}

/// A streamed answer, relayed event by event (never buffered whole). A failure after the first byte ends the
/// client's stream with its format's error event, never with a normal finish.
pub fn stream(
    upstream: Upstream,
    meter: Metering,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    delivery: Delivery,
    request: Option<Arc<chat::Request>>,
) -> Response {
    let state = Translation {
        events: Box::pin(upstream.events()),
        decoder,
        encoder,
        delivery,
        meter,
        ended: false,
        request,
        usage_seen: false,
        output_tokens: 0,
    };
    let frames = futures::stream::unfold(state, |mut t| async move {
        if t.ended {
            return None;
        }
        let bytes = next_bytes(&mut t).await;
        Some((Ok::<Bytes, Infallible>(bytes), t))
    });
    let mut response = Response::new(Body::from_stream(frames));
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

async fn next_bytes(t: &mut Translation) -> Bytes {
    loop {
        let event = match t.events.next().await {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => return fail(t, e),
            None if t.decoder.complete() => {
                t.ended = true;
                if let (false, Some(request)) = (t.usage_seen, &t.request) {
                    let input = tokenizer::count_request(request);
                    t.meter.usage_of(Usage { input, output: t.output_tokens, ..Usage::default() });
                }
                t.meter.succeeded();
                return match t.delivery {
                    Delivery::Convert => join(t.encoder.finish().iter().map(|f| f.to_bytes())),
                    Delivery::PassThrough => Bytes::new(),
                };
            }
            None => return fail(t, RelayError::UpstreamFailed("stream ended before the answer was complete".into())),
        };
        t.meter.first_byte();
        let decoded = match t.decoder.decode(&event.event, &event.data) {
            Ok(d) => d,
            Err(e) => return fail(t, e),
        };
        for ev in &decoded {
            match ev {
                StreamEvent::Usage(u) => {
                    t.usage_seen = true;
                    t.meter.usage_of(*u);
                }
                // Counted as it passes (never kept), in case the upstream never reports usage.
                StreamEvent::Text(s) | StreamEvent::Thinking(s) if !t.usage_seen => {
                    t.output_tokens += tokenizer::count_text(s)
                }
                StreamEvent::ToolCallArguments { fragment, .. } if !t.usage_seen => {
                    t.output_tokens += tokenizer::count_text(fragment)
                }
                _ => {}
            }
        }
        let out = match t.delivery {
            Delivery::PassThrough => raw(&event),
            Delivery::Convert => join(decoded.iter().flat_map(|ev| t.encoder.encode(ev)).map(|f| f.to_bytes())),
        };
        if !out.is_empty() {
            return out;
        }
    }
}

fn fail(t: &mut Translation, e: RelayError) -> Bytes {
    tracing::warn!(error = %e, "upstream stream failed");
    t.ended = true;
    t.meter.failed(e.status_code(), &e.to_string());
    join(t.encoder.fail(&e.public_message()).iter().map(|f| f.to_bytes()))
}

fn join(parts: impl Iterator<Item = Bytes>) -> Bytes {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&p);
    }
    Bytes::from(out)
}

/// An upstream event re-framed as it came (event name kept; Anthropic clients dispatch on it).
fn raw(event: &Event) -> Bytes {
    let mut out = String::with_capacity(event.data.len() + 32);
    if !event.event.is_empty() && event.event != "message" {
        out.push_str("event: ");
        out.push_str(&event.event);
        out.push('\n');
    }
    for line in event.data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}
