//! The Anthropic Messages wire format ⇄ the shared chat representation: for Anthropic clients (`/v1/messages`)
//! reaching OpenAI or Gemini channels, and for OpenAI or Gemini clients reaching Anthropic channels. (Anthropic to
//! Anthropic never comes here; it is passed through.) Also the Anthropic channel's URL, auth headers and error shapes.
//!
//! Layout: this file holds the wire types shared by both directions plus endpoints and errors; `request` reads and
//! writes request bodies, `reply` whole answers, `stream` the SSE stream.

mod reply;
mod request;
mod stream;

pub use reply::{parse_reply, render_reply};
pub use request::{build_request, parse_request};
pub use stream::{Decoder, Encoder};

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue, StatusCode};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RelayError;
use crate::providers::chat::{self, Finish};

/// The API version every call pins; Anthropic refuses calls without one.
const API_VERSION: &str = "2023-06-01";

/// A content block of a request message, and of a rendered reply (which uses the assistant subset).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        /// A JSON object (OpenAI carries the same arguments as JSON text).
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<TextOr<ResultBlock>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    /// Documents, server-tool blocks, search results and types newer than this code: Anthropic takes them, the
    /// chat shape has no place for them. Only ever read, never written.
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource {
    /// Raw base64, no `data:` prefix.
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
}

/// A block inside a `tool_result`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResultBlock {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    /// Documents and search results: no place for them in the chat shape. Only ever read.
    #[serde(other)]
    Other,
}

/// Anthropic's "a string or an array of blocks" (`system`, message `content`, `tool_result.content`).
///
/// Deserialised by hand rather than `#[serde(untagged)]` so that a bad block keeps serde's precise message
/// ("unknown variant `document`, expected one of …") instead of "did not match any variant".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
enum TextOr<T> {
    Text(String),
    Blocks(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextOrVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for TextOrVisitor<T> {
            type Value = TextOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TextOr<T>, E> {
                Ok(TextOr::Text(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<TextOr<T>, E> {
                Ok(TextOr::Text(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TextOr<T>, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(TextOr::Blocks)
            }
        }
        d.deserialize_any(TextOrVisitor(PhantomData))
    }
}

/// A content block of an upstream answer (whole reply or `content_block_start`). Server-tool blocks and future
/// types are `Other` and skipped: the chat representation has no place for them.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutputBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

/// Token counts as Anthropic reports them; every field optional because stream events carry subsets (or `null`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<i64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<i64>,
    #[serde(default)]
    cache_read_input_tokens: Option<i64>,
    #[serde(default)]
    output_tokens: Option<i64>,
    #[serde(default)]
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
struct OutputDetails {
    #[serde(default)]
    thinking_tokens: Option<i64>,
}

impl WireUsage {
    /// Wire-formats §6.9: Anthropic's `input_tokens` excludes the cache, ours includes it.
    fn normalise(&self) -> chat::Usage {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_write = self.cache_creation_input_tokens.unwrap_or(0);
        chat::Usage {
            input: self.input_tokens.unwrap_or(0) + cache_read + cache_write,
            cache_read,
            cache_write,
            output: self.output_tokens.unwrap_or(0),
            reasoning: self.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
        }
    }

    /// Applies a later report: stream counts are running totals, so present fields replace and are never summed.
    fn update(&mut self, later: &WireUsage) {
        fn take(field: &mut Option<i64>, later: Option<i64>) {
            if later.is_some() {
                *field = later;
            }
        }
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.cache_creation_input_tokens, later.cache_creation_input_tokens);
        take(&mut self.cache_read_input_tokens, later.cache_read_input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        if later.output_tokens_details.is_some() {
            self.output_tokens_details = later.output_tokens_details;
        }
    }
}

/// Usage as an Anthropic client expects it: `input_tokens` without the cache.
#[derive(Debug, Serialize)]
struct UsageOut {
    input_tokens: i64,
    cache_creation_input_tokens: i64,
    cache_read_input_tokens: i64,
    output_tokens: i64,
}

impl From<&chat::Usage> for UsageOut {
    fn from(u: &chat::Usage) -> Self {
        UsageOut {
            input_tokens: (u.input - u.cache_read - u.cache_write).max(0),
            cache_creation_input_tokens: u.cache_write,
            cache_read_input_tokens: u.cache_read,
            output_tokens: u.output,
        }
    }
}

/// The `error` object of an Anthropic error body or `error` stream event.
#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// Wire-formats §6.8; unknown reasons count as a normal stop.
fn finish_of(stop_reason: &str) -> Finish {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

/// The reverse of [`finish_of`]. An answer that called tools reports `tool_use` even when its source said "stop"
/// (Gemini always does, some OpenAI-compatible servers too): Anthropic clients run tools only on `tool_use`.
fn stop_reason_of(finish: Finish, called_tools: bool) -> &'static str {
    match finish {
        Finish::Stop if called_tools => "tool_use",
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

/// Tool input as the chat shape's arguments text: compact JSON, `{}` when the block carried none.
fn arguments_text(input: &Value) -> String {
    if input.is_null() { "{}".to_string() } else { input.to_string() }
}

/// Tool arguments as the `input` object an Anthropic client expects. Arguments a model got wrong (not a JSON
/// object) have no faithful object form; they become `{}` rather than failing the whole answer.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::Object(Default::default()),
    }
}

/// The `msg_…` id an Anthropic client sees: kept when it already is one, else prefixed; minted when missing.
fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else if !id.is_empty() {
        format!("msg_{id}")
    } else {
        // Unique enough to tell answers apart in client logs; nothing looks these ids up.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        format!("msg_{nanos:016x}{:04x}", NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff)
    }
}

/// The error body an Anthropic client expects, typed by status as in wire-formats §4.4.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    serde_json::json!({ "type": "error", "error": { "type": error_type(status), "message": message } })
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        s if s >= 500 => "api_error",
        // Anthropic uses invalid_request_error for 400 and every 4xx without a type of its own.
        _ => "invalid_request_error",
    }
}

/// Turns an Anthropic error answer into ours: errors the client can act on (400, 404, 413, 422, 429) keep their
/// status, message and `error.type`; everything else, 401/403 included (our channel key's problem, not the
/// client's), becomes an upstream failure whose details go to the log only.
pub fn upstream_error(status: StatusCode, body: &[u8]) -> RelayError {
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorDetail,
    }
    let detail = serde_json::from_slice::<Envelope>(body).ok().map(|e| e.error);
    if matches!(status.as_u16(), 400 | 404 | 413 | 422 | 429) {
        let (message, code) = match detail {
            Some(d) => (d.message, Some(d.kind).filter(|k| !k.is_empty())),
            None => (String::new(), None),
        };
        let message = if message.is_empty() { format!("upstream returned {status}") } else { message };
        RelayError::UpstreamRejected { status, message, code }
    } else {
        let detail = match detail {
            Some(d) => format!("{}: {}", d.kind, d.message),
            None => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        };
        RelayError::UpstreamFailed(format!("upstream returned {status}: {detail}"))
    }
}

/// The Messages endpoint of an Anthropic channel; a base that already names the API version gets only the path.
pub fn endpoint_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") { format!("{base}/messages") } else { format!("{base}/v1/messages") }
}

/// The pinned `anthropic-version` every call to Anthropic's API carries (the key's `x-api-key` is the channel
/// type's auth style, written by `dispatch::auth`).
pub fn version_header() -> (HeaderName, HeaderValue) {
    (HeaderName::from_static("anthropic-version"), HeaderValue::from_static(API_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_messages_path_once() {
        assert_eq!(endpoint_url("https://api.anthropic.com"), "https://api.anthropic.com/v1/messages");
        assert_eq!(endpoint_url("https://api.anthropic.com/"), "https://api.anthropic.com/v1/messages");
        assert_eq!(endpoint_url("https://proxy.example/anthropic/v1/"), "https://proxy.example/anthropic/v1/messages");
    }

    #[test]
    fn calls_pin_the_api_version() {
        assert_eq!(
            version_header(),
            (HeaderName::from_static("anthropic-version"), HeaderValue::from_static("2023-06-01"))
        );
    }

    #[test]
    fn error_bodies_are_typed_by_status() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ] {
            let body = error_body(StatusCode::from_u16(status).unwrap(), "boom");
            assert_eq!(body, serde_json::json!({"type": "error", "error": {"type": kind, "message": "boom"}}));
        }
    }

    #[test]
    fn client_errors_from_upstream_keep_status_message_and_type() {
        let body = include_bytes!("../../../tests/fixtures/anthropic/error.json");
        match upstream_error(StatusCode::BAD_REQUEST, body) {
            RelayError::UpstreamRejected { status, message, code } => {
                assert_eq!(status, StatusCode::BAD_REQUEST);
                assert_eq!(message, "prompt is too long: 210266 tokens > 200000 maximum");
                assert_eq!(code.as_deref(), Some("invalid_request_error"));
            }
            other => panic!("{other:?}"),
        }
        let e = upstream_error(StatusCode::TOO_MANY_REQUESTS, b"<html>slow down</html>");
        assert!(matches!(e, RelayError::UpstreamRejected { code: None, ref message, .. } if message.contains("429")));
    }

    #[test]
    fn key_and_server_problems_upstream_are_not_shown_to_clients() {
        for status in [401, 403, 500, 529] {
            let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret"}}"#;
            let e = upstream_error(StatusCode::from_u16(status).unwrap(), body);
            assert!(matches!(e, RelayError::UpstreamFailed(_)), "{status}: {e:?}");
            assert!(!e.body().to_string().contains("sk-ant-secret"));
        }
    }

    #[test]
    fn usage_counts_the_cache_as_input_and_round_trips() {
        let wire: WireUsage = serde_json::from_str(
            r#"{"input_tokens":180,"cache_creation_input_tokens":10,"cache_read_input_tokens":1024,"output_tokens":150}"#,
        )
        .unwrap();
        let usage = wire.normalise();
        assert_eq!(usage, chat::Usage { input: 1214, cache_read: 1024, cache_write: 10, output: 150, reasoning: 0 });
        let out = serde_json::to_value(UsageOut::from(&usage)).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"input_tokens":180,"cache_creation_input_tokens":10,"cache_read_input_tokens":1024,"output_tokens":150})
        );
    }

    #[test]
    fn message_ids_get_the_anthropic_prefix() {
        assert_eq!(message_id("msg_01XYZ"), "msg_01XYZ");
        assert_eq!(message_id("chatcmpl-1"), "msg_chatcmpl-1");
        let (a, b) = (message_id(""), message_id(""));
        assert!(a.starts_with("msg_") && a.len() > 4 && a != b);
    }
}
