//! Anthropic Messages request bodies: a client's read into the chat shape, and the chat shape written for an
//! Anthropic channel, with the rules Anthropic enforces and other formats do not (required `max_tokens`, merged
//! turns, results first, thinking limits).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Block, ImageSource, ResultBlock, TextOr};
use crate::error::RelayError;
use crate::providers::chat::{self, Image, JsonOutput, Part, Reasoning, Role, Tool, ToolCall, ToolChoice, ToolResult};

/// Output cap when the client gave none: Anthropic requires one and has no default of its own.
const DEFAULT_MAX_TOKENS: u64 = 8192;
/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;
/// Room for the visible answer when `max_tokens` must be raised above a thinking budget (which counts toward it).
const ANSWER_HEADROOM: u64 = 4096;

fn invalid(message: impl Into<String>) -> RelayError {
    RelayError::InvalidRequest(message.into())
}

/// The top-level fields we read, each kept raw until typed so that a wrongly typed one is reported by name.
#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_k: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_sequences: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output_config: Option<&'a RawValue>,
}

/// A scalar field; the error names it and says what it must be.
fn scalar<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, name: &str, what: &str) -> Result<Option<T>, RelayError> {
    raw.map(|r| serde_json::from_str(r.get())).transpose().map_err(|_| invalid(format!("{name} must be {what}")))
}

/// A structured field; the error names it and keeps serde's account of what inside it is wrong.
fn structured<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, name: &str) -> Result<Option<T>, RelayError> {
    raw.map(|r| serde_json::from_str(r.get())).transpose().map_err(|e| invalid(format!("{name}: {e}")))
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: TextOr<Block>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SystemBlock {
    Text { text: String },
}

#[derive(Deserialize)]
struct WireTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
    /// Server tools (web search, code execution, …) have a versioned type; custom tools have none or `custom`.
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: Cow<'a, Value>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct WireToolChoice {
    #[serde(rename = "type")]
    kind: ChoiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum ChoiceKind {
    Auto,
    Any,
    Tool,
    #[serde(rename = "none")]
    NoTool,
    /// A choice newer than this code. Only ever read.
    #[serde(other)]
    Other,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireThinking {
    Enabled {
        budget_tokens: u64,
    },
    Disabled,
    /// The model picks its own budget (newer models).
    Adaptive,
    /// A mode newer than this code. Only ever read.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Serialize)]
struct MetadataOut<'a> {
    user_id: &'a str,
}

/// `output_config.format`: Anthropic's structured output, `{"type":"json_schema","schema":{…}}`.
#[derive(Deserialize)]
struct OutputConfig {
    #[serde(default)]
    format: Option<OutputFormat>,
}

#[derive(Deserialize)]
struct OutputFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Serialize)]
struct OutputConfigOut<'a> {
    format: FormatOut<'a>,
}

#[derive(Serialize)]
struct FormatOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: &'a Value,
}

/// Reads an Anthropic Messages body from a client. Validates what Anthropic itself requires: a JSON object, a
/// non-empty `model`, a positive `max_tokens`, a non-empty `messages` array of `user`/`assistant` turns.
///
/// The `/v1/messages` route reads every body through here, also those it then passes through unchanged to an
/// Anthropic channel; so what Anthropic accepts is never refused. What the chat shape has no place for
/// (documents, server tools and their blocks, search results) is skipped; images inside a tool result follow the
/// result as images of the same user turn.
pub fn parse_request(body: &[u8]) -> Result<chat::Request, RelayError> {
    // A derived struct also reads a JSON array, positionally; a body must be an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("invalid JSON body (expected an object)"));
    }
    let raw: RawRequest =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid JSON body (expected an object): {e}")))?;
    let model: String = scalar(raw.model, "model", "a string")?.unwrap_or_default();
    if model.trim().is_empty() {
        return Err(invalid("model is required"));
    }
    let max_tokens = match scalar::<u64>(raw.max_tokens, "max_tokens", "a positive integer")? {
        None => return Err(invalid("max_tokens is required (the maximum number of tokens to generate)")),
        Some(0) => return Err(invalid("max_tokens must be a positive integer")),
        Some(n) => n,
    };
    let messages: Vec<&RawValue> =
        scalar(raw.messages, "messages", "an array")?.ok_or_else(|| invalid("messages is required"))?;
    if messages.is_empty() {
        return Err(invalid("messages must not be empty"));
    }

    let mut req = chat::Request { model, max_tokens: Some(max_tokens), ..Default::default() };
    for (i, raw) in messages.iter().enumerate() {
        let message: WireMessage =
            serde_json::from_str(raw.get()).map_err(|e| invalid(format!("messages[{i}]: {e}")))?;
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(invalid(format!("messages[{i}].role must be \"user\" or \"assistant\", not {other:?}")));
            }
        };
        match message.content {
            TextOr::Text(text) => req.push(role, Part::Text(text)),
            TextOr::Blocks(blocks) => blocks.into_iter().for_each(|block| push_block(&mut req, role, block)),
        }
    }

    req.system = match structured::<TextOr<SystemBlock>>(raw.system, "system")? {
        None => Vec::new(),
        Some(TextOr::Text(text)) => vec![text],
        Some(TextOr::Blocks(blocks)) => blocks.into_iter().map(|SystemBlock::Text { text }| text).collect(),
    };
    req.tools = structured::<Vec<WireTool>>(raw.tools, "tools")?
        .unwrap_or_default()
        .into_iter()
        // Server tools run inside Anthropic; no other provider has them.
        .filter(|tool| tool.kind.as_deref().is_none_or(|k| k == "custom"))
        .map(|tool| Tool { name: tool.name, description: tool.description, parameters: tool.input_schema })
        .collect();
    if let Some(choice) = structured::<WireToolChoice>(raw.tool_choice, "tool_choice")? {
        req.tool_choice = match choice.kind {
            ChoiceKind::Auto => Some(ToolChoice::Auto),
            ChoiceKind::Any => Some(ToolChoice::Required),
            ChoiceKind::NoTool => Some(ToolChoice::None),
            ChoiceKind::Tool => Some(ToolChoice::Function(
                choice
                    .name
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| invalid("tool_choice.name is required when tool_choice.type is \"tool\""))?,
            )),
            ChoiceKind::Other => None,
        };
        if choice.disable_parallel_tool_use == Some(true) {
            req.parallel_tool_calls = Some(false);
        }
    }
    req.reasoning = structured::<WireThinking>(raw.thinking, "thinking")?.and_then(|thinking| match thinking {
        WireThinking::Enabled { budget_tokens } => {
            Some(Reasoning { budget_tokens: Some(budget_tokens), include_thoughts: true, ..Default::default() })
        }
        WireThinking::Disabled => Some(Reasoning { disabled: true, ..Default::default() }),
        WireThinking::Adaptive => Some(Reasoning { include_thoughts: true, ..Default::default() }),
        WireThinking::Other => None,
    });
    req.temperature = scalar(raw.temperature, "temperature", "a number")?;
    req.top_p = scalar(raw.top_p, "top_p", "a number")?;
    req.top_k = scalar(raw.top_k, "top_k", "a non-negative integer")?;
    req.stop = scalar(raw.stop_sequences, "stop_sequences", "an array of strings")?.unwrap_or_default();
    req.stream = scalar(raw.stream, "stream", "a boolean")?.unwrap_or(false);
    req.user = structured::<Metadata>(raw.metadata, "metadata")?.and_then(|m| m.user_id);
    req.json_output = structured::<OutputConfig>(raw.output_config, "output_config")?
        .and_then(|c| c.format)
        .filter(|f| f.kind == "json_schema")
        .map(|f| JsonOutput { schema: f.schema, name: None });
    Ok(req)
}

fn push_block(req: &mut chat::Request, role: Role, block: Block) {
    let part = match block {
        Block::Text { text } => Part::Text(text),
        Block::Image { source } => Part::Image(image_of(source)),
        Block::ToolUse { id, name, input } => Part::ToolCall(ToolCall { id, name, arguments: input.to_string() }),
        Block::ToolResult { tool_use_id, content, is_error } => {
            let (texts, images) = match content {
                None => (Vec::new(), Vec::new()),
                Some(TextOr::Text(text)) => (vec![text], Vec::new()),
                Some(TextOr::Blocks(blocks)) => {
                    let (mut texts, mut images) = (Vec::new(), Vec::new());
                    for block in blocks {
                        match block {
                            ResultBlock::Text { text } => texts.push(text),
                            ResultBlock::Image { source } => images.push(image_of(source)),
                            ResultBlock::Other => {}
                        }
                    }
                    (texts, images)
                }
            };
            let result = ToolResult {
                call_id: tool_use_id,
                name: None,
                content: texts.join("\n"),
                is_error: is_error == Some(true),
            };
            req.push(role, Part::ToolResult(result));
            // Other formats' tool results are text only; the images go right after, in the same user turn.
            images.into_iter().for_each(|image| req.push(role, Part::Image(image)));
            return;
        }
        Block::Thinking { thinking, signature } => {
            Part::Thinking { text: thinking, signature: signature.filter(|s| !s.is_empty()) }
        }
        Block::RedactedThinking { data } => Part::RedactedThinking(data),
        Block::Unsupported => return,
    };
    req.push(role, part);
}

fn image_of(source: ImageSource) -> Image {
    match source {
        ImageSource::Base64 { media_type, data } => Image::Inline { mime: media_type, data },
        ImageSource::Url { url } => Image::Url(url),
    }
}

#[derive(Serialize)]
struct OutRequest<'a> {
    model: &'a str,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<OutMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<WireThinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<&'a [String]>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<MetadataOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<OutputConfigOut<'a>>,
}

#[derive(Serialize)]
struct OutMessage {
    role: &'static str,
    content: Vec<Block>,
}

/// Writes the Anthropic body for an Anthropic channel serving `upstream_model`.
///
/// Anthropic-only rules applied here: system texts joined into `system`; consecutive same-role turns merged, with
/// `tool_result` blocks first in their user turn; tool arguments parsed into `input` objects (text that is not a
/// JSON object is the client's error); `max_tokens` supplied and kept above the thinking budget; temperature
/// clamped to Anthropic's 0–1. Reasoning without an Anthropic signature is dropped: Anthropic refuses to replay it.
pub fn build_request(req: &chat::Request, upstream_model: &str) -> Result<Value, RelayError> {
    let messages = messages_of(req)?;
    if messages.is_empty() {
        return Err(invalid("messages must hold some content"));
    }
    // Anthropic refuses thinking together with a forced tool, and refuses it in a tool loop whose last assistant
    // turn does not open with its thinking block (an OpenAI or Gemini client never has one to send back). The tool
    // call is what the client's code depends on, so thinking gives way.
    let forced_tool =
        !req.tools.is_empty() && matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Function(_)));
    let budget = req
        .reasoning
        .as_ref()
        .and_then(Reasoning::budget)
        .filter(|_| !forced_tool && !tool_loop_without_thinking(&messages))
        .map(|b| b.max(MIN_THINKING_BUDGET));
    let max_tokens = match (req.max_tokens, budget) {
        (Some(max), Some(budget)) if max <= budget => budget + ANSWER_HEADROOM,
        (Some(max), _) => max,
        (None, Some(budget)) => DEFAULT_MAX_TOKENS.max(budget + ANSWER_HEADROOM),
        (None, None) => DEFAULT_MAX_TOKENS,
    };
    let thinking = budget.is_some();
    let out = OutRequest {
        model: upstream_model,
        max_tokens,
        system: req.system_text(),
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| ToolOut {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: match &t.parameters {
                    Some(schema) => Cow::Borrowed(schema),
                    // Anthropic requires a schema; OpenAI's "no parameters" is an object without properties.
                    None => Cow::Owned(serde_json::json!({"type": "object", "properties": {}})),
                },
            })
            .collect(),
        tool_choice: tool_choice_of(req),
        thinking: budget.map(|budget_tokens| WireThinking::Enabled { budget_tokens }),
        // With thinking on, Anthropic accepts no temperature or top_k, and top_p only from 0.95.
        temperature: req.temperature.filter(|_| !thinking).map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.filter(|p| !thinking || *p >= 0.95),
        top_k: req.top_k.filter(|_| !thinking),
        stop_sequences: (!req.stop.is_empty()).then_some(&req.stop[..]),
        stream: req.stream,
        metadata: req.user.as_deref().map(|user_id| MetadataOut { user_id }),
        // Anthropic's structured output takes a schema only; a bare "JSON object" request has no equivalent.
        output_config: req
            .json_output
            .as_ref()
            .and_then(|j| j.schema.as_ref())
            .map(|schema| OutputConfigOut { format: FormatOut { kind: "json_schema", schema } }),
    };
    serde_json::to_value(&out).map_err(|e| invalid(format!("cannot encode the request: {e}")))
}

fn messages_of(req: &chat::Request) -> Result<Vec<OutMessage>, RelayError> {
    let mut out: Vec<OutMessage> = Vec::with_capacity(req.messages.len());
    for message in &req.messages {
        let mut blocks = Vec::with_capacity(message.parts.len());
        for part in &message.parts {
            blocks.extend(block_of(part)?);
        }
        if blocks.is_empty() {
            continue;
        }
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(OutMessage { role, content: blocks }),
        }
    }
    for message in out.iter_mut().filter(|m| m.role == "user") {
        // Stable: results keep their call order, other blocks theirs.
        message.content.sort_by_key(|b| !matches!(b, Block::ToolResult { .. }));
    }
    Ok(out)
}

fn block_of(part: &Part) -> Result<Option<Block>, RelayError> {
    Ok(Some(match part {
        // Anthropic refuses empty text blocks.
        Part::Text(text) if text.is_empty() => return Ok(None),
        Part::Text(text) => Block::Text { text: text.clone() },
        Part::Image(Image::Inline { mime, data }) => {
            Block::Image { source: ImageSource::Base64 { media_type: mime.clone(), data: data.clone() } }
        }
        Part::Image(Image::Url(url)) => Block::Image { source: ImageSource::Url { url: url.clone() } },
        Part::ToolCall(call) => {
            let input = call.arguments_object().map_err(invalid)?;
            if !input.is_object() {
                return Err(invalid(format!("the arguments of tool call {} must be a JSON object", call.id)));
            }
            Block::ToolUse { id: call.id.clone(), name: call.name.clone(), input }
        }
        Part::ToolResult(result) => Block::ToolResult {
            tool_use_id: result.call_id.clone(),
            content: (!result.content.is_empty()).then(|| TextOr::Text(result.content.clone())),
            is_error: result.is_error.then_some(true),
        },
        Part::Thinking { text, signature: Some(signature) } if !signature.is_empty() => {
            Block::Thinking { thinking: text.clone(), signature: Some(signature.clone()) }
        }
        Part::Thinking { .. } => return Ok(None),
        Part::RedactedThinking(data) => Block::RedactedThinking { data: data.clone() },
    }))
}

/// Whether the last assistant turn calls tools without opening with a thinking block.
fn tool_loop_without_thinking(messages: &[OutMessage]) -> bool {
    let Some(last) = messages.iter().rev().find(|m| m.role == "assistant") else { return false };
    last.content.iter().any(|b| matches!(b, Block::ToolUse { .. }))
        && !matches!(last.content.first(), Some(Block::Thinking { .. } | Block::RedactedThinking { .. }))
}

fn tool_choice_of(req: &chat::Request) -> Option<WireToolChoice> {
    // Without tools Anthropic has nothing to choose from, and `none` is the same as leaving them out.
    if req.tools.is_empty() {
        return None;
    }
    let one_call = (req.parallel_tool_calls == Some(false)).then_some(true);
    let (kind, name) = match &req.tool_choice {
        None if one_call.is_none() => return None,
        None | Some(ToolChoice::Auto) => (ChoiceKind::Auto, None),
        Some(ToolChoice::Required) => (ChoiceKind::Any, None),
        Some(ToolChoice::Function(name)) => (ChoiceKind::Tool, Some(name.clone())),
        // `none` takes no disable_parallel_tool_use.
        Some(ToolChoice::None) => {
            return Some(WireToolChoice { kind: ChoiceKind::NoTool, name: None, disable_parallel_tool_use: None });
        }
    };
    Some(WireToolChoice { kind, name, disable_parallel_tool_use: one_call })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{Effort, Message};
    use serde_json::json;

    const REQUEST: &[u8] = include_bytes!("../../../tests/fixtures/anthropic/request.json");

    fn user(parts: Vec<Part>) -> Message {
        Message { role: Role::User, parts }
    }

    fn assistant(parts: Vec<Part>) -> Message {
        Message { role: Role::Assistant, parts }
    }

    fn call(id: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall { id: id.into(), name: "get_weather".into(), arguments: arguments.into() })
    }

    fn result(id: &str, content: &str) -> Part {
        Part::ToolResult(ToolResult { call_id: id.into(), name: None, content: content.into(), is_error: false })
    }

    fn weather_tool() -> Tool {
        Tool { name: "get_weather".into(), description: None, parameters: None }
    }

    fn chat_request(messages: Vec<Message>) -> chat::Request {
        chat::Request { model: "alias".into(), messages, ..Default::default() }
    }

    fn error_of(result: Result<impl std::fmt::Debug, RelayError>) -> String {
        match result {
            Err(RelayError::InvalidRequest(message)) => message,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_request_reads_into_the_chat_shape() {
        let req = parse_request(REQUEST).unwrap();
        assert_eq!(req.model, "claude-sonnet-4-5-20250929");
        assert_eq!(req.max_tokens, Some(16000));
        assert_eq!(req.system, vec!["You are terse.".to_string()]);
        assert!(req.stream);
        assert_eq!(
            req.messages,
            vec![
                user(vec![
                    Part::Text("What is in this image, and what is the weather in Paris?".into()),
                    Part::Image(Image::Inline { mime: "image/png".into(), data: "iVBORw0KGgo=".into() }),
                    Part::Image(Image::Url("https://example.com/paris.jpg".into())),
                ]),
                assistant(vec![
                    Part::Thinking { text: "Need the weather tool.".into(), signature: Some("EqQBCkYIARgCIkB".into()) },
                    call("toolu_01A", r#"{"city":"Paris"}"#),
                ]),
                user(vec![result("toolu_01A", r#"{"temp_c":21}"#)]),
            ]
        );
        assert_eq!(req.tools.len(), 1);
        assert_eq!(req.tools[0].description.as_deref(), Some("Current weather for a city"));
        assert_eq!(req.tools[0].parameters.as_ref().unwrap()["required"], json!(["city"]));
        assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(req.reasoning.unwrap().budget(), Some(8000));
    }

    #[test]
    fn a_parsed_request_builds_back_into_the_same_anthropic_body() {
        let body = build_request(&parse_request(REQUEST).unwrap(), "claude-upstream").unwrap();
        let mut original: Value = serde_json::from_slice(REQUEST).unwrap();
        // The chat shape keeps the system text, not its cache hints.
        original["system"] = json!("You are terse.");
        original["model"] = json!("claude-upstream");
        assert_eq!(body, original);
    }

    #[test]
    fn text_content_and_text_system_blocks_are_read_as_well() {
        let req = parse_request(
            br#"{"model":"m","max_tokens":5,"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
                "messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"again"}]},
                {"role":"assistant","content":[{"type":"redacted_thinking","data":"enc"},{"type":"text","text":"ok"}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,
                  "content":[{"type":"text","text":"line 1"},{"type":"text","text":"line 2"}]}]}],
                "tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true},
                "thinking":{"type":"disabled"},"metadata":{"user_id":"u-1"},"stop_sequences":["END"],
                "temperature":0.3,"top_k":40,
                "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}}"#,
        )
        .unwrap();
        assert_eq!(req.system_text().as_deref(), Some("a\n\nb"));
        assert_eq!(req.messages.len(), 3, "consecutive user turns merge");
        assert_eq!(req.messages[0].parts, vec![Part::Text("hi".into()), Part::Text("again".into())]);
        assert_eq!(req.messages[1].parts[0], Part::RedactedThinking("enc".into()));
        assert_eq!(
            req.messages[2].parts,
            vec![Part::ToolResult(ToolResult {
                call_id: "t1".into(),
                name: None,
                content: "line 1\nline 2".into(),
                is_error: true
            })]
        );
        assert_eq!(req.tool_choice, Some(ToolChoice::Function("f".into())));
        assert_eq!(req.parallel_tool_calls, Some(false));
        assert!(req.reasoning.unwrap().disabled);
        assert_eq!(req.user.as_deref(), Some("u-1"));
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!((req.temperature, req.top_k, req.stream), (Some(0.3), Some(40), false));
        assert_eq!(req.json_output, Some(JsonOutput { schema: Some(json!({"type": "object"})), name: None }));
    }

    #[test]
    fn what_anthropic_accepts_but_the_chat_shape_cannot_hold_is_skipped_not_refused() {
        let req = parse_request(
            br#"{"model":"m","max_tokens":9,"messages":[
                {"role":"user","content":[
                  {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},
                  {"type":"text","text":"summarise","cache_control":{"type":"ephemeral"}}]},
                {"role":"assistant","content":[
                  {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
                  {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},
                  {"type":"tool_use","id":"toolu_1","name":"screenshot","input":{}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[
                  {"type":"text","text":"here"},
                  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
                  {"type":"search_result","source":"s","title":"t","content":[]}]}]}],
              "tools":[{"type":"web_search_20250305","name":"web_search"},{"type":"custom","name":"screenshot",
                        "input_schema":{"type":"object"}},{"name":"plain"}],
              "tool_choice":{"type":"brand_new"},"thinking":{"type":"brand_new"}}"#,
        )
        .unwrap();
        assert_eq!(req.messages[0].parts, vec![Part::Text("summarise".into())]);
        assert_eq!(
            req.messages[1].parts,
            vec![Part::ToolCall(ToolCall { id: "toolu_1".into(), name: "screenshot".into(), arguments: "{}".into() })]
        );
        assert_eq!(
            req.messages[2].parts,
            vec![
                result("toolu_1", "here"),
                Part::Image(Image::Inline { mime: "image/png".into(), data: "iVBO".into() })
            ]
        );
        assert_eq!(req.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["screenshot", "plain"]);
        assert_eq!((req.tool_choice, req.reasoning), (None, None));
    }

    #[test]
    fn turns_merge_and_tool_results_come_first_in_their_user_turn() {
        let mut req = chat_request(vec![
            user(vec![Part::Text("weather in Paris and Rome?".into())]),
            assistant(vec![
                Part::Text(String::new()),
                call("call_1", r#"{"city":"Paris"}"#),
                call("call_2", r#"{"city":"Rome"}"#),
            ]),
            user(vec![result("call_1", "21")]),
            user(vec![Part::Text("be brief".into())]),
            user(vec![result("call_2", "")]),
        ]);
        req.system = vec!["You are terse.".into(), String::new(), "Use metric.".into()];
        let body = build_request(&req, "claude").unwrap();
        assert_eq!(body["system"], "You are terse.\n\nUse metric.");
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "21"},
                    {"type": "tool_result", "tool_use_id": "call_2"},
                    {"type": "text", "text": "be brief"}]}
            ])
        );
    }

    #[test]
    fn openai_style_settings_map_onto_anthropic_fields() {
        let mut req = chat_request(vec![user(vec![
            Part::Text("look".into()),
            Part::Image(Image::from_url("data:image/jpeg;base64,/9j/4AAQ")),
            Part::Image(Image::from_url("https://x/y.png")),
        ])]);
        req.tools = vec![weather_tool()];
        req.tool_choice = Some(ToolChoice::Required);
        req.parallel_tool_calls = Some(false);
        req.temperature = Some(1.6);
        req.top_p = Some(0.5);
        req.stop = vec!["STOP".into()];
        req.user = Some("end-user".into());
        req.stream = true;
        req.seed = Some(7);
        let body = build_request(&req, "claude").unwrap();
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(
            body["messages"][0]["content"][1]["source"],
            json!({"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"})
        );
        assert_eq!(body["messages"][0]["content"][2]["source"], json!({"type": "url", "url": "https://x/y.png"}));
        assert_eq!(
            body["tools"],
            json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}])
        );
        assert_eq!(body["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body["top_p"], 0.5);
        assert_eq!(body["stop_sequences"], json!(["STOP"]));
        assert_eq!(body["metadata"], json!({"user_id": "end-user"}));
        assert_eq!(body["stream"], true);
        assert!(body.get("seed").is_none() && body.get("thinking").is_none());

        for (choice, want) in [
            (Some(ToolChoice::Auto), json!({"type": "auto"})),
            (Some(ToolChoice::None), json!({"type": "none"})),
            (Some(ToolChoice::Function("get_weather".into())), json!({"type": "tool", "name": "get_weather"})),
        ] {
            req.tool_choice = choice;
            req.parallel_tool_calls = None;
            assert_eq!(build_request(&req, "claude").unwrap()["tool_choice"], want);
        }
        req.tool_choice = None;
        assert!(build_request(&req, "claude").unwrap().get("tool_choice").is_none());
        req.stream = false;
        assert!(build_request(&req, "claude").unwrap().get("stream").is_none());
    }

    #[test]
    fn a_thinking_budget_gets_room_under_max_tokens() {
        let budget_of = |effort: Option<Effort>, budget: Option<u64>, max: Option<u64>| {
            let mut req = chat_request(vec![user(vec![Part::Text("think".into())])]);
            req.reasoning = Some(Reasoning { effort, budget_tokens: budget, ..Default::default() });
            req.max_tokens = max;
            req.temperature = Some(0.2);
            req.top_k = Some(5);
            let body = build_request(&req, "claude").unwrap();
            assert!(body.get("temperature").is_none() && body.get("top_k").is_none(), "{body}");
            (body["thinking"]["budget_tokens"].as_u64().unwrap(), body["max_tokens"].as_u64().unwrap())
        };
        assert_eq!(budget_of(Some(Effort::Low), None, None), (2048, 8192));
        assert_eq!(budget_of(Some(Effort::High), None, None), (24576, 28672));
        assert_eq!(budget_of(None, Some(8000), Some(16000)), (8000, 16000));
        assert_eq!(budget_of(Some(Effort::Low), None, Some(1000)), (2048, 6144));
        assert_eq!(budget_of(None, Some(100), None), (1024, 8192));

        let mut req = chat_request(vec![user(vec![Part::Text("x".into())])]);
        req.reasoning = Some(Reasoning { effort: Some(Effort::High), disabled: true, ..Default::default() });
        assert!(build_request(&req, "claude").unwrap().get("thinking").is_none());
    }

    #[test]
    fn thinking_gives_way_where_anthropic_would_refuse_it() {
        let reasoning = Some(Reasoning { effort: Some(Effort::Medium), ..Default::default() });
        let mut forced = chat_request(vec![user(vec![Part::Text("x".into())])]);
        forced.tools = vec![weather_tool()];
        forced.tool_choice = Some(ToolChoice::Function("get_weather".into()));
        forced.reasoning = reasoning;
        assert!(build_request(&forced, "claude").unwrap().get("thinking").is_none());

        let mut tool_loop = chat_request(vec![
            user(vec![Part::Text("x".into())]),
            assistant(vec![
                Part::Thinking { text: "unsigned, from another provider".into(), signature: None },
                call("call_1", "{}"),
            ]),
            user(vec![result("call_1", "ok")]),
        ]);
        tool_loop.reasoning = reasoning;
        let body = build_request(&tool_loop, "claude").unwrap();
        assert!(body.get("thinking").is_none());
        assert_eq!(
            body["messages"][1]["content"],
            json!([{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}])
        );

        tool_loop.messages[1].parts[0] = Part::Thinking { text: "mine".into(), signature: Some("sig".into()) };
        let body = build_request(&tool_loop, "claude").unwrap();
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 8192}));
        assert_eq!(
            body["messages"][1]["content"][0],
            json!({"type": "thinking", "thinking": "mine", "signature": "sig"})
        );
    }

    #[test]
    fn redacted_thinking_is_replayed_verbatim() {
        let req = chat_request(vec![
            user(vec![Part::Text("x".into())]),
            assistant(vec![Part::RedactedThinking("EmwKAhgB".into()), Part::Text("done".into())]),
        ]);
        let body = build_request(&req, "claude").unwrap();
        assert_eq!(body["messages"][1]["content"][0], json!({"type": "redacted_thinking", "data": "EmwKAhgB"}));
    }

    #[test]
    fn a_json_schema_request_asks_for_structured_output() {
        let mut req = chat_request(vec![user(vec![Part::Text("x".into())])]);
        req.json_output = Some(JsonOutput { schema: Some(json!({"type": "object"})), name: Some("answer".into()) });
        let body = build_request(&req, "claude").unwrap();
        assert_eq!(body["output_config"], json!({"format": {"type": "json_schema", "schema": {"type": "object"}}}));
    }

    #[test]
    fn tool_arguments_that_are_not_a_json_object_are_refused() {
        let req = chat_request(vec![assistant(vec![call("call_9", "{oops")])]);
        let message = error_of(build_request(&req, "claude"));
        assert!(message.contains("call_9") && message.contains("not valid JSON"), "{message}");
        let req = chat_request(vec![assistant(vec![call("call_8", "[1,2]")])]);
        assert!(error_of(build_request(&req, "claude")).contains("must be a JSON object"));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let hi = r#"[{"role":"user","content":"hi"}]"#;
        for (body, want) in [
            (format!(r#"{{"model":"m","messages":{hi}}}"#), "max_tokens is required"),
            (format!(r#"{{"model":"m","max_tokens":0,"messages":{hi}}}"#), "max_tokens must be a positive integer"),
            (format!(r#"{{"model":"m","max_tokens":-3,"messages":{hi}}}"#), "max_tokens must be a positive integer"),
            (format!(r#"{{"max_tokens":9,"messages":{hi}}}"#), "model is required"),
            (format!(r#"{{"model":7,"max_tokens":9,"messages":{hi}}}"#), "model must be a string"),
            (r#"{"model":"m","max_tokens":9,"messages":[]}"#.into(), "messages must not be empty"),
            (r#"{"model":"m","max_tokens":9}"#.into(), "messages is required"),
            (r#"{"model":"m","max_tokens":9,"messages":{}}"#.into(), "messages must be an array"),
            (
                r#"{"model":"m","max_tokens":9,"messages":[{"role":"system","content":"x"}]}"#.into(),
                r#"messages[0].role must be "user" or "assistant""#,
            ),
            (
                r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"tool_use","name":"f","input":{}}]}]}"#
                    .into(),
                "messages[0]: missing field `id`",
            ),
            (
                r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64"}}]}]}"#
                    .into(),
                "messages[0]: missing field `media_type`",
            ),
            (r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":7}]}"#.into(), "a string or an array"),
            (
                format!(r#"{{"model":"m","max_tokens":9,"messages":{hi},"tool_choice":{{"type":"tool"}}}}"#),
                "tool_choice.name is required",
            ),
            (format!(r#"{{"model":"m","max_tokens":9,"messages":{hi},"tools":[{{}}]}}"#), "tools: missing field `name`"),
            ("[1]".into(), "invalid JSON body"),
            ("not json".into(), "invalid JSON body"),
        ] {
            let message = error_of(parse_request(body.as_bytes()));
            assert!(message.contains(want), "{body}\n  → {message}");
        }
    }
}
