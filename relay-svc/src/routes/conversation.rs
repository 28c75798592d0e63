//! The steps every chat route shares: admit the request (authorize from cache when warm, start metering),
//! then call its channels (failing over between them) each in its own format, and answer in the client's.

use std::sync::Arc;

use axum::response::Response;
use veloera_proto::v1::{DenialReason, EndpointKind};

use super::RelayState;
use super::request_id::RequestId;
use super::translate::{self, Delivery};
use crate::auth::PresentedKey;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;
use crate::failover::{Detached, Failover};
use crate::guard::AnswerCheck;
use crate::providers::{self, Format, Target, chat};
use crate::usage::{self, CostHint, Metering, RequestFacts};

/// An authorized request with its candidates and its metering started.
pub struct Admitted {
    pub auth: Authorized,
    pub meter: Metering,
    /// Reads the answer for blocked words, when answers are checked for this caller.
    pub answers: Option<AnswerCheck>,
}

/// What the request is, for authorization and its usage record.
pub struct Asking<'a> {
    pub key: &'a PresentedKey,
    pub model: &'a str,
    pub client_ip: &'a str,
    pub endpoint: EndpointKind,
    pub request_id: &'a RequestId,
    pub stream: bool,
    /// For the quota reserved before the upstream call.
    pub cost: CostHint,
    /// The client's body, for the blocked-word check and content logging (empty when it carries no prompt text).
    pub body: &'a [u8],
}

pub async fn admit(state: &RelayState, asking: Asking<'_>) -> Result<Admitted, RelayError> {
    let ask = Ask {
        digest: asking.key.digest,
        model: asking.model,
        client_ip: asking.client_ip,
        endpoint: asking.endpoint,
        pinned_channel: asking.key.pinned_channel,
    };
    let auth = state.link.authorize(&ask).await?;
    let (false, Some(pricing)) = (auth.candidates().is_empty(), auth.pricing()) else {
        return Err(RelayError::Denied {
            reason: DenialReason::NoChannel,
            message: format!("no available channel for model {}", asking.model),
        });
    };
    // Before anything is reserved or sent: a refused prompt costs nothing.
    state.link.guard.check_prompt(&auth.caller.caller.group, asking.body, asking.request_id.as_str())?;
    let facts = RequestFacts {
        request_id: asking.request_id.as_str(),
        model: asking.model,
        client_ip: asking.client_ip,
        endpoint: asking.endpoint,
        stream: asking.stream,
    };
    // Rate limits come before quota: a refused request reserves nothing and is not billed.
    let limited = if state.limiter.applies(&auth.caller.caller) {
        state.limiter.admit(&auth.caller.caller, asking.model).await?
    } else {
        None
    };
    // The estimate is reserved before anything is sent; a request the balance cannot cover goes no further.
    let reservation = state.link.leases.reserve(&auth.caller.caller, usage::estimate(pricing, asking.cost)).await?;
    let mut meter = Metering::start(state.outbox.clone(), auth.caller.clone(), *pricing, facts);
    if let Some(recording) = state.link.content.record(asking.body) {
        meter.record_content(recording);
    }
    meter.reserved(reservation);
    if let Some(admission) = limited {
        meter.limited(admission);
    }
    meter.expect(asking.cost);
    let answers = state.link.guard.answer_check(&auth.caller.caller.group, asking.request_id.as_str());
    Ok(Admitted { auth, meter, answers })
}

/// `request` as `target` gets it: the channel's system prompt first, the model's convenience suffix applied.
/// Returns it with the model name to send upstream.
fn for_target(request: &chat::Request, target: &Target<'_>) -> (chat::Request, String) {
    let mut request = request.clone();
    if !target.system_prompt.is_empty() {
        // The channel's prompt goes first (joined to the client's with a blank line, as Veloera merges them).
        request.system.insert(0, target.system_prompt.clone());
    }
    let (upstream_model, adjust) = providers::model_suffix::parse(Format::of_candidate(target), &target.upstream_model);
    adjust.apply(&mut request);
    (request, upstream_model)
}

/// Whether `target` gets the client's own body (same format, nothing to rewrite in the answer).
fn passes_through(target: &Target<'_>, client: Format) -> bool {
    // Vertex AI takes its own body shapes, so it is always written through the adaptors.
    Format::of_candidate(target) == client
        && !target.thinking_to_content
        && !target.force_format
        && target.channel_type != providers::vertex::CHANNEL_TYPE
}

/// Calls the admitted request's channels (failing over between them) with `request` and answers in `client`'s
/// format: passed through when the channel speaks the client's format (`raw` is the client's body), converted
/// otherwise. `include_usage` is OpenAI's `stream_options.include_usage` (other formats always carry usage).
pub async fn converse(
    state: &RelayState,
    admitted: Admitted,
    client: Format,
    request: chat::Request,
    raw: &[u8],
    include_usage: bool,
) -> Result<Response, RelayError> {
    let Admitted { auth, mut meter, answers } = admitted;
    let mut failover = Failover::new(&state.failover, &state.dispatcher, &auth);
    let first = failover.first(&mut meter)?;
    if request.stream && first.non_stream_only {
        let detached = failover.detach(first);
        let admitted = Admitted { auth, meter, answers };
        return Ok(whole_as_stream(state.clone(), admitted, detached, client, request, include_usage));
    }
    let stream = request.stream;
    if stream {
        // A streamed answer stays on channels that can stream.
        failover.skip(|c| c.non_stream_only);
    }
    let mut sent: Option<Arc<chat::Request>> = None;
    let build = |t: &Target<'_>| {
        if passes_through(t, client) {
            sent = Some(Arc::new(request.clone()));
            if client == Format::OpenAi {
                // OpenAI to OpenAI comes here only when the answer must be read (blocked words): the body is
                // sent as the lean chat route sends it.
                return providers::openai::chat_call(t, providers::openai::ChatRequest::parse(raw)?);
            }
            return providers::passthrough_call(t, raw, stream);
        }
        let (adjusted, upstream_model) = for_target(&request, t);
        let call = providers::chat_call(t, &adjusted, &upstream_model);
        sent = Some(Arc::new(adjusted));
        call
    };
    let (upstream, target) = failover.send(first, &mut meter, build).await?;
    let request = sent.unwrap_or_else(|| Arc::new(request.clone()));
    let wire = Format::of_candidate(&target);
    let delivery = if passes_through(&target, client) { Delivery::PassThrough } else { Delivery::Convert };
    if request.stream && upstream.is_event_stream() {
        let decoder = providers::decoder(wire, &target.upstream_model);
        let encoder = providers::encoder(client, &request.model, include_usage);
        let stream = translate::StreamPlan { decoder, encoder, delivery, request: Some(request.clone()), answers };
        return Ok(translate::stream(upstream, meter, stream, target.thinking_to_content));
    }
    let plan = translate::ReplyPlan {
        wire,
        client,
        delivery,
        model: &target.upstream_model,
        request: &request,
        think_tags: target.thinking_to_content,
        answers,
    };
    translate::reply(upstream, meter, plan).await
}

/// A streaming client served by a channel that cannot stream (`stream_support: NON_STREAM_ONLY`): the
/// upstream is called without streaming (failing over as usual) while the client hears heartbeats, then gets
/// the whole answer as its stream.
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
            let wire = Format::of_candidate(&target);
            let reply = translate::whole_reply(wire, &body, &target.upstream_model, &sent, target.thinking_to_content)?;
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

/// An error in the shape `client`'s SDK parses, with the right status.
pub fn error_response(client: Format, error: RelayError) -> Response {
    error.respond_with(providers::error_body(client, &error))
}
