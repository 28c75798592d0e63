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

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};

use crate::channel::{Credential, Target, UrlStyle, Wire};
use crate::dispatch::UpstreamCall;
use crate::error::RelayError;
use chat::{Reply, StreamDecoder, StreamEncoder};

/// A wire format, spoken by a client or by a channel (a channel's is `Channel::format`, made from its wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
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

/// The chat endpoint of `target`'s channel for `model` (the channel's model without a convenience suffix), by
/// the channel's URL style.
pub fn chat_url(target: &Target<'_>, model: &str, stream: bool) -> Result<String, RelayError> {
    let channel = target.channel;
    Ok(match channel.url {
        UrlStyle::OpenAi | UrlStyle::AzureDeployment | UrlStyle::CustomTemplate => {
            openai::endpoint_url(channel, "/v1/chat/completions")
        }
        UrlStyle::Anthropic => anthropic::endpoint_url(&channel.base_url),
        UrlStyle::Gemini => gemini::endpoint_url(&channel.base_url, model, stream),
        UrlStyle::Vertex => {
            let project = match &target.key.credential {
                Credential::ServiceAccount(account) => account.project_id.as_str(),
                Credential::Unusable(why) => return Err(RelayError::UpstreamFailed(why.clone())),
                _ => {
                    return Err(RelayError::UpstreamFailed(
                        "the Vertex AI channel's key is not a service account".into(),
                    ));
                }
            };
            vertex::url(&channel.base_url, &channel.api_version, project, model, stream)
        }
        UrlStyle::Bedrock => {
            let region = match &target.key.credential {
                Credential::Aws(key) => key.region.as_str(),
                Credential::Unusable(why) => return Err(RelayError::UpstreamFailed(why.clone())),
                _ => return Err(RelayError::UpstreamFailed("the Bedrock channel's key is not AK|SK|region".into())),
            };
            bedrock::url(&channel.base_url, region, model, stream)
        }
    })
}

/// Headers a wire format asks of every call besides the credentials (Anthropic's pinned `anthropic-version`).
pub fn wire_headers(wire: Wire) -> Vec<(HeaderName, HeaderValue)> {
    match wire {
        Wire::Anthropic => vec![anthropic::version_header()],
        Wire::OpenAi | Wire::Gemini | Wire::Vertex | Wire::Bedrock => Vec::new(),
    }
}

/// The call carrying `req` to `target` in its channel's own format, naming `upstream_model` (the channel's
/// model without a convenience suffix, see [`model_suffix`]).
pub fn chat_call(target: &Target<'_>, req: &chat::Request, upstream_model: &str) -> Result<UpstreamCall, RelayError> {
    let channel = target.channel;
    let mut body = match channel.format {
        Format::OpenAi => openai::convert::build_request(req, upstream_model, channel.output_cap)?,
        Format::Anthropic => anthropic::build_request(req, upstream_model)?,
        Format::Gemini => gemini::build_request(req)?,
    };
    if channel.wire == Wire::Vertex && channel.format == Format::Anthropic {
        body = vertex::claude_body(body);
    }
    channel_settings::override_value(channel, &mut body);
    if channel.wire == Wire::Bedrock {
        body = bedrock::body(body);
    }
    let url = chat_url(target, upstream_model, req.stream)?;
    let body = bytes::Bytes::from(body.to_string());
    UpstreamCall::to_channel(target, url, wire_headers(channel.wire), body)
}

/// A same-format call: the client's own JSON, with the model replaced where the body names it (Anthropic;
/// Gemini names it in the URL), so fields we do not model pass through untouched.
pub fn passthrough_call(target: &Target<'_>, body: &[u8], stream: bool) -> Result<UpstreamCall, RelayError> {
    let channel = target.channel;
    let (upstream_model, adjust) = model_suffix::parse(channel.format, &channel.upstream_model);
    let body = match channel.format {
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
            channel_settings::prepend_anthropic_system(channel, &mut fields)?;
            channel_settings::override_fields(channel, &mut fields);
            if channel.wire == Wire::Bedrock {
                let body = serde_json::to_value(&fields)
                    .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?;
                bedrock::body(body).to_string().into()
            } else {
                serde_json::to_vec(&fields)
                    .map_err(|e| RelayError::InvalidRequest(format!("cannot encode the request: {e}")))?
                    .into()
            }
        }
        Format::Gemini => {
            let untouched = channel.system_prompt.is_empty()
                && channel.param_override.is_empty()
                && adjust == model_suffix::Adjust::None;
            if untouched {
                bytes::Bytes::copy_from_slice(body)
            } else {
                let mut v: Value = serde_json::from_slice(body)
                    .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body: {e}")))?;
                model_suffix::apply_gemini_raw(adjust, &mut v);
                channel_settings::prepend_gemini_system(channel, &mut v);
                channel_settings::override_value(channel, &mut v);
                bytes::Bytes::from(v.to_string())
            }
        }
        Format::OpenAi => {
            return Err(RelayError::UpstreamFailed("OpenAI pass-through goes through the chat route".into()));
        }
    };
    let url = chat_url(target, &upstream_model, stream)?;
    UpstreamCall::to_channel(target, url, wire_headers(channel.wire), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::testing::{candidate_of_row, channel, target};
    use veloera_admin_types::channel_types::{Auth, ChannelType, UNKNOWN};

    fn hello() -> chat::Request {
        chat::Request {
            model: "m".into(),
            messages: vec![chat::Message { role: chat::Role::User, parts: vec![chat::Part::Text("hi".into())] }],
            ..chat::Request::default()
        }
    }

    /// A new OpenAI-compatible vendor is one row of control's table: what the row says reaches the call.
    #[test]
    fn a_vendor_whose_row_names_an_api_key_header_gets_the_key_in_it() {
        let row = ChannelType {
            id: 990,
            name: "Foo AI",
            default_base_url: "https://api.foo.example",
            auth: Auth::Header("x-foo"),
            ..UNKNOWN
        };
        let c = channel(candidate_of_row(&row));
        let call = chat_call(&target(&c), &hello(), "foo-1").unwrap();
        assert_eq!(call.url, "https://api.foo.example/v1/chat/completions");
        let (_, key) = call.headers.iter().find(|(name, _)| name == "x-foo").unwrap();
        assert_eq!(key, "sk-up");
        assert!(key.is_sensitive());
        assert!(call.headers.iter().all(|(name, _)| name != http::header::AUTHORIZATION));
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["model"], "foo-1");
    }

    #[test]
    fn anthropic_calls_carry_the_key_header_then_the_pinned_version() {
        let c = channel(crate::channel::testing::candidate_of_type(14));
        let call = chat_call(&target(&c), &hello(), "claude-sonnet-4-5").unwrap();
        assert_eq!(call.url, "https://api.anthropic.com/v1/messages");
        let names: Vec<&str> = call.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-api-key", "anthropic-version"]);
        assert!(call.headers[0].1.is_sensitive());
    }
}
