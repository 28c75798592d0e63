//! Relaying a chat answer whose client format differs from the channel's (converted through the shared chat
//! representation), or whose formats match but are not OpenAI's (passed through, read only for usage).
//! OpenAI to OpenAI has its own leaner path in `chat` and `sse`.

use std::convert::Infallible;
use std::future::Future;
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
use crate::guard::AnswerCheck;
use crate::providers::chat::{self, Reply, StreamDecoder, StreamEncoder, StreamEvent, Usage};
use crate::providers::think_tags::{self, ThinkTags};
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

/// How one whole answer is read and written.
pub struct ReplyPlan<'a> {
    /// The channel's format, and the client's.
    pub wire: Format,
    pub client: Format,
    pub delivery: Delivery,
    /// The model named when the answer names none.
    pub model: &'a str,
    /// The request, to count its prompt here if the upstream reports no usage.
    pub request: &'a chat::Request,
    /// The channel's `thinking_to_content`.
    pub think_tags: bool,
    /// Reads the answer for blocked words.
    pub answers: Option<AnswerCheck>,
}

/// A whole answer: read, metered, and either converted to the client's format or passed through.
pub async fn reply(upstream: Upstream, mut meter: Metering, plan: ReplyPlan<'_>) -> Result<Response, RelayError> {
    let ReplyPlan { wire, client, delivery, model, request, think_tags, answers } = plan;
    let body = meter.check(upstream.body().await)?;
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
    if let (Some(mut check), Ok(reply)) = (answers, &parsed)
        && let Err(e) = check.feed(&reply.text())
    {
        // Nothing of the answer reaches the client, so nothing is billed.
        meter.failed(&e);
        meter.finish();
        return Err(e);
    }
    if let (true, Ok(reply)) = (meter.records_answer(), &parsed) {
        meter.answer_text(&reply.text());
    }
    match delivery {
        Delivery::PassThrough => {
            match &parsed {
                Ok(reply) => meter.answered(Some(reply.usage), reply.says_something()),
                // Passed on as it came; an answer we cannot read is not known to be empty.
                Err(_) => meter.answered(None, true),
            }
            meter.finish();
            let mut response = Body::from(body).into_response();
            response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(response)
        }
        Delivery::Convert => {
            let mut reply = meter.check(parsed)?;
            meter.answered(Some(reply.usage), reply.says_something());
            meter.finish();
            if think_tags {
                think_tags::reply(&mut reply);
            }
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
    /// Any text, reasoning or tool call passed: an answer without one is free.
    said_something: bool,
    /// The channel's `thinking_to_content`, when on.
    tags: Option<ThinkTags>,
    /// Reads the answer for blocked words as it passes.
    answers: Option<AnswerCheck>,
}

/// How one stream is read and written.
pub struct StreamPlan {
    pub decoder: Box<dyn StreamDecoder>,
    /// Writes the client's frames (converting), or only its error frame (passing through).
    pub encoder: Box<dyn StreamEncoder>,
    pub delivery: Delivery,
    /// The request, to count its prompt here if the upstream reports no usage.
    pub request: Option<Arc<chat::Request>>,
    /// Reads the answer for blocked words as it passes.
    pub answers: Option<AnswerCheck>,
}

/// A streamed answer, relayed event by event (never buffered whole). A failure after the first byte ends the
/// client's stream with its format's error event, never with a normal finish.
pub fn stream(upstream: Upstream, mut meter: Metering, how: StreamPlan, think_tags: bool) -> Response {
    meter.answering();
    let StreamPlan { decoder, encoder, delivery, request, answers } = how;
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
        said_something: false,
        tags: think_tags.then(ThinkTags::default),
        answers,
    };
    let frames = futures::stream::unfold(state, |mut t| async move {
        if t.ended {
            return None;
        }
        let bytes = next_bytes(&mut t).await;
        Some((Ok::<Bytes, Infallible>(bytes), t))
    });
    super::sse::event_stream(Body::from_stream(super::request_id::InRequestSpan::new(frames)))
}

async fn next_bytes(t: &mut Translation) -> Bytes {
    loop {
        let event = match t.events.next().await {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => return fail(t, e),
            None if t.decoder.complete() => {
                t.ended = true;
                let counted = match (t.usage_seen, &t.request) {
                    (false, Some(request)) => {
                        let input = tokenizer::count_request(request);
                        Some(Usage { input, output: t.output_tokens, ..Usage::default() })
                    }
                    _ => None,
                };
                let said_something = t.said_something || !t.decoder.reads_answer();
                t.meter.answered(counted, said_something);
                t.meter.finish();
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
        if let Some(check) = &mut t.answers {
            // The piece holding a blocked word is never sent: the stream ends with an error event instead.
            let blocked = decoded.iter().find_map(|ev| match ev {
                StreamEvent::Text(s) => check.feed(s).err(),
                _ => None,
            });
            if let Some(e) = blocked {
                return fail(t, e);
            }
        }
        if t.meter.records_answer() {
            for ev in &decoded {
                if let StreamEvent::Text(s) = ev {
                    t.meter.answer_text(s);
                }
            }
        }
        for ev in &decoded {
            t.said_something |= ev.says_something();
            match ev {
                StreamEvent::Usage(u) => {
                    t.usage_seen = true;
                    t.meter.usage_of(*u);
                }
                // Counted as it passes (never kept), in case the upstream never reports usage; and told to the
                // meter as said (as JSON text, quotes included), so a client that hangs up before the usage
                // arrives pays for what reached it.
                StreamEvent::Text(s) | StreamEvent::Thinking(s) if !t.usage_seen => {
                    t.output_tokens += tokenizer::count_text(s);
                    t.meter.said(s.len() + 2);
                }
                StreamEvent::ToolCallArguments { fragment, .. } if !t.usage_seen => {
                    t.output_tokens += tokenizer::count_text(fragment);
                    t.meter.said(fragment.len() + 2);
                }
                _ => {}
            }
        }
        let out = match t.delivery {
            Delivery::PassThrough => super::sse::frame(&event),
            Delivery::Convert => {
                let decoded = match &mut t.tags {
                    Some(tags) => decoded.into_iter().flat_map(|ev| tags.map(ev)).collect(),
                    None => decoded,
                };
                join(decoded.iter().flat_map(|ev| t.encoder.encode(ev)).map(|f| f.to_bytes()))
            }
        };
        if !out.is_empty() {
            return out;
        }
    }
}

fn fail(t: &mut Translation, e: RelayError) -> Bytes {
    t.ended = true;
    t.meter.failed(&e);
    t.meter.finish();
    join(t.encoder.fail(&e.public_message()).iter().map(|f| f.to_bytes()))
}

fn join(parts: impl Iterator<Item = Bytes>) -> Bytes {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&p);
    }
    Bytes::from(out)
}

/// How often a client waiting on a non-streaming upstream hears that the stream is alive.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// A whole answer delivered as a stream (a channel with `stream_support: NON_STREAM_ONLY` serving a streaming
/// client): SSE comments every few seconds while the upstream works, then the answer as the client's stream.
/// The metering of a request answered whole, and its answer.
pub type WholeAnswer = (Metering, Result<Reply, RelayError>);

pub fn reply_as_stream(
    work: impl Future<Output = WholeAnswer> + Send + 'static,
    encoder: Box<dyn StreamEncoder>,
) -> Response {
    let work: Pin<Box<dyn Future<Output = WholeAnswer> + Send>> = Box::pin(work);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let state = Some((work, encoder, heartbeat));
    let frames = futures::stream::unfold(state, move |state| async move {
        let (mut work, mut encoder, mut heartbeat) = state?;
        tokio::select! {
            _ = heartbeat.tick() => {
                let bytes = Bytes::from_static(b": WAITING FOR UPSTREAM\n\n");
                Some((Ok::<Bytes, Infallible>(bytes), Some((work, encoder, heartbeat))))
            }
            (mut meter, answer) = &mut work => {
                let frames = match answer {
                    Ok(reply) => {
                        if meter.records_answer() {
                            meter.answer_text(&reply.text());
                        }
                        meter.first_byte();
                        meter.answered(Some(reply.usage), reply.says_something());
                        meter.finish();
                        let mut frames: Vec<_> = reply_events(&reply).iter().flat_map(|ev| encoder.encode(ev)).collect();
                        frames.extend(encoder.finish());
                        frames
                    }
                    Err(e) => {
                        meter.failed(&e);
                        meter.finish();
                        encoder.fail(&e.public_message())
                    }
                };
                Some((Ok(join(frames.iter().map(|f| f.to_bytes()))), None))
            }
        }
    });
    super::sse::event_stream(Body::from_stream(super::request_id::InRequestSpan::new(frames)))
}

/// A whole answer read into the shared reply, with usage counted here when the upstream reported none and the
/// channel's `thinking_to_content` applied.
pub fn whole_reply(
    wire: Format,
    body: &[u8],
    model: &str,
    request: &chat::Request,
    think_tags: bool,
) -> Result<Reply, RelayError> {
    let mut reply = providers::parse_reply(wire, body, model)?;
    if reply.usage == Usage::default() {
        reply.usage = Usage {
            input: tokenizer::count_request(request),
            output: tokenizer::count_reply(&reply),
            ..Usage::default()
        };
    }
    if think_tags {
        think_tags::reply(&mut reply);
    }
    Ok(reply)
}

/// A whole reply as the events a stream of it would carry.
fn reply_events(reply: &Reply) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start { id: reply.id.clone(), model: reply.model.clone() }];
    let mut tool_index = 0;
    for part in &reply.parts {
        match part {
            chat::Part::Text(t) => events.push(StreamEvent::Text(t.clone())),
            chat::Part::Thinking { text, signature } => {
                events.push(StreamEvent::Thinking(text.clone()));
                if let Some(s) = signature {
                    events.push(StreamEvent::ThinkingSignature(s.clone()));
                }
            }
            chat::Part::ToolCall(c) => {
                events.push(StreamEvent::ToolCallStart { index: tool_index, id: c.id.clone(), name: c.name.clone() });
                events.push(StreamEvent::ToolCallArguments { index: tool_index, fragment: c.arguments.clone() });
                tool_index += 1;
            }
            chat::Part::Image(_) | chat::Part::ToolResult(_) | chat::Part::RedactedThinking(_) => {}
        }
    }
    events.push(StreamEvent::Usage(reply.usage));
    events.push(StreamEvent::Finish(reply.finish));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::cache::CallerEntry;
    use crate::control::outbox::Outbox;
    use crate::usage::RequestFacts;
    use veloera_proto::v1::{Caller, EndpointKind, Pricing};

    #[tokio::test(start_paused = true)]
    async fn a_slow_whole_answer_is_preceded_by_heartbeats_and_a_failure_ends_with_an_error_event() {
        let (outbox, _records) = Outbox::channel();
        let facts = RequestFacts {
            request_id: "r",
            model: "m",
            client_ip: "127.0.0.1",
            endpoint: EndpointKind::ChatCompletions,
            stream: true,
        };
        let meter = Metering::start(outbox, Arc::new(CallerEntry::new(Caller::default())), Pricing::default(), facts);
        // The upstream takes 12 s and then fails.
        let work = async move {
            tokio::time::sleep(std::time::Duration::from_secs(12)).await;
            (meter, Err::<Reply, _>(RelayError::UpstreamFailed("boom".into())))
        };
        let encoder = providers::encoder(Format::OpenAi, "m", false);
        let response = reply_as_stream(work, encoder);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches(": WAITING FOR UPSTREAM").count(), 2, "{text}");
        assert!(text.ends_with("\n\n") && text.contains("\"error\""), "{text}");
        assert!(!text.contains("[DONE]"), "a failure is never a normal finish: {text}");
    }
}
