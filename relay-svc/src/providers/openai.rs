//! The OpenAI wire format (also spoken by OpenRouter, DeepSeek, Groq, Ollama's OpenAI endpoint, …):
//! builds the upstream call, reads usage from bodies and stream chunks, and turns upstream errors into ours.

use http::StatusCode;
use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Value};

use super::channel_settings;
use crate::channel::{Channel, Target, UrlStyle};
use crate::dispatch::UpstreamCall;
use crate::error::RelayError;

pub mod convert;
pub mod probe;

/// A chat request: the few fields we read or rewrite, decoded; every top-level field kept as the client's raw
/// JSON, so pass-through never drops or re-encodes what we do not touch (the messages are never parsed).
#[derive(Debug)]
pub struct ChatRequest {
    pub model: String,
    stream: bool,
    include_usage: bool,
    fields: BTreeMap<String, Box<RawValue>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn field<'a, T: Deserialize<'a>>(
    fields: &'a BTreeMap<String, Box<RawValue>>,
    name: &str,
    what: &str,
) -> Result<Option<T>, RelayError> {
    fields
        .get(name)
        .map(|raw| serde_json::from_str(raw.get()))
        .transpose()
        .map_err(|_| RelayError::InvalidRequest(format!("{name} must be {what}")))
}

impl ChatRequest {
    /// Parses and validates a client body: a JSON object with a non-empty `model` and a non-empty `messages` array.
    pub fn parse(body: &[u8]) -> Result<Self, RelayError> {
        let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
            .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body (expected an object): {e}")))?;
        let model: String = field(&fields, "model", "a string")?.unwrap_or_default();
        if model.trim().is_empty() {
            return Err(RelayError::InvalidRequest("model is required".into()));
        }
        let stream = field::<Option<bool>>(&fields, "stream", "a boolean")?.flatten().unwrap_or(false);
        let options: Option<StreamOptions> = field(&fields, "stream_options", "an object")?;
        let include_usage = options.and_then(|o| o.include_usage).unwrap_or(false);
        // Counting the elements walks the array without building it.
        match field::<Vec<IgnoredAny>>(&fields, "messages", "an array")? {
            Some(m) if !m.is_empty() => Ok(ChatRequest { model, stream, include_usage, fields }),
            Some(_) => Err(RelayError::InvalidRequest("messages must not be empty".into())),
            None => Err(RelayError::InvalidRequest("messages is required".into())),
        }
    }

    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// The output cap the client set (`max_completion_tokens` or `max_tokens`), if any.
    pub fn max_output(&self) -> Option<u64> {
        ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|name| self.fields.get(*name).and_then(|raw| raw.get().parse::<u64>().ok()))
    }

    /// How many choices the client asked for (`n`), if it said.
    pub fn choices(&self) -> Option<u64> {
        self.fields.get("n").and_then(|raw| raw.get().parse::<u64>().ok())
    }

    /// Whether the client itself asked for the final usage chunk.
    pub fn client_wants_usage(&self) -> bool {
        self.include_usage
    }
}

/// Builds the chat call for `target`: mapped model name, and for streams `stream_options.include_usage`
/// forced on so usage comes from the upstream rather than from guessing.
pub fn chat_call(target: &Target<'_>, req: ChatRequest) -> Result<UpstreamCall, RelayError> {
    let encode = |e: serde_json::Error| RelayError::InvalidRequest(format!("cannot encode request: {e}"));
    let channel = target.channel;
    let mut fields = req.fields;
    let (model, adjust) = super::model_suffix::parse(super::Format::OpenAi, &channel.upstream_model);
    if super::model_suffix::is_reasoning_model(&model) {
        reasoning_model_rewrites(&mut fields).map_err(encode)?;
    }
    fields.insert("model".into(), to_raw_value(&model).map_err(encode)?);
    if let super::model_suffix::Adjust::Effort(effort) = adjust {
        fields.insert("reasoning_effort".into(), to_raw_value(effort.as_str()).map_err(encode)?);
    }
    if req.stream {
        let mut options: StreamOptions =
            fields.get("stream_options").and_then(|raw| serde_json::from_str(raw.get()).ok()).unwrap_or_default();
        options.include_usage = Some(true);
        fields.insert("stream_options".into(), to_raw_value(&options).map_err(encode)?);
    }
    channel_settings::prepend_openai_system(channel, &mut fields)?;
    channel_settings::override_fields(channel, &mut fields);
    let body = serde_json::to_vec(&fields).map_err(encode)?;
    let url = endpoint_url(channel, "/v1/chat/completions");
    UpstreamCall::to_channel(target, url, Vec::new(), body.into())
}

/// What OpenAI's reasoning models (o1, o3, o4, gpt-5) require, as Veloera rewrites it: `max_tokens` becomes
/// `max_completion_tokens` (they refuse the former), and a leading `system` message becomes `developer`.
fn reasoning_model_rewrites(fields: &mut BTreeMap<String, Box<RawValue>>) -> Result<(), serde_json::Error> {
    if let Some(max) = fields.remove("max_tokens") {
        fields.entry("max_completion_tokens".into()).or_insert(max);
    }
    let leading_system =
        fields.get("messages").is_some_and(|m| m.get().trim_start_matches(['[', ' ', '\n']).contains("\"system\""));
    if leading_system {
        let mut messages: Vec<Value> = serde_json::from_str(fields["messages"].get())?;
        if let Some(first) = messages.first_mut().filter(|m| m["role"] == "system") {
            first["role"] = Value::String("developer".into());
        }
        fields.insert("messages".into(), to_raw_value(&messages)?);
    }
    Ok(())
}

/// The URL of `path` (as under `https://api.openai.com`) at an OpenAI-format channel, by its URL style.
pub(crate) fn endpoint_url(channel: &Channel, path: &str) -> String {
    match channel.url {
        UrlStyle::AzureDeployment => {
            // Azure names the deployment (our upstream model) in the path and the API version in the query.
            let base = channel.base_url.trim_end_matches('/');
            let resource = path.trim_start_matches("/v1");
            format!(
                "{base}/openai/deployments/{}{resource}?api-version={}",
                channel.upstream_model, channel.api_version
            )
        }
        UrlStyle::CustomTemplate => channel.base_url.replace("{model}", &channel.upstream_model),
        _ => {
            let base = channel.base_url.trim_end_matches('/');
            // Bases that already carry a version segment (…/v1, …/api/v3, GitHub's …/inference) get only the
            // resource path.
            let versioned = base.ends_with("/v1")
                || base.ends_with("/inference")
                || base.rsplit('/').next().is_some_and(is_version_segment);
            if versioned { format!("{base}{}", path.trim_start_matches("/v1")) } else { format!("{base}{path}") }
        }
    }
}

fn is_version_segment(s: &str) -> bool {
    s.len() >= 2 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Token counts as OpenAI reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: i64,
    #[serde(default)]
    pub completion_tokens: i64,
    #[serde(default, deserialize_with = "cached_tokens")]
    #[serde(rename = "prompt_tokens_details")]
    pub cached_tokens: i64,
}

impl From<Usage> for crate::providers::chat::Usage {
    fn from(u: Usage) -> Self {
        crate::providers::chat::Usage {
            input: u.prompt_tokens,
            output: u.completion_tokens,
            cache_read: u.cached_tokens,
            ..Default::default()
        }
    }
}

fn cached_tokens<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    struct Details {
        #[serde(default)]
        cached_tokens: Option<i64>,
    }
    Ok(Option::<Details>::deserialize(d)?.and_then(|x| x.cached_tokens).unwrap_or(0))
}

#[derive(Deserialize)]
struct UsageProbe<'a> {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default, borrow)]
    choices: Option<Vec<ReplyChoiceProbe<'a>>>,
}

#[derive(Deserialize)]
struct ReplyChoiceProbe<'a> {
    #[serde(default, borrow)]
    message: Option<DeltaProbe<'a>>,
}

/// A whole chat answer's usage, and whether it said anything at all (text, reasoning or tool calls).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplyInfo {
    pub usage: Option<Usage>,
    pub empty: bool,
}

/// Usage from a non-streaming response body.
pub fn usage_from_body(body: &[u8]) -> Option<Usage> {
    reply_info(body).usage
}

/// Usage and emptiness of a non-streaming chat answer (not JSON: no usage, not empty).
pub fn reply_info(body: &[u8]) -> ReplyInfo {
    let Ok(probe) = serde_json::from_slice::<UsageProbe>(body) else { return ReplyInfo::default() };
    let empty = probe
        .choices
        .as_ref()
        .is_some_and(|choices| choices.iter().all(|c| c.message.as_ref().is_none_or(|m| m.said() == 0)));
    ReplyInfo { usage: probe.usage, empty }
}

/// What one SSE `data:` payload of a chat stream means to us.
#[derive(Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    pub usage: Option<Usage>,
    /// The chunk has no choices: it exists only to carry usage (the one we asked for with include_usage).
    pub usage_only: bool,
    pub finished: bool,
    /// Bytes of answer the chunk carries (text, reasoning, tool call arguments), as JSON text: what a client that
    /// hangs up before the usage arrives is billed for.
    pub said_bytes: usize,
    /// The chunk is an error object (`{"error": …}`): the upstream failed mid-answer.
    pub error: bool,
}

#[derive(Deserialize)]
struct ChunkProbe<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<ChoiceProbe<'a>>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChoiceProbe<'a> {
    #[serde(default)]
    finish_reason: Option<&'a str>,
    #[serde(default, borrow)]
    delta: Option<DeltaProbe<'a>>,
}

/// The answer-bearing fields of a message or delta, left unparsed.
#[derive(Deserialize)]
struct DeltaProbe<'a> {
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tool_calls: Option<&'a RawValue>,
}

impl DeltaProbe<'_> {
    /// Bytes said: empty strings, nulls and empty lists count as nothing.
    fn said(&self) -> usize {
        [self.content, self.reasoning_content, self.tool_calls]
            .iter()
            .flatten()
            .map(|raw| raw.get())
            .filter(|v| !matches!(*v, "null" | "\"\"" | "[]"))
            .map(str::len)
            .sum()
    }
}

/// Reads a chunk's usage and finish state; a payload that is not a JSON chunk is an upstream fault.
pub fn inspect_chunk(data: &str) -> Result<ChunkInfo, RelayError> {
    let probe: ChunkProbe = serde_json::from_str(data)
        .map_err(|e| RelayError::UpstreamFailed(format!("malformed stream chunk from upstream: {e}")))?;
    let choices = probe.choices.unwrap_or_default();
    Ok(ChunkInfo {
        usage_only: choices.is_empty() && probe.usage.is_some(),
        finished: choices.iter().any(|c| c.finish_reason.is_some()),
        said_bytes: choices.iter().filter_map(|c| c.delta.as_ref()).map(DeltaProbe::said).sum(),
        usage: probe.usage,
        error: probe.error.is_some_and(|e| e.get() != "null"),
    })
}

/// Message or delta text as content logging reads it: a string, or (from some upstreams) text parts.
#[derive(Deserialize)]
#[serde(untagged)]
enum ContentProbe<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(Vec<TextPartProbe<'a>>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct TextPartProbe<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TextOfProbe<'a> {
    #[serde(default, borrow)]
    content: Option<ContentProbe<'a>>,
}

#[derive(Deserialize)]
struct TextChoiceProbe<'a> {
    #[serde(default, borrow)]
    message: Option<TextOfProbe<'a>>,
    #[serde(default, borrow)]
    delta: Option<TextOfProbe<'a>>,
}

#[derive(Deserialize)]
struct TextProbe<'a> {
    #[serde(default, borrow)]
    choices: Vec<TextChoiceProbe<'a>>,
}

fn text_of_choices(probe: TextProbe<'_>) -> String {
    let mut out = String::new();
    for choice in probe.choices {
        match choice.message.or(choice.delta).and_then(|m| m.content) {
            Some(ContentProbe::Text(t)) => out.push_str(&t),
            Some(ContentProbe::Parts(parts)) => {
                parts.iter().filter_map(|p| p.text.as_deref()).for_each(|t| out.push_str(t))
            }
            Some(ContentProbe::Other(_)) | None => {}
        }
    }
    out
}

/// The answer text of a whole chat reply (its choices' `message.content`); empty when the body is not a reply.
/// Read only for content logging.
pub fn reply_text(body: &[u8]) -> String {
    serde_json::from_slice::<TextProbe>(body).map(text_of_choices).unwrap_or_default()
}

/// The text a stream chunk adds (its choices' `delta.content`); empty for other chunks. Read only for content
/// logging.
pub fn chunk_text(data: &str) -> String {
    serde_json::from_str::<TextProbe>(data).map(text_of_choices).unwrap_or_default()
}

/// Turns an upstream error answer into ours: client-side errors keep their status and message,
/// everything else becomes a generic 502 (the upstream's words go to the log only).
pub fn upstream_error(status: StatusCode, body: &[u8]) -> RelayError {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<Value>,
    }
    let detail = serde_json::from_slice::<Envelope>(body).ok().map(|e| e.error);
    let relayable = matches!(status.as_u16(), 400 | 404 | 413 | 422 | 429);
    if relayable {
        let message =
            detail.as_ref().and_then(|d| d.message.clone()).unwrap_or_else(|| format!("upstream returned {status}"));
        let code = detail.and_then(|d| d.code).map(|c| match c {
            Value::String(s) => s,
            other => other.to_string(),
        });
        RelayError::UpstreamRejected { status, message, code }
    } else {
        RelayError::UpstreamFailed(format!(
            "upstream returned {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(512)])
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::testing::{self, target as test_target};
    use veloera_proto::v1::Candidate;

    /// A channel of Veloera's type `type_id` (its row as control sends it) at `base_url`.
    fn candidate(type_id: i32, base_url: &str) -> Channel {
        let c = testing::candidate_of_type(type_id);
        testing::channel(Candidate { base_url: base_url.into(), upstream_model: "real-model".into(), ..c })
    }

    #[test]
    fn reply_and_chunk_text_read_only_the_answer_content() {
        let body = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""}}],"usage":{"prompt_tokens":1}}"#;
        assert_eq!(reply_text(body), "Hi \"there\"");
        assert_eq!(chunk_text(r#"{"choices":[{"index":0,"delta":{"content":"par"}}]}"#), "par");
        assert_eq!(chunk_text(r#"{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"t"}]}}]}"#), "t");
        assert_eq!(chunk_text(r#"{"choices":[{"index":0,"delta":{"content":null,"tool_calls":[]}}]}"#), "");
        assert_eq!(chunk_text(r#"{"choices":[],"usage":{"prompt_tokens":1}}"#), "");
        assert_eq!(reply_text(b"not json"), "");
    }

    #[test]
    fn chat_call_maps_the_model_and_forces_stream_usage() {
        let req = ChatRequest::parse(
            br#"{"model":"alias","stream":true,"messages":[{"role":"user","content":"hi"}],"temperature":0.2}"#,
        )
        .unwrap();
        let call = chat_call(&test_target(&candidate(1, "https://api.openai.com")), req).unwrap();
        assert_eq!(call.url, "https://api.openai.com/v1/chat/completions");
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["model"], "real-model");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["messages"][0]["content"], "hi");
        assert_eq!(call.headers[0].1, "Bearer sk-up");
        assert!(call.headers[0].1.is_sensitive(), "the key header is marked sensitive");
    }

    #[test]
    fn fields_we_do_not_touch_pass_through_verbatim() {
        let raw = br#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1},"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"n":2,"logit_bias":{"50256":-100}}"#;
        let req = ChatRequest::parse(raw).unwrap();
        assert!(req.is_stream() && !req.client_wants_usage());
        let body: Value =
            serde_json::from_slice(&chat_call(&test_target(&candidate(1, "http://x")), req).unwrap().body).unwrap();
        let original: Value = serde_json::from_slice(raw).unwrap();
        for key in ["messages", "tools", "n", "logit_bias", "stream"] {
            assert_eq!(body[key], original[key], "{key}");
        }
        assert_eq!(body["stream_options"], serde_json::json!({"include_usage": true, "x": 1}));
    }

    #[test]
    fn wrongly_typed_fields_are_named() {
        let err = ChatRequest::parse(br#"{"model":5,"messages":[{"role":"user","content":"x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("model must be a string"), "{err}");
        let err = ChatRequest::parse(br#"{"model":"m","messages":"hi"}"#).unwrap_err();
        assert!(err.to_string().contains("messages must be an array"), "{err}");
        assert!(ChatRequest::parse(b"[1,2]").is_err());
    }

    #[test]
    fn non_streaming_calls_do_not_get_stream_options() {
        let req = ChatRequest::parse(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let body: Value =
            serde_json::from_slice(&chat_call(&test_target(&candidate(1, "http://x")), req).unwrap().body).unwrap();
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn urls_respect_versioned_bases_and_custom_channels() {
        assert_eq!(endpoint_url(&candidate(1, "http://h/v1"), "/v1/chat/completions"), "http://h/v1/chat/completions");
        assert_eq!(
            endpoint_url(&candidate(1, "https://openrouter.ai/api"), "/v1/chat/completions"),
            "https://openrouter.ai/api/v1/chat/completions"
        );
        assert_eq!(
            endpoint_url(&candidate(49, "https://models.github.ai/inference"), "/v1/chat/completions"),
            "https://models.github.ai/inference/chat/completions"
        );
        assert_eq!(
            endpoint_url(&candidate(8, "http://h/deploy/{model}/chat"), "/v1/chat/completions"),
            "http://h/deploy/real-model/chat"
        );
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_a_developer_message() {
        let req = ChatRequest::parse(
            br#"{"model":"o3-mini","max_tokens":50,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        let mut c = candidate(1, "http://x");
        c.upstream_model = "o3-mini-high".into();
        let body: Value = serde_json::from_slice(&chat_call(&test_target(&c), req).unwrap().body).unwrap();
        assert_eq!(body["model"], "o3-mini");
        assert_eq!(body["reasoning_effort"], "high");
        assert_eq!(body["max_completion_tokens"], 50);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["messages"][0]["role"], "developer");
        assert_eq!(body["messages"][1]["role"], "user");
    }

    #[test]
    fn azure_channels_get_deployment_urls_and_their_key_header() {
        let mut c = candidate(3, "https://res.openai.azure.com/");
        c.api_version = "2024-10-21".into();
        assert_eq!(
            endpoint_url(&c, "/v1/chat/completions"),
            "https://res.openai.azure.com/openai/deployments/real-model/chat/completions?api-version=2024-10-21"
        );
        let req = ChatRequest::parse(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let h = chat_call(&test_target(&c), req).unwrap().headers;
        assert_eq!((h[0].0.as_str(), h[0].1.to_str().unwrap()), ("api-key", "sk-up"));
        assert!(h[0].1.is_sensitive());
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for (body, want) in [
            (&br#"{"messages":[]}"#[..], "model"),
            (br#"{"model":"","messages":[{"role":"user","content":"x"}]}"#, "model is required"),
            (br#"{"model":"m"}"#, "messages is required"),
            (br#"{"model":"m","messages":[]}"#, "must not be empty"),
            (b"not json", "invalid JSON"),
        ] {
            let err = ChatRequest::parse(body).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn usage_is_read_from_bodies_and_chunks() {
        let u = usage_from_body(
            br#"{"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
        );
        assert_eq!(u, Some(Usage { prompt_tokens: 7, completion_tokens: 3, cached_tokens: 2 }));
        let last = inspect_chunk(r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#).unwrap();
        assert!(last.usage_only);
        let fin = inspect_chunk(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#).unwrap();
        assert!(fin.finished && !fin.usage_only);
        assert!(inspect_chunk("{oops").is_err());
        let said = inspect_chunk(r#"{"choices":[{"index":0,"delta":{"content":"Hello"}}]}"#).unwrap();
        assert_eq!(said.said_bytes, 7);
        let silent = inspect_chunk(r#"{"choices":[{"index":0,"delta":{"content":"","role":"assistant"}}]}"#).unwrap();
        assert!(silent.said_bytes == 0 && !silent.error);
        let failed = inspect_chunk(r#"{"error":{"message":"overloaded","type":"server_error"}}"#).unwrap();
        assert!(failed.error && !failed.usage_only && failed.said_bytes == 0);
        assert!(!inspect_chunk(r#"{"choices":[],"error":null}"#).unwrap().error, "a null error is none");
        let empty = br#"{"choices":[{"message":{"role":"assistant","content":""}}],"usage":{"prompt_tokens":3}}"#;
        assert!(reply_info(empty).empty);
        let tool = br#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"x"}]}}]}"#;
        assert!(!reply_info(tool).empty);
    }

    #[test]
    fn upstream_server_errors_are_not_shown_to_clients() {
        let e = upstream_error(StatusCode::INTERNAL_SERVER_ERROR, br#"{"error":{"message":"db at 10.0.0.5 down"}}"#);
        assert!(!e.body().to_string().contains("10.0.0.5"));
        let e = upstream_error(
            StatusCode::BAD_REQUEST,
            br#"{"error":{"message":"context too long","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(e.body()["error"]["code"], "context_length_exceeded");
    }
}
