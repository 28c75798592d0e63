//! The one answer pipeline every chat route (OpenAI, Anthropic, Gemini) ends in: one `Failover` per request,
//! and per attempt one decision ([`Path::of`]) of how the answer is delivered — lean pass-through of OpenAI
//! chat, pass-through of the client's own format, converted, or a whole answer delivered as a stream. The
//! answer's end (usage, empty answer, success or failure) is recorded by `Metering::answered` / `failed` in
//! whichever delivery runs; adaptors only report what they saw.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use super::RelayState;
use super::conversation::Admitted;
use super::sse;
use super::translate::{self, Delivery};
use crate::channel::{Channel, Target, Wire};
use crate::dispatch::{Upstream, UpstreamCall};
use crate::error::RelayError;
use crate::failover::{Detached, Failover};
use crate::providers::openai::{self, ChatRequest, convert};
use crate::providers::{self, Format, chat};
use crate::usage::Metering;

/// How one attempt's answer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// OpenAI chat on an OpenAI channel with nothing to rewrite: the client's body with the model rewritten,
    /// the answer relayed as it comes (the hot path the perf guard watches).
    Lean,
    /// The channel speaks the client's format: the client's body goes as it came; the answer is read only
    /// for usage, completion and (when answers are checked) blocked words.
    PassThrough,
    /// Converted through the shared chat representation, both ways.
    Convert,
    /// A streaming client on a channel that cannot stream: asked without streaming, answered whole as a stream.
    WholeAsStream,
}

impl Path {
    /// The delivery for `channel` serving a `client` request (`stream`ing or not); `reads_answer` when the
    /// answer must be read as it passes (blocked words), which takes OpenAI chat off its lean path.
    pub fn of(channel: &Channel, client: Format, stream: bool, reads_answer: bool) -> Path {
        if stream && channel.non_stream_only {
            return Path::WholeAsStream;
        }
        // Vertex AI takes its own body shapes, so it is always written through the adaptors.
        let same = channel.format == client
            && !channel.thinking_to_content
            && !channel.force_format
            && channel.wire != Wire::Vertex;
        match (same, client) {
            (true, Format::OpenAi) if !reads_answer => Path::Lean,
            (true, _) => Path::PassThrough,
            (false, _) => Path::Convert,
        }
    }
}

/// The client's request in the forms the attempts need: its own bytes always, the lean OpenAI form for an
/// OpenAI client, and the shared chat form, parsed when an attempt first needs it (never on the lean path).
pub struct Asked<'a> {
    pub client: Format,
    pub raw: &'a [u8],
    pub stream: bool,
    /// OpenAI's `stream_options.include_usage` (other formats always carry usage).
    pub include_usage: bool,
    lean: Option<ChatRequest>,
    shared: Option<chat::Request>,
}

impl<'a> Asked<'a> {
    /// An OpenAI chat request, already parsed in its lean form.
    pub fn openai(raw: &'a [u8], request: ChatRequest) -> Self {
        let (stream, include_usage) = (request.is_stream(), request.client_wants_usage());
        Asked { client: Format::OpenAi, raw, stream, include_usage, lean: Some(request), shared: None }
    }

    /// A request of another format, parsed into the shared form.
    pub fn shared(client: Format, raw: &'a [u8], request: chat::Request) -> Self {
        Asked { client, raw, stream: request.stream, include_usage: false, lean: None, shared: Some(request) }
    }

    /// The shared form, parsed from the client's body the first time it is needed.
    fn shared_form(&mut self) -> Result<&chat::Request, RelayError> {
        if self.shared.is_none() {
            self.shared = Some(convert::parse_request(self.raw)?);
        }
        self.shared.as_ref().ok_or_else(|| RelayError::InvalidRequest("the request could not be read".into()))
    }

    /// The lean form for one attempt: the parsed request for the first, the body parsed again for a retry
    /// (rare, and cheaper than copying every request up front).
    fn lean_form(&mut self) -> Result<ChatRequest, RelayError> {
        match self.lean.take() {
            Some(r) => Ok(r),
            None => ChatRequest::parse(self.raw),
        }
    }
}

/// Calls the admitted request's channels (one failover, however the answer is delivered) and answers in the
/// client's format.
pub async fn answer(state: &RelayState, admitted: Admitted, mut asked: Asked<'_>) -> Result<Response, RelayError> {
    let Admitted { auth, mut meter, answers } = admitted;
    let reads_answer = answers.is_some();
    let (client, stream) = (asked.client, asked.stream);
    let mut failover = Failover::new(&state.failover, &state.dispatcher, &auth);
    let first = failover.first(&mut meter)?;
    if Path::of(first.channel, client, stream, reads_answer) == Path::WholeAsStream {
        let request = match asked.shared_form() {
            Ok(r) => r.clone(),
            Err(e) => {
                meter.rejected(&e);
                return Err(e);
            }
        };
        let detached = failover.detach(first);
        let admitted = Admitted { auth, meter, answers };
        return Ok(whole_as_stream(state.clone(), admitted, detached, client, request, asked.include_usage));
    }
    if stream {
        // A streamed answer stays on channels that can stream.
        failover.skip(|c| c.non_stream_only);
    }
    let mut sent: Option<Arc<chat::Request>> = None;
    let build = |t: &Target<'_>| -> Result<UpstreamCall, RelayError> {
        match Path::of(t.channel, client, stream, reads_answer) {
            Path::Lean => openai::chat_call(t, asked.lean_form()?),
            // OpenAI to OpenAI passes through only when the answer must be read: the body is sent as the lean
            // path sends it.
            Path::PassThrough if client == Format::OpenAi => openai::chat_call(t, ChatRequest::parse(asked.raw)?),
            Path::PassThrough => {
                sent = asked.shared.as_ref().map(|r| Arc::new(r.clone()));
                providers::passthrough_call(t, asked.raw, stream)
            }
            Path::Convert | Path::WholeAsStream => {
                let (adjusted, upstream_model) = for_target(asked.shared_form()?, t);
                let call = providers::chat_call(t, &adjusted, &upstream_model);
                sent = Some(Arc::new(adjusted));
                call
            }
        }
    };
    let (upstream, target) = failover.send(first, &mut meter, build).await?;
    let path = Path::of(target.channel, client, stream, reads_answer);
    if path == Path::Lean {
        return lean(upstream, meter, stream, asked.include_usage).await;
    }
    let request = match sent {
        Some(r) => r,
        None => Arc::new(asked.shared_form()?.clone()),
    };
    let channel = target.channel;
    let wire = channel.format;
    let delivery = if path == Path::PassThrough { Delivery::PassThrough } else { Delivery::Convert };
    if stream && upstream.is_event_stream() {
        let decoder = providers::decoder(wire, &channel.upstream_model);
        let encoder = providers::encoder(client, &request.model, asked.include_usage);
        let plan = translate::StreamPlan { decoder, encoder, delivery, request: Some(request.clone()), answers };
        return Ok(translate::stream(upstream, meter, plan, channel.thinking_to_content));
    }
    let plan = translate::ReplyPlan {
        wire,
        client,
        delivery,
        model: &channel.upstream_model,
        request: &request,
        think_tags: channel.thinking_to_content,
        answers,
    };
    translate::reply(upstream, meter, plan).await
}

/// The lean OpenAI answer: a stream relayed chunk by chunk, or a whole body passed on as it came.
async fn lean(
    upstream: Upstream,
    mut meter: Metering,
    stream: bool,
    wants_usage: bool,
) -> Result<Response, RelayError> {
    if stream && upstream.is_event_stream() {
        return Ok(sse::relay(upstream, meter, wants_usage));
    }
    let body = meter.check(upstream.body().await)?;
    meter.first_byte();
    let info = openai::reply_info(&body);
    if meter.records_answer() {
        meter.answer_text(&openai::reply_text(&body));
    }
    meter.answered(info.usage.map(Into::into), !info.empty);
    meter.finish();
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `request` as `target` gets it: the channel's system prompt first, the model's convenience suffix applied.
/// Returns it with the model name to send upstream.
fn for_target(request: &chat::Request, target: &Target<'_>) -> (chat::Request, String) {
    let channel = target.channel;
    let mut request = request.clone();
    if !channel.system_prompt.is_empty() {
        // The channel's prompt goes first (joined to the client's with a blank line, as Veloera merges them).
        request.system.insert(0, channel.system_prompt.clone());
    }
    let (upstream_model, adjust) = providers::model_suffix::parse(channel.format, &channel.upstream_model);
    adjust.apply(&mut request);
    (request, upstream_model)
}

/// A streaming client served by a channel that cannot stream (`stream_support: NON_STREAM_ONLY`): the
/// upstream is called without streaming (the request's failover resumed, failing over as usual) while the
/// client hears heartbeats, then gets the whole answer as its stream.
fn whole_as_stream(
    state: RelayState,
    admitted: Admitted,
    failover: Detached,
    client: Format,
    request: chat::Request,
    include_usage: bool,
) -> Response {
    let Admitted { auth, meter, mut answers } = admitted;
    let encoder = providers::encoder(client, &request.model, include_usage);
    let work = async move {
        let mut meter = meter;
        let mut whole = request;
        whole.stream = false;
        let answer = async {
            let (mut failover, first) = Failover::resume(&state.failover, &state.dispatcher, &auth, failover)?;
            let mut sent = None;
            let build = |t: &Target<'_>| {
                let (adjusted, upstream_model) = for_target(&whole, t);
                let call = providers::chat_call(t, &adjusted, &upstream_model);
                sent = Some(adjusted);
                call
            };
            let (upstream, target) = failover.send(first, &mut meter, build).await?;
            let body = upstream.body().await?;
            let sent = sent.unwrap_or_else(|| whole.clone());
            let channel = target.channel;
            let reply = translate::whole_reply(
                channel.format,
                &body,
                &channel.upstream_model,
                &sent,
                channel.thinking_to_content,
            )?;
            if let Some(check) = &mut answers {
                check.feed(&reply.text())?;
            }
            Ok(reply)
        }
        .await;
        (meter, answer)
    };
    translate::reply_as_stream(work, encoder)
}
