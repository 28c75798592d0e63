//! The Google Gemini `generateContent` wire format ⇄ the shared chat representation: for Gemini clients reaching
//! OpenAI or Anthropic channels, and for OpenAI or Anthropic clients reaching Gemini channels. (Gemini to Gemini
//! never comes here; it is passed through.) Also the Gemini channel's URL, auth header and error shapes.
//!
//! Layout: this file holds the wire types shared by both directions plus endpoints and errors; `request` reads and
//! writes request bodies, `reply` whole answers, `stream` the `alt=sse` stream.
//!
//! Gemini has no tool-call ids, so ids are minted here. Within one request they are `call_<n>` in order (unique
//! within the request, which is all a translated request needs). In answers they are `call_<response id>_<n>`:
//! a client replays every earlier turn, and an id repeated across turns would make a later result name the wrong
//! function (and Anthropic refuses duplicate `tool_use` ids).

mod reply;
mod request;
mod stream;

pub use reply::{parse_reply, render_reply};
pub use request::{build_request, candidate_count, parse_request};
pub use stream::{Decoder, Encoder};

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RelayError;
use crate::providers::chat::{self, Finish};

/// One turn (`role` `user` or `model`) or the system instruction (no role).
#[derive(Debug, Default, Deserialize, Serialize)]
struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<WirePart>,
}

/// A content part: exactly one of the data fields, plus the `thought` / `thoughtSignature` modifiers.
///
/// Field names are the REST lowerCamelCase; the snake_case aliases are accepted because Google's own curl examples
/// (and its protobuf JSON parser) use them, so real clients send both.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct WirePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thought: Option<bool>,
    #[serde(default, alias = "thought_signature", skip_serializing_if = "Option::is_none")]
    thought_signature: Option<String>,
    #[serde(default, alias = "inline_data", skip_serializing_if = "Option::is_none")]
    inline_data: Option<Blob>,
    #[serde(default, alias = "file_data", skip_serializing_if = "Option::is_none")]
    file_data: Option<FileData>,
    #[serde(default, alias = "function_call", skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall>,
    #[serde(default, alias = "function_response", skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponse>,
}

impl WirePart {
    fn text(text: String) -> WirePart {
        WirePart { text: Some(text), ..Default::default() }
    }

    fn is_thought(&self) -> bool {
        self.thought == Some(true)
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob {
    #[serde(alias = "mime_type")]
    mime_type: String,
    data: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData {
    /// Optional on the wire: Files API URIs carry their own type.
    #[serde(default, alias = "mime_type", skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[serde(alias = "file_uri")]
    file_uri: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct FunctionCall {
    /// In the schema but rarely populated by the Gemini API; never sent by us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    name: String,
    /// A JSON object; absent means no arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
}

impl FunctionCall {
    /// The arguments as compact JSON text (the shared representation's form).
    fn arguments(&self) -> String {
        match &self.args {
            None | Some(Value::Null) => "{}".to_string(),
            Some(v) => v.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct FunctionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    name: String,
    #[serde(default)]
    response: Value,
}

/// A `GenerateContentResponse`: a whole answer, or one chunk of an `alt=sse` stream.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_id: Option<String>,
    /// Proxies and mid-stream failures put an error object where the answer should be.
    #[serde(default, skip_serializing)]
    error: Option<ErrorDetail>,
}

impl GenerateContentResponse {
    /// The first candidate's finish as ours, or `ContentFilter` for a blocked prompt (a 200 with no candidates).
    fn finish(&self, saw_function_call: bool) -> Option<Finish> {
        match self.candidates.first() {
            Some(c) => c.finish_reason.as_deref().map(|r| finish_from(r, saw_function_call)),
            None => self.prompt_feedback.as_ref()?.block_reason.as_ref().map(|_| Finish::ContentFilter),
        }
    }

    /// A chunk or answer of the model's turn, ready to serialise for a Gemini client.
    fn model_turn(parts: Vec<WirePart>, finish: Option<Finish>, model: &str, id: &str) -> GenerateContentResponse {
        GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(Content { role: Some("model".into()), parts }),
                finish_reason: finish.map(|f| finish_name(f).to_string()),
                index: Some(0),
            }],
            model_version: Some(model.to_string()),
            response_id: Some(id.to_string()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block_reason: Option<String>,
}

/// Gemini's token counts: `promptTokenCount` includes the cached tokens, `candidatesTokenCount` excludes thoughts.
#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    cached_content_token_count: i64,
    #[serde(default)]
    candidates_token_count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    thoughts_token_count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    tool_use_prompt_token_count: i64,
    #[serde(default)]
    total_token_count: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Normalised as wire-formats §6.9: all input, cache hits inside it, all output with reasoning inside it.
impl From<UsageMetadata> for chat::Usage {
    fn from(u: UsageMetadata) -> chat::Usage {
        chat::Usage {
            input: u.prompt_token_count + u.tool_use_prompt_token_count,
            cache_read: u.cached_content_token_count,
            cache_write: 0,
            output: u.candidates_token_count + u.thoughts_token_count,
            reasoning: u.thoughts_token_count,
        }
    }
}

impl From<&chat::Usage> for UsageMetadata {
    fn from(u: &chat::Usage) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: u.input,
            cached_content_token_count: u.cache_read,
            candidates_token_count: (u.output - u.reasoning).max(0),
            thoughts_token_count: u.reasoning,
            tool_use_prompt_token_count: 0,
            total_token_count: u.input + u.output,
        }
    }
}

/// `STOP` means tool calls when the turn made any (Gemini has no finish reason of its own for them).
fn finish_from(reason: &str, saw_function_call: bool) -> Finish {
    match reason {
        "STOP" if saw_function_call => Finish::ToolCalls,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

fn finish_name(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
    }
}

/// Decodes a JSON object into `T`. Serde would also fill a struct from a JSON array, positionally; a Gemini body
/// is always an object, so anything else is refused before it can be misread.
fn from_object<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, String> {
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err("expected a JSON object".into());
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

/// An answer id for upstream answers that carry no `responseId`.
fn mint_response_id() -> String {
    format!("gen-{:016x}", rand::random::<u64>())
}

/// Mints the tool-call ids of one answer: `call_<response id>_<n>`, unique across the turns a client replays.
#[derive(Debug, Default)]
struct CallIds {
    prefix: String,
    next: usize,
}

impl CallIds {
    fn for_response(response_id: &str) -> CallIds {
        let safe: String =
            response_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        CallIds { prefix: format!("call_{safe}_"), next: 0 }
    }

    /// The next call's ordinal and id.
    fn mint(&mut self) -> (usize, String) {
        let n = self.next;
        self.next += 1;
        (n, format!("{}{n}", self.prefix))
    }
}

/// The `error` object of a Gemini error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<ErrorInfo>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorInfo {
    #[serde(default)]
    reason: Option<String>,
}

/// The gRPC status name Google pairs with an HTTP status (wire-formats §5.5).
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        500 | 502 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// The Gemini error body `{"error":{"code","message","status"}}` for a Gemini client.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    serde_json::json!({"error": {"code": status.as_u16(), "message": message, "status": status_name(status)}})
}

/// Turns a Gemini upstream error answer into ours. A bad or unauthorised key (which Gemini reports as a 400 with
/// `API_KEY_INVALID`, or 401/403), and a `FAILED_PRECONDITION` 400 (billing off, region not served), are our
/// channel's problem and become `UpstreamFailed`; other client-side errors are relayed with the upstream's message
/// and `status` name as the code; everything else is a generic upstream failure.
pub fn upstream_error(status: StatusCode, body: &[u8]) -> RelayError {
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorDetail,
    }
    // Without `alt=sse` the streaming endpoint wraps even its errors in an array.
    // The array form goes first: serde would also read an array positionally into the one-field `Envelope`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        Many(Vec<Envelope>),
        One(Envelope),
    }
    let detail = match serde_json::from_slice::<Body>(body) {
        Ok(Body::One(e)) => Some(e.error),
        Ok(Body::Many(v)) => v.into_iter().next().map(|e| e.error),
        Err(_) => None,
    };
    let channel_fault = match status.as_u16() {
        401 | 403 => true,
        400 => detail.as_ref().is_some_and(|d| {
            d.status.as_deref() == Some("FAILED_PRECONDITION")
                || d.details.iter().any(|i| i.reason.as_deref() == Some("API_KEY_INVALID"))
        }),
        _ => false,
    };
    if !channel_fault && matches!(status.as_u16(), 400 | 404 | 413 | 429) {
        let detail = detail.unwrap_or_default();
        RelayError::UpstreamRejected {
            status,
            message: detail.message.unwrap_or_else(|| format!("upstream returned {status}")),
            code: detail.status,
        }
    } else {
        RelayError::UpstreamFailed(format!(
            "Gemini upstream returned {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(512)])
        ))
    }
}

/// The upstream URL for a Gemini channel. A base without a version segment (`…/v1beta`, `…/v1`) gets `/v1beta`;
/// the model is the bare id (a `models/` prefix is dropped, since the path already has one).
pub fn endpoint_url(base_url: &str, model: &str, stream: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let versioned = base.rsplit('/').next().is_some_and(is_version_segment);
    let version = if versioned { "" } else { "/v1beta" };
    let model = model.strip_prefix("models/").unwrap_or(model);
    let action = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
    format!("{base}{version}/models/{model}:{action}")
}

/// `v1`, `v1beta`, `v1alpha`, `v1beta1`, `v2`, …
fn is_version_segment(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else { return false };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return false;
    }
    let suffix = &rest[digits..];
    let tail = suffix.strip_prefix("alpha").or_else(|| suffix.strip_prefix("beta")).unwrap_or(suffix);
    tail.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_a_version_only_when_the_base_has_none() {
        let g = "https://generativelanguage.googleapis.com";
        assert_eq!(
            endpoint_url(g, "gemini-2.5-flash", false),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            endpoint_url(&format!("{g}/v1/"), "gemini-2.5-flash", true),
            "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            endpoint_url("http://proxy/gemini/v1beta", "models/gemini-pro", false),
            "http://proxy/gemini/v1beta/models/gemini-pro:generateContent"
        );
        assert_eq!(
            endpoint_url("http://proxy/vault", "m", false),
            "http://proxy/vault/v1beta/models/m:generateContent"
        );
        for (segment, want) in [("v1", true), ("v1beta", true), ("v1alpha", true), ("v1beta1", true), ("v", false)] {
            assert_eq!(is_version_segment(segment), want, "{segment}");
        }
        assert!(!is_version_segment("vertex") && !is_version_segment("v1x"));
    }

    #[test]
    fn error_bodies_carry_googles_status_names() {
        for (code, name) in [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (413, "INVALID_ARGUMENT"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (502, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ] {
            let body = error_body(StatusCode::from_u16(code).unwrap(), "nope");
            assert_eq!(body, serde_json::json!({"error": {"code": code, "message": "nope", "status": name}}));
        }
    }

    #[test]
    fn an_invalid_channel_key_is_our_failure_not_the_clients() {
        let bad_key = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}"#;
        assert!(matches!(upstream_error(StatusCode::BAD_REQUEST, bad_key), RelayError::UpstreamFailed(_)));
        let denied = br#"{"error":{"code":403,"message":"blocked","status":"PERMISSION_DENIED"}}"#;
        assert!(matches!(upstream_error(StatusCode::FORBIDDEN, denied), RelayError::UpstreamFailed(_)));
        assert!(matches!(upstream_error(StatusCode::UNAUTHORIZED, b""), RelayError::UpstreamFailed(_)));
        let region =
            br#"{"error":{"code":400,"message":"User location is not supported","status":"FAILED_PRECONDITION"}}"#;
        assert!(matches!(upstream_error(StatusCode::BAD_REQUEST, region), RelayError::UpstreamFailed(_)));
    }

    #[test]
    fn client_side_upstream_errors_are_relayed_with_the_status_name() {
        let body = br#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#;
        match upstream_error(StatusCode::TOO_MANY_REQUESTS, body) {
            RelayError::UpstreamRejected { status, message, code } => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
                assert_eq!(message, "Resource has been exhausted");
                assert_eq!(code.as_deref(), Some("RESOURCE_EXHAUSTED"));
            }
            other => panic!("{other:?}"),
        }
        let wrapped = br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#;
        assert!(matches!(
            upstream_error(StatusCode::NOT_FOUND, wrapped),
            RelayError::UpstreamRejected { code: Some(c), .. } if c == "NOT_FOUND"
        ));
        let e = upstream_error(StatusCode::SERVICE_UNAVAILABLE, br#"{"error":{"message":"overloaded at 10.1.2.3"}}"#);
        assert!(matches!(e, RelayError::UpstreamFailed(_)));
        assert!(!e.body().to_string().contains("10.1.2.3"));
    }

    #[test]
    fn usage_is_normalised_both_ways() {
        let u: chat::Usage = UsageMetadata {
            prompt_token_count: 1200,
            cached_content_token_count: 1024,
            candidates_token_count: 22,
            thoughts_token_count: 128,
            tool_use_prompt_token_count: 0,
            total_token_count: 1350,
        }
        .into();
        assert_eq!(u, chat::Usage { input: 1200, cache_read: 1024, cache_write: 0, output: 150, reasoning: 128 });
        let back = UsageMetadata::from(&u);
        assert_eq!((back.candidates_token_count, back.thoughts_token_count, back.total_token_count), (22, 128, 1350));
    }
}
