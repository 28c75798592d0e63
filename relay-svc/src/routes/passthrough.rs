//! The OpenAI endpoints other than chat — completions, embeddings, moderations, image generation, speech,
//! rerank, responses — relayed to OpenAI-compatible channels as they are: the model is rewritten to the
//! channel's name for it and everything else passes through; usage is read from the answer when it has any.
//! Binary answers (speech audio) are streamed through without buffering.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use serde_json::value::{RawValue, to_raw_value};
use veloera_proto::v1::EndpointKind;

use super::conversation::{Admitted, Asking, admit};
use super::request_id::RequestId;
use super::translate::{self, Delivery};
use super::{RelayState, read_body};
use crate::auth;
use crate::channel::{Channel, Target};
use crate::dispatch::{Upstream, UpstreamCall};
use crate::error::RelayError;
use crate::failover::Failover;
use crate::providers::openai;
use crate::providers::openai::probe::{UsageDecoder, usage_in};
use crate::providers::{self, Format, channel_settings};
use crate::usage::CostHint;
use crate::usage::Metering;

/// One passed-through endpoint.
pub struct Endpoint {
    /// The upstream path, as under `https://api.openai.com`.
    pub path: &'static str,
    pub kind: EndpointKind,
    /// The model when the client names none (Veloera's defaults).
    pub default_model: Option<&'static str>,
}

pub const COMPLETIONS: Endpoint =
    Endpoint { path: "/v1/completions", kind: EndpointKind::Completions, default_model: None };
pub const EMBEDDINGS: Endpoint =
    Endpoint { path: "/v1/embeddings", kind: EndpointKind::Embeddings, default_model: None };
pub const MODERATIONS: Endpoint = Endpoint {
    path: "/v1/moderations",
    kind: EndpointKind::Moderations,
    default_model: Some("text-moderation-latest"),
};
pub const IMAGES: Endpoint =
    Endpoint { path: "/v1/images/generations", kind: EndpointKind::Images, default_model: Some("dall-e-2") };
pub const SPEECH: Endpoint =
    Endpoint { path: "/v1/audio/speech", kind: EndpointKind::AudioSpeech, default_model: Some("tts-1") };
pub const RERANK: Endpoint = Endpoint { path: "/v1/rerank", kind: EndpointKind::Rerank, default_model: None };
pub const RESPONSES: Endpoint = Endpoint { path: "/v1/responses", kind: EndpointKind::Responses, default_model: None };

/// What the handler knows about the call besides its body.
pub struct Incoming<'a> {
    pub headers: &'a HeaderMap,
    pub client_ip: &'a str,
    pub request_id: &'a RequestId,
    /// A model named in the path (`/v1/engines/{model}/embeddings`), which wins over the body's.
    pub path_model: Option<&'a str>,
}

pub async fn relay(
    state: &RelayState,
    endpoint: &Endpoint,
    incoming: Incoming<'_>,
    body: Body,
) -> Result<Response, RelayError> {
    let key = auth::from_headers(incoming.headers)?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(&bytes)
        .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body (expected an object): {e}")))?;
    let named: Option<String> = match fields.get("model") {
        Some(raw) => Some(
            serde_json::from_str(raw.get()).map_err(|_| RelayError::InvalidRequest("model must be a string".into()))?,
        ),
        None => None,
    };
    let model = incoming
        .path_model
        .map(str::to_string)
        .or(named)
        .filter(|m| !m.trim().is_empty())
        .or(endpoint.default_model.map(str::to_string))
        .ok_or_else(|| RelayError::InvalidRequest("model is required".into()))?;
    let stream = fields.get("stream").is_some_and(|raw| raw.get() == "true");
    let asking = Asking {
        key: &key,
        model: &model,
        client_ip: incoming.client_ip,
        endpoint: endpoint.kind,
        request_id: incoming.request_id,
        stream,
        cost: CostHint::new(bytes.len(), max_output(&fields)).times(copies(&fields)),
        body: &bytes,
    };
    let Admitted { auth, mut meter, .. } = admit(state, asking).await?;
    let mut failover = openai_failover(state, &auth, &mut meter, endpoint.path, &model)?;
    let first = failover.first(&mut meter)?;
    // The parsed body goes to the first attempt; a retry parses the client's body again.
    let mut parsed = Some(fields);
    let build = |t: &Target<'_>| {
        let mut fields = match parsed.take() {
            Some(f) => f,
            None => serde_json::from_slice(&bytes)
                .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body (expected an object): {e}")))?,
        };
        let upstream_model = to_raw_value(&t.channel.upstream_model)
            .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the model: {e}")))?;
        fields.insert("model".into(), upstream_model);
        channel_settings::override_fields(t.channel, &mut fields);
        let body = serde_json::to_vec(&fields)
            .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?;
        let url = openai::endpoint_url(t.channel, endpoint.path);
        UpstreamCall::to_channel(t, url, Vec::new(), body.into())
    };
    let (upstream, _) = failover.send(first, &mut meter, build).await?;
    answer(upstream, meter, &model).await
}

/// The output cap a completions or responses request sets, if any.
fn max_output(fields: &BTreeMap<String, Box<RawValue>>) -> Option<u64> {
    ["max_tokens", "max_output_tokens", "max_completion_tokens"]
        .iter()
        .find_map(|name| fields.get(*name).and_then(|raw| raw.get().parse::<u64>().ok()))
}

/// How many answers the request asks for: completions' `n` and `best_of` (each of the `best_of` is generated
/// and billed upstream), an image request's `n`.
fn copies(fields: &BTreeMap<String, Box<RawValue>>) -> Option<u64> {
    ["n", "best_of"].iter().filter_map(|name| fields.get(*name).and_then(|raw| raw.get().parse::<u64>().ok())).max()
}

/// Failover over the OpenAI-compatible candidates only (these endpoints exist only in OpenAI's format).
pub(super) fn openai_failover<'a>(
    state: &'a RelayState,
    auth: &'a crate::control::Authorized,
    meter: &mut Metering,
    path: &str,
    model: &str,
) -> Result<Failover<'a>, RelayError> {
    let openai = |c: &Channel| c.format == Format::OpenAi;
    if !auth.candidates().iter().any(openai) {
        let err = RelayError::InvalidRequest(format!(
            "{path} needs an OpenAI-compatible channel; model {model} is served by one that is not"
        ));
        meter.rejected(&err);
        return Err(err);
    }
    let mut failover = Failover::new(&state.failover, &state.dispatcher, auth);
    failover.skip(|c| c.format != Format::OpenAi);
    Ok(failover)
}

/// Relays a passed-through call's answer: streams as they come, binary bodies streamed through,
/// JSON bodies read for usage.
pub(super) async fn answer(upstream: Upstream, mut meter: Metering, model: &str) -> Result<Response, RelayError> {
    if upstream.is_event_stream() {
        let encoder = providers::encoder(Format::OpenAi, model, false);
        let how = translate::StreamPlan {
            decoder: Box::new(UsageDecoder::default()),
            encoder,
            delivery: Delivery::PassThrough,
            request: None,
            // Only chat answers are read for blocked words.
            answers: None,
        };
        return Ok(translate::stream(upstream, meter, how, false));
    }
    let content_type = upstream.content_type().unwrap_or(HeaderValue::from_static("application/octet-stream"));
    if !content_type.to_str().is_ok_and(|ct| ct.starts_with("application/json")) {
        // Audio and other binary answers: streamed through; the request is billed by its price per call.
        meter.first_byte();
        meter.answering();
        meter.answered(None, true);
        // The closure owns the metering: a body that breaks off is recorded as failed (and not billed), and the
        // request is finished when the body has gone out whole (the meter drops with the stream).
        let bytes = upstream.into_bytes_stream().map(move |piece| {
            piece.map_err(|e| {
                meter.failed(&e);
                meter.finish();
                std::io::Error::other(e.to_string())
            })
        });
        let mut response = Response::new(Body::from_stream(super::request_id::InRequestSpan::new(bytes)));
        response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
        return Ok(response);
    }
    let body = meter.check(upstream.body().await)?;
    meter.first_byte();
    // Embeddings, images and the like have no empty answer: what they return is what was paid for.
    meter.answered(usage_in(&body), true);
    meter.finish();
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
    Ok(response)
}

/// Routes Veloera answers with 501 (files, fine-tuning, deleting models): an OpenAI-shaped error.
pub async fn not_implemented() -> RelayError {
    RelayError::NotImplemented
}
