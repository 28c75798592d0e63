//! Adaptors: pure translators between the wire formats (OpenAI, Anthropic, Gemini) and the shared chat
//! representation in [`chat`]. No I/O here; `dispatch` does the transport. This module picks the adaptor for
//! a channel's format or a client's.

pub mod anthropic;
pub mod bedrock;
pub mod channel_settings;
pub mod chat;
#[cfg(test)]
mod conformance;
pub mod gemini;
pub mod model_suffix;
pub mod openai;
pub mod think_tags;
pub mod vertex;

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};
use veloera_proto::v1::{Candidate, ChannelKey};

use crate::error::RelayError;
use chat::{Reply, StreamDecoder, StreamEncoder};
use openai::UpstreamCall;
use openai::convert::OutputCap;

/// One attempt's destination: a candidate channel and the key picked for this attempt. Reads as its candidate.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub channel: &'a Candidate,
    pub key: &'a ChannelKey,
}

impl std::ops::Deref for Target<'_> {
    type Target = Candidate;

    fn deref(&self) -> &Candidate {
        self.channel
    }
}

impl Target<'_> {
    pub fn api_key(&self) -> &str {
        &self.key.key
    }
}

/// `candidate` with the key `sk-up`, for adaptor tests.
#[cfg(test)]
pub(crate) fn test_target(candidate: &Candidate) -> Target<'_> {
    static KEY: std::sync::LazyLock<ChannelKey> =
        std::sync::LazyLock::new(|| ChannelKey { slot: 0, key: "sk-up".into() });
    Target { channel: candidate, key: &KEY }
}

/// A wire format, spoken by a client or by a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
}

/// Veloera's channel types (reference §2.2) with their own wire formats; every other supported type speaks OpenAI's.
const ANTHROPIC_CHANNEL: i32 = 14;
const GEMINI_CHANNEL: i32 = 24;
const OPENAI_CHANNEL: i32 = 1;

impl Format {
    /// The format a candidate speaks: its channel type's, or for Vertex AI, its model's publisher's.
    pub fn of_candidate(candidate: &Candidate) -> Format {
        if candidate.channel_type == vertex::CHANNEL_TYPE {
            return if vertex::is_claude(&candidate.upstream_model) { Format::Anthropic } else { Format::Gemini };
        }
        Format::of_channel(candidate.channel_type)
    }

    pub fn of_channel(channel_type: i32) -> Format {
        match channel_type {
            ANTHROPIC_CHANNEL | bedrock::CHANNEL_TYPE => Format::Anthropic,
            GEMINI_CHANNEL => Format::Gemini,
            _ => Format::OpenAi,
        }
    }
}

/// An upstream's error answer in `wire`'s shape → our error.
pub fn upstream_error(wire: Format, status: StatusCode, body: &[u8]) -> RelayError {
    match wire {
        Format::OpenAi => openai::upstream_error(status, body),
        Format::Anthropic => anthropic::upstream_error(status, body),
        Format::Gemini => gemini::upstream_error(status, body),
    }
}

/// A whole upstream answer in `wire`'s shape → the shared reply (`model` names it when the body does not).
pub fn parse_reply(wire: Format, body: &[u8], model: &str) -> Result<Reply, RelayError> {
    let mut reply = match wire {
        Format::OpenAi => openai::convert::parse_reply(body)?,
        Format::Anthropic => anthropic::parse_reply(body)?,
        Format::Gemini => gemini::parse_reply(body, model)?,
    };
    if reply.model.is_empty() {
        reply.model = model.to_string();
    }
    Ok(reply)
}

/// The shared reply in the client's format.
pub fn render_reply(client: Format, reply: &Reply) -> Value {
    match client {
        Format::OpenAi => openai::convert::render_reply(reply),
        Format::Anthropic => anthropic::render_reply(reply),
        Format::Gemini => gemini::render_reply(reply),
    }
}

/// Reads `wire`'s stream.
pub fn decoder(wire: Format, model: &str) -> Box<dyn StreamDecoder> {
    match wire {
        Format::OpenAi => Box::new(openai::convert::Decoder::default()),
        Format::Anthropic => Box::new(anthropic::Decoder::default()),
        Format::Gemini => Box::new(gemini::Decoder::new(model)),
    }
}

/// Writes the client's stream; `include_usage` is OpenAI's `stream_options.include_usage`.
pub fn encoder(client: Format, model: &str, include_usage: bool) -> Box<dyn StreamEncoder> {
    match client {
        Format::OpenAi => Box::new(openai::convert::Encoder::new(model, include_usage)),
        Format::Anthropic => Box::new(anthropic::Encoder::new(model)),
        Format::Gemini => Box::new(gemini::Encoder::new(model)),
    }
}

/// The error body a client of `client`'s format expects.
pub fn error_body(client: Format, error: &RelayError) -> Value {
    match client {
        Format::OpenAi => error.body(),
        Format::Anthropic => anthropic::error_body(error.status(), &error.public_message()),
        Format::Gemini => gemini::error_body(error.status(), &error.public_message()),
    }
}

/// The call carrying `req` to `candidate` in the candidate's own format, naming `upstream_model` (the channel's
/// model without a convenience suffix, see [`model_suffix`]).
pub fn chat_call(
    candidate: &Target<'_>,
    req: &chat::Request,
    upstream_model: &str,
) -> Result<UpstreamCall, RelayError> {
    let wire = Format::of_candidate(candidate);
    let encode = |mut v: Value| {
        channel_settings::override_value(candidate, &mut v);
        Ok::<_, RelayError>(bytes::Bytes::from(v.to_string()))
    };
    let (url, headers, body) = match wire {
        Format::OpenAi => {
            // OpenAI's own API wants `max_completion_tokens` (reasoning models refuse `max_tokens`); most other
            // OpenAI-compatible vendors know only `max_tokens`.
            let cap = if candidate.channel_type == OPENAI_CHANNEL {
                OutputCap::MaxCompletionTokens
            } else {
                OutputCap::MaxTokens
            };
            let body = openai::convert::build_request(req, upstream_model, cap)?;
            (openai::endpoint_url(candidate, "/v1/chat/completions"), openai::auth_headers(candidate)?, encode(body)?)
        }
        Format::Anthropic | Format::Gemini if candidate.channel_type == vertex::CHANNEL_TYPE => {
            let account = vertex::ServiceAccount::parse(candidate.api_key())?;
            let mut body = match wire {
                Format::Anthropic => vertex::claude_body(anthropic::build_request(req, upstream_model)?),
                _ => gemini::build_request(req)?,
            };
            channel_settings::override_value(candidate, &mut body);
            let url = vertex::url(
                &candidate.base_url,
                &candidate.api_version,
                &account.project_id,
                upstream_model,
                req.stream,
            );
            let headers = vec![(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"))];
            let body = bytes::Bytes::from(body.to_string());
            let mut call = UpstreamCall::to_channel(candidate, wire, url, headers, body);
            call.google_account = Some(account);
            return Ok(call);
        }
        Format::Anthropic if candidate.channel_type == bedrock::CHANNEL_TYPE => {
            let mut body = anthropic::build_request(req, upstream_model)?;
            channel_settings::override_value(candidate, &mut body);
            let now = std::time::SystemTime::now();
            bedrock::call(&candidate.base_url, candidate.api_key(), upstream_model, body, req.stream, now)?
        }
        Format::Anthropic => (
            anthropic::endpoint_url(&candidate.base_url),
            anthropic::auth_headers(candidate.api_key())?,
            encode(anthropic::build_request(req, upstream_model)?)?,
        ),
        Format::Gemini => (
            gemini::endpoint_url(&candidate.base_url, upstream_model, req.stream),
            gemini::auth_headers(candidate.api_key())?,
            encode(gemini::build_request(req)?)?,
        ),
    };
    Ok(UpstreamCall::to_channel(candidate, wire, url, headers, body))
}

/// A same-format call: the client's own JSON, with the model replaced where the body names it (Anthropic;
/// Gemini names it in the URL), so fields we do not model pass through untouched.
pub fn passthrough_call(candidate: &Target<'_>, body: &[u8], stream: bool) -> Result<UpstreamCall, RelayError> {
    let wire = Format::of_candidate(candidate);
    let (upstream_model, adjust) = model_suffix::parse(wire, &candidate.upstream_model);
    let (url, headers, body) = match wire {
        Format::Anthropic => {
            let mut fields: BTreeMap<String, Box<RawValue>> = if adjust == model_suffix::Adjust::None {
                serde_json::from_slice(body)
                    .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body: {e}")))?
            } else {
                let mut map: serde_json::Map<String, Value> = serde_json::from_slice(body)
                    .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body: {e}")))?;
                model_suffix::apply_anthropic_raw(adjust, &mut map);
                let text = serde_json::to_string(&map)
                    .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?;
                serde_json::from_str(&text)
                    .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body: {e}")))?
            };
            let model = to_raw_value(&upstream_model)
                .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the model: {e}")))?;
            fields.insert("model".into(), model);
            channel_settings::prepend_anthropic_system(candidate, &mut fields)?;
            channel_settings::override_fields(candidate, &mut fields);
            if candidate.channel_type == bedrock::CHANNEL_TYPE {
                let body = serde_json::to_value(&fields)
                    .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?;
                let now = std::time::SystemTime::now();
                bedrock::call(&candidate.base_url, candidate.api_key(), &upstream_model, body, stream, now)?
            } else {
                let body = serde_json::to_vec(&fields)
                    .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?;
                (
                    anthropic::endpoint_url(&candidate.base_url),
                    anthropic::auth_headers(candidate.api_key())?,
                    body.into(),
                )
            }
        }
        Format::Gemini => {
            let untouched = candidate.system_prompt.is_empty()
                && candidate.param_override.is_empty()
                && adjust == model_suffix::Adjust::None;
            let body = if untouched {
                bytes::Bytes::copy_from_slice(body)
            } else {
                let mut v: Value = serde_json::from_slice(body)
                    .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body: {e}")))?;
                model_suffix::apply_gemini_raw(adjust, &mut v);
                channel_settings::prepend_gemini_system(candidate, &mut v);
                channel_settings::override_value(candidate, &mut v);
                bytes::Bytes::from(v.to_string())
            };
            let url = gemini::endpoint_url(&candidate.base_url, &upstream_model, stream);
            (url, gemini::auth_headers(candidate.api_key())?, body)
        }
        Format::OpenAi => {
            return Err(RelayError::UpstreamFailed("OpenAI pass-through goes through the chat route".into()));
        }
    };
    Ok(UpstreamCall::to_channel(candidate, wire, url, headers, body))
}
