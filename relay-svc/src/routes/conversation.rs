//! The steps every chat route shares: admit the request (authorize from cache when warm, take the first
//! candidate, start metering), then call the channel in its own format and answer in the client's.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use veloera_proto::v1::{DenialReason, EndpointKind};

use super::RelayState;
use super::request_id::RequestId;
use super::translate::{self, Delivery};
use crate::auth::PresentedKey;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;
use crate::providers::{self, Format, chat};
use crate::usage::{Metering, RequestFacts};

/// An authorized request with its channel chosen and its metering started.
pub struct Admitted {
    pub auth: Authorized,
    pub meter: Metering,
}

impl Admitted {
    pub fn candidate(&self) -> &veloera_proto::v1::Candidate {
        // `admit` only returns routes with a candidate.
        &self.auth.candidates()[0]
    }
}

/// What the request is, for authorization and its usage record.
pub struct Asking<'a> {
    pub key: &'a PresentedKey,
    pub model: &'a str,
    pub client_ip: &'a str,
    pub endpoint: EndpointKind,
    pub request_id: &'a RequestId,
    pub stream: bool,
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
    let (Some(candidate), Some(pricing)) = (auth.candidates().first(), auth.pricing()) else {
        return Err(RelayError::Denied {
            reason: DenialReason::NoChannel,
            message: format!("no available channel for model {}", asking.model),
        });
    };
    let facts = RequestFacts {
        request_id: asking.request_id.as_str(),
        model: asking.model,
        client_ip: asking.client_ip,
        endpoint: asking.endpoint,
        stream: asking.stream,
    };
    let mut meter = Metering::start(state.outbox.clone(), auth.caller.clone(), *pricing, facts);
    meter.use_candidate(candidate);
    Ok(Admitted { auth, meter })
}

/// Calls the admitted channel with `request` and answers in `client`'s format: passed through when the channel
/// speaks the client's format (`raw` is the client's body), converted otherwise. `include_usage` is OpenAI's
/// `stream_options.include_usage` (other formats always carry usage).
pub async fn converse(
    state: &RelayState,
    admitted: Admitted,
    client: Format,
    request: chat::Request,
    raw: &[u8],
    include_usage: bool,
) -> Result<Response, RelayError> {
    let Admitted { auth, mut meter } = admitted;
    let candidate = &auth.candidates()[0];
    let wire = Format::of_candidate(candidate);
    let mut request = request;
    if !candidate.system_prompt.is_empty() {
        // The channel's prompt goes first (joined to the client's with a blank line, as Veloera merges them).
        request.system.insert(0, candidate.system_prompt.clone());
    }
    let (upstream_model, adjust) = providers::model_suffix::parse(wire, &candidate.upstream_model);
    adjust.apply(&mut request);
    let request = Arc::new(request);
    if request.stream && candidate.non_stream_only {
        // The channel cannot stream: call it without streaming, stream the whole answer to the client.
        let mut whole = (*request).clone();
        whole.stream = false;
        let call = providers::chat_call(candidate, &whole, &upstream_model)?;
        let dispatcher = state.dispatcher.clone();
        let encoder = providers::encoder(client, &request.model, include_usage);
        let model = candidate.upstream_model.clone();
        return Ok(translate::reply_as_stream(
            async move { dispatcher.send(call).await },
            meter,
            wire,
            encoder,
            model,
            request,
            candidate.thinking_to_content,
        ));
    }
    // Same format: passed through untouched, unless the channel asks for its answers to be rewritten.
    // (Vertex AI takes its own body shapes, so it is always written through the adaptors.)
    let same = wire == client
        && !candidate.thinking_to_content
        && !candidate.force_format
        && candidate.channel_type != providers::vertex::CHANNEL_TYPE;
    let call = if same {
        providers::passthrough_call(candidate, raw, request.stream)?
    } else {
        providers::chat_call(candidate, &request, &upstream_model)?
    };
    let upstream = meter.check(state.dispatcher.send(call).await)?;
    let delivery = if same { Delivery::PassThrough } else { Delivery::Convert };
    if request.stream && upstream.is_event_stream() {
        let decoder = providers::decoder(wire, &candidate.upstream_model);
        let encoder = providers::encoder(client, &request.model, include_usage);
        let stream = translate::StreamPlan { decoder, encoder, delivery, request: Some(request.clone()) };
        return Ok(translate::stream(upstream, meter, stream, candidate.thinking_to_content));
    }
    let plan = translate::ReplyPlan {
        wire,
        client,
        delivery,
        model: &candidate.upstream_model,
        request: &request,
        think_tags: candidate.thinking_to_content,
    };
    translate::reply(upstream, meter, plan).await
}

/// An error in the shape `client`'s SDK parses, with the right status.
pub fn error_response(client: Format, error: RelayError) -> Response {
    let status = error.status();
    if status.is_server_error() {
        tracing::warn!(error = %error, "relay request failed");
    }
    (status, Json(providers::error_body(client, &error))).into_response()
}
