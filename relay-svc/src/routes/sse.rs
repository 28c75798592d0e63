//! Relays an upstream SSE chat stream chunk by chunk (never buffered whole), keeping the usage we asked for
//! and hiding that extra chunk unless the client asked for it too. A failure after the first byte ends the
//! stream with one error event and no `[DONE]`, so it is never mistaken for a normal finish.

use std::convert::Infallible;
use std::pin::Pin;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use eventsource_stream::Event;
use futures::{Stream, StreamExt};
use http::HeaderValue;

use crate::dispatch::Upstream;
use crate::error::RelayError;
use crate::providers::openai::{self, inspect_chunk};
use crate::usage::Metering;

const DONE: &[u8] = b"data: [DONE]\n\n";

struct Relay {
    events: Pin<Box<dyn Stream<Item = Result<Event, RelayError>> + Send>>,
    meter: Metering,
    wants_usage: bool,
    finished: bool,
    ended: bool,
    said_anything: bool,
}

pub fn relay(upstream: Upstream, mut meter: Metering, wants_usage: bool) -> Response {
    meter.answering();
    let state = Relay {
        events: Box::pin(upstream.events()),
        meter,
        wants_usage,
        finished: false,
        ended: false,
        said_anything: false,
    };
    let frames = futures::stream::unfold(state, |mut r| async move {
        if r.ended {
            return None;
        }
        let frame = next_frame(&mut r).await;
        Some((Ok::<Bytes, Infallible>(frame), r))
    });
    event_stream(Body::from_stream(super::request_id::InRequestSpan::new(frames)))
}

/// A response carrying server-sent events: never cached, never buffered by a proxy in front of us.
pub fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

async fn next_frame(r: &mut Relay) -> Bytes {
    loop {
        let event = match r.events.next().await {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => return fail(r, e),
            None if r.finished => {
                // Some upstreams (Ollama among them) end after the final chunk without `[DONE]`.
                return done(r);
            }
            None => return fail(r, RelayError::UpstreamFailed("stream ended before the answer was complete".into())),
        };
        r.meter.first_byte();
        if event.data == "[DONE]" {
            return done(r);
        }
        let info = match inspect_chunk(&event.data) {
            Ok(info) => info,
            Err(e) => return fail(r, e),
        };
        if info.error {
            return upstream_error_event(r, &event);
        }
        if let Some(usage) = info.usage {
            // Applied as it arrives: a client that hangs up after it is billed by it.
            r.meter.usage_of(usage.into());
        }
        if r.meter.records_answer() {
            r.meter.answer_text(&openai::chunk_text(&event.data));
        }
        r.finished |= info.finished;
        if info.usage_only && !r.wants_usage {
            continue;
        }
        r.meter.said(info.said_bytes);
        r.said_anything |= info.said_bytes > 0;
        return frame(&event);
    }
}

/// The stream finished normally; an answer that said nothing is free.
fn done(r: &mut Relay) -> Bytes {
    r.ended = true;
    r.meter.answered(None, r.said_anything);
    r.meter.finish();
    Bytes::from_static(DONE)
}

fn fail(r: &mut Relay, e: RelayError) -> Bytes {
    r.ended = true;
    r.meter.failed(&e);
    r.meter.finish();
    Bytes::from(format!("data: {}\n\n", e.body()))
}

/// The upstream failed mid-answer with an error chunk (already scrubbed of keys): it is passed on as the
/// stream's one error event (OpenAI's SDKs raise it with the upstream's message) and the request failed.
fn upstream_error_event(r: &mut Relay, event: &Event) -> Bytes {
    r.ended = true;
    let said: String = event.data.chars().take(500).collect();
    r.meter.failed(&RelayError::UpstreamFailed(format!("the upstream's stream failed: {said}")));
    r.meter.finish();
    frame(event)
}

/// An upstream event framed as it came (its event name kept: Anthropic clients dispatch on it); the one SSE
/// frame writer of the relay's pass-through streams.
pub(super) fn frame(event: &Event) -> Bytes {
    let mut out = String::with_capacity(event.data.len() + 16);
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
