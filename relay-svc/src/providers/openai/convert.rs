//! OpenAI Chat Completions ⇄ the shared chat representation: for OpenAI clients reaching Anthropic or Gemini
//! channels, and for Anthropic or Gemini clients reaching OpenAI-compatible channels. (OpenAI to OpenAI never
//! comes here; it is passed through.)

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::RelayError;
use crate::providers::chat::{
    self, Effort, Finish, Frame, Image, JsonOutput, Part, Reasoning, Reply, Role, StreamEvent, Tool, ToolCall,
    ToolChoice, ToolResult, Usage,
};

fn invalid(message: impl Into<String>) -> RelayError {
    RelayError::InvalidRequest(message.into())
}

#[derive(Deserialize)]
struct InRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    tools: Vec<InTool>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    presence_penalty: Option<f64>,
    #[serde(default)]
    frequency_penalty: Option<f64>,
    #[serde(default)]
    reasoning_effort: Option<String>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    json_schema: Option<JsonSchemaFormat>,
}

#[derive(Deserialize)]
struct JsonSchemaFormat {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
    /// DeepSeek-style reasoning text on assistant turns.
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<InPart>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum InPart {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    Refusal {
        refusal: String,
    },
    #[serde(other)]
    Unsupported,
}

#[derive(Deserialize)]
struct ImageUrl {
    url: String,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: WireFunction,
}

#[derive(Deserialize, Default)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct InTool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    function: Option<InFunction>,
}

#[derive(Deserialize)]
struct InFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

impl Content {
    /// Text parts joined (system, developer and tool messages carry text only).
    fn text(&self) -> String {
        match self {
            Content::Text(t) => t.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    InPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn into_parts(self) -> Result<Vec<Part>, RelayError> {
        match self {
            Content::Text(t) => Ok(vec![Part::Text(t)]),
            Content::Parts(parts) => parts
                .into_iter()
                .map(|p| match p {
                    InPart::Text { text } => Ok(Part::Text(text)),
                    InPart::Refusal { refusal } => Ok(Part::Text(refusal)),
                    InPart::ImageUrl { image_url } => Ok(Part::Image(Image::from_url(&image_url.url))),
                    InPart::Unsupported => Err(invalid(
                        "this channel takes text and image content parts only (audio and file parts need an \
                         OpenAI channel)",
                    )),
                })
                .collect(),
        }
    }
}

/// An OpenAI chat request body → the shared representation (for a channel that does not speak OpenAI).
pub fn parse_request(body: &[u8]) -> Result<chat::Request, RelayError> {
    let r: InRequest = serde_json::from_slice(body).map_err(|e| invalid(format!("invalid chat request: {e}")))?;
    if r.model.trim().is_empty() {
        return Err(invalid("model is required"));
    }
    if r.messages.is_empty() {
        return Err(invalid("messages must not be empty"));
    }
    let mut req = chat::Request {
        model: r.model,
        max_tokens: r.max_completion_tokens.or(r.max_tokens),
        temperature: r.temperature,
        top_p: r.top_p,
        top_k: r.top_k,
        stop: match r.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        },
        seed: r.seed,
        presence_penalty: r.presence_penalty,
        frequency_penalty: r.frequency_penalty,
        parallel_tool_calls: r.parallel_tool_calls,
        stream: r.stream.unwrap_or(false),
        user: r.user,
        ..Default::default()
    };
    if let Some(effort) = r.reasoning_effort {
        let effort = Effort::parse(&effort).ok_or_else(|| invalid(format!("unknown reasoning_effort `{effort}`")))?;
        req.reasoning = Some(Reasoning { effort: Some(effort), include_thoughts: true, ..Default::default() });
    }
    if let Some(f) = r.response_format {
        req.json_output = match f.kind.as_str() {
            "json_object" => Some(JsonOutput { schema: None, name: None }),
            "json_schema" => {
                let s = f.json_schema.unwrap_or(JsonSchemaFormat { name: None, schema: None });
                Some(JsonOutput { schema: s.schema, name: s.name })
            }
            _ => None,
        };
    }
    for t in r.tools {
        match (t.kind.as_deref(), t.function) {
            (None | Some("function"), Some(f)) => {
                req.tools.push(Tool { name: f.name, description: f.description, parameters: f.parameters })
            }
            _ => return Err(invalid("only function tools can be sent to this channel")),
        }
    }
    req.tool_choice = r.tool_choice.map(parse_tool_choice).transpose()?;
    for m in r.messages {
        match m.role.as_str() {
            "system" | "developer" => req.system.push(m.content.map(|c| c.text()).unwrap_or_default()),
            "user" => {
                for p in m.content.ok_or_else(|| invalid("a user message needs content"))?.into_parts()? {
                    req.push(Role::User, p);
                }
            }
            "assistant" => {
                if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                    req.push(Role::Assistant, Part::Thinking { text: r, signature: None });
                }
                for p in m.content.map(Content::into_parts).transpose()?.unwrap_or_default() {
                    if !matches!(&p, Part::Text(t) if t.is_empty()) {
                        req.push(Role::Assistant, p);
                    }
                }
                for c in m.tool_calls {
                    let id = c.id.ok_or_else(|| invalid("a tool call in the history has no id"))?;
                    let name =
                        c.function.name.ok_or_else(|| invalid(format!("tool call {id} has no function name")))?;
                    let arguments = c.function.arguments.unwrap_or_default();
                    req.push(Role::Assistant, Part::ToolCall(ToolCall { id, name, arguments }));
                }
            }
            "tool" | "function" => {
                let call_id = m.tool_call_id.ok_or_else(|| invalid("a tool message needs tool_call_id"))?;
                let name = req.tool_name_of(&call_id).map(str::to_string);
                let content = m.content.map(|c| c.text()).unwrap_or_default();
                req.push(Role::User, Part::ToolResult(ToolResult { call_id, name, content, is_error: false }));
            }
            other => return Err(invalid(format!("unknown message role `{other}`"))),
        }
    }
    if req.messages.is_empty() {
        return Err(invalid("messages must hold at least one user or assistant message"));
    }
    Ok(req)
}

fn parse_tool_choice(v: Value) -> Result<ToolChoice, RelayError> {
    #[derive(Deserialize)]
    struct Named {
        function: NamedFunction,
    }
    #[derive(Deserialize)]
    struct NamedFunction {
        name: String,
    }
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            "none" => Ok(ToolChoice::None),
            other => Err(invalid(format!("unknown tool_choice `{other}`"))),
        },
        other => serde_json::from_value::<Named>(other)
            .map(|n| ToolChoice::Function(n.function.name))
            .map_err(|_| invalid("tool_choice must be auto, required, none or {\"type\":\"function\",...}")),
    }
}

/// How an OpenAI-compatible vendor takes the output cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCap {
    /// `max_completion_tokens` (OpenAI and Azure; reasoning models refuse `max_tokens`).
    MaxCompletionTokens,
    /// `max_tokens` (most other vendors know only this one).
    MaxTokens,
}

/// The shared representation → an OpenAI chat request body for an OpenAI-compatible channel.
pub fn build_request(req: &chat::Request, upstream_model: &str, cap: OutputCap) -> Result<Value, RelayError> {
    let mut messages = Vec::new();
    if let Some(system) = req.system_text() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &req.messages {
        match m.role {
            Role::User => {
                let mut content = Vec::new();
                for p in &m.parts {
                    match p {
                        // Tool results are separate `tool` messages, before the user's own words.
                        Part::ToolResult(r) => {
                            messages.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": r.content}))
                        }
                        Part::Text(t) => content.push(json!({"type": "text", "text": t})),
                        Part::Image(i) => content.push(json!({"type": "image_url", "image_url": {"url": i.to_url()}})),
                        Part::ToolCall(_) | Part::Thinking { .. } | Part::RedactedThinking(_) => {}
                    }
                }
                if !content.is_empty() {
                    messages.push(json!({"role": "user", "content": simplify(content)}));
                }
            }
            Role::Assistant => {
                let text: String = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect();
                let calls: Vec<Value> = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall(c) => Some(json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}})),
                        _ => None,
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(n) = req.max_tokens {
        let key = match cap {
            OutputCap::MaxCompletionTokens => "max_completion_tokens",
            OutputCap::MaxTokens => "max_tokens",
        };
        body.insert(key.into(), json!(n));
    }
    let optional = [
        ("temperature", req.temperature.map(|v| json!(v))),
        ("top_p", req.top_p.map(|v| json!(v))),
        ("seed", req.seed.map(|v| json!(v))),
        ("presence_penalty", req.presence_penalty.map(|v| json!(v))),
        ("frequency_penalty", req.frequency_penalty.map(|v| json!(v))),
        ("parallel_tool_calls", req.parallel_tool_calls.filter(|_| !req.tools.is_empty()).map(|v| json!(v))),
        ("user", req.user.as_ref().map(|v| json!(v))),
        ("reasoning_effort", req.reasoning.and_then(|r| r.effort_level()).map(|e| json!(e.as_str()))),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            body.insert(k.into(), v);
        }
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                if let Some(p) = &t.parameters {
                    f["parameters"] = p.clone();
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let v = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), v);
    }
    if let Some(j) = &req.json_output {
        let v = match &j.schema {
            Some(schema) => json!({"type": "json_schema",
                "json_schema": {"name": j.name.clone().unwrap_or_else(|| "answer".into()), "schema": schema}}),
            None => json!({"type": "json_object"}),
        };
        body.insert("response_format".into(), v);
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(body))
}

/// A single text part is sent as a plain string, which every OpenAI-compatible vendor accepts.
fn simplify(mut content: Vec<Value>) -> Value {
    if content.len() == 1 && content[0]["type"] == "text" {
        return content.swap_remove(0)["text"].take();
    }
    Value::Array(content)
}

#[derive(Deserialize)]
struct WireReply {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    delta: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    /// OpenRouter's name for the reasoning text.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<i64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<i64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            input: u.prompt_tokens,
            cache_read: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
            cache_write: 0,
            output: u.completion_tokens,
            reasoning: u.completion_tokens_details.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

fn finish_from(reason: &str) -> Finish {
    match reason {
        "length" => Finish::Length,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "content_filter" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

fn finish_name(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter => "content_filter",
    }
}

/// An OpenAI chat completion body → the shared reply (for a client that does not speak OpenAI).
pub fn parse_reply(body: &[u8]) -> Result<Reply, RelayError> {
    let r: WireReply = serde_json::from_slice(body)
        .map_err(|e| RelayError::UpstreamFailed(format!("malformed chat completion from upstream: {e}")))?;
    let choice = r
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| RelayError::UpstreamFailed("chat completion without choices".into()))?;
    let message = choice.message.unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(t) = message.reasoning_content.or(message.reasoning).filter(|t| !t.is_empty()) {
        parts.push(Part::Thinking { text: t, signature: None });
    }
    if let Some(t) = message.content.filter(|t| !t.is_empty()) {
        parts.push(Part::Text(t));
    }
    for (n, c) in message.tool_calls.into_iter().enumerate() {
        parts.push(Part::ToolCall(ToolCall {
            id: c.id.unwrap_or_else(|| format!("call_{n}")),
            name: c.function.name.unwrap_or_default(),
            arguments: c.function.arguments.unwrap_or_default(),
        }));
    }
    Ok(Reply {
        id: r.id,
        model: r.model,
        parts,
        finish: choice.finish_reason.as_deref().map(finish_from).unwrap_or_default(),
        usage: r.usage.map(Usage::from).unwrap_or_default(),
    })
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cache_read},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    })
}

fn completion_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") { id.to_string() } else { format!("chatcmpl-{id}") }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The shared reply → an OpenAI chat completion body. Reasoning text goes in `reasoning_content`, as
/// DeepSeek and OpenRouter clients read it.
pub fn render_reply(reply: &Reply) -> Value {
    let text = reply.text();
    let thinking = reply.thinking();
    let calls: Vec<Value> = reply
        .tool_calls()
        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
    if !thinking.is_empty() {
        message["reasoning_content"] = json!(thinking);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": completion_id(&reply.id),
        "object": "chat.completion",
        "created": now_secs(),
        "model": reply.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_name(reply.finish)}],
        "usage": usage_json(&reply.usage),
    })
}

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    message: String,
}

/// Reads an OpenAI chat stream from an OpenAI-compatible channel.
#[derive(Default)]
pub struct Decoder {
    started: bool,
    done: bool,
    finished: bool,
    /// OpenAI's tool-call index → our ordinal (vendors number calls differently; ours count from 0).
    tool_index: HashMap<usize, usize>,
}

impl chat::StreamDecoder for Decoder {
    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamEvent>, RelayError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: WireChunk = serde_json::from_str(data)
            .map_err(|e| RelayError::UpstreamFailed(format!("malformed stream chunk from upstream: {e}")))?;
        if let Some(e) = chunk.error {
            return Err(RelayError::UpstreamFailed(format!("upstream stream error: {}", e.message)));
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start { id: chunk.id, model: chunk.model });
        }
        for choice in chunk.choices.into_iter().take(1) {
            let delta = choice.delta.unwrap_or_default();
            if let Some(t) = delta.reasoning_content.or(delta.reasoning).filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Thinking(t));
            }
            if let Some(t) = delta.content.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Text(t));
            }
            for c in delta.tool_calls {
                let next = self.tool_index.len();
                let key = c.index.unwrap_or(next);
                let index = match self.tool_index.get(&key) {
                    Some(i) => *i,
                    None => {
                        self.tool_index.insert(key, next);
                        let id = c.id.clone().unwrap_or_else(|| format!("call_{next}"));
                        out.push(StreamEvent::ToolCallStart {
                            index: next,
                            id,
                            name: c.function.name.clone().unwrap_or_default(),
                        });
                        next
                    }
                };
                if let Some(fragment) = c.function.arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolCallArguments { index, fragment });
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finished = true;
                out.push(StreamEvent::Finish(finish_from(&reason)));
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(u.into()));
        }
        Ok(out)
    }

    fn complete(&self) -> bool {
        // Some vendors end with the finish chunk and no `[DONE]`.
        self.done || self.finished
    }
}

/// Writes an OpenAI chat stream for an OpenAI client whose channel speaks another format.
pub struct Encoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    role_sent: bool,
    finish: Option<Finish>,
    usage: Usage,
}

impl Encoder {
    /// `include_usage`: the client asked for the usage chunk (`stream_options.include_usage`).
    pub fn new(model: &str, include_usage: bool) -> Encoder {
        Encoder {
            id: format!("chatcmpl-{:016x}", rand::random::<u64>()),
            model: model.to_string(),
            created: now_secs(),
            include_usage,
            role_sent: false,
            finish: None,
            usage: Usage::default(),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<Finish>) -> Frame {
        let body = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish.map(finish_name)}],
        });
        Frame::data(body.to_string())
    }

    fn role(&mut self, out: &mut Vec<Frame>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }
}

impl chat::StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Frame> {
        let mut out = Vec::new();
        match event {
            StreamEvent::Start { id, .. } => {
                if !id.is_empty() {
                    self.id = completion_id(id);
                }
                self.role(&mut out);
            }
            StreamEvent::Text(t) => {
                self.role(&mut out);
                out.push(self.chunk(json!({"content": t}), None));
            }
            StreamEvent::Thinking(t) => {
                self.role(&mut out);
                out.push(self.chunk(json!({"reasoning_content": t}), None));
            }
            StreamEvent::ThinkingSignature(_) => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                self.role(&mut out);
                out.push(self.chunk(
                    json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                ));
            }
            StreamEvent::ToolCallArguments { index, fragment } => {
                out.push(
                    self.chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}), None),
                );
            }
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Finish(f) => self.finish = Some(*f),
        }
        out
    }

    fn finish(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        self.role(&mut out);
        out.push(self.chunk(json!({}), Some(self.finish.unwrap_or_default())));
        if self.include_usage {
            let body = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage_json(&self.usage),
            });
            out.push(Frame::data(body.to_string()));
        }
        out.push(Frame::data("[DONE]".into()));
        out
    }

    fn fail(&mut self, message: &str) -> Vec<Frame> {
        vec![Frame::data(
            json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": "upstream_stream_failed"}})
                .to_string(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{StreamDecoder as _, StreamEncoder as _};

    const REQUEST: &str = r#"{
      "model": "o4-mini",
      "messages": [
        {"role": "developer", "content": "You are terse."},
        {"role": "user", "content": [
          {"type": "text", "text": "What is in this image, and what is the weather in Paris?"},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}}]},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_abc123", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temp_c\":21}"}
      ],
      "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": false}}],
      "tool_choice": "auto", "parallel_tool_calls": true, "max_completion_tokens": 1024, "reasoning_effort": "low",
      "stream": true, "stream_options": {"include_usage": true}
    }"#;

    #[test]
    fn a_full_openai_request_reads_into_the_shared_shape() {
        let r = parse_request(REQUEST.as_bytes()).unwrap();
        assert_eq!(r.system, vec!["You are terse."]);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(
            r.messages[0].parts[1],
            Part::Image(Image::Inline { mime: "image/png".into(), data: "iVBORw0KGgo=".into() })
        );
        assert!(matches!(&r.messages[1].parts[0], Part::ToolCall(c) if c.arguments == r#"{"city":"Paris"}"#));
        assert!(matches!(&r.messages[2].parts[0],
            Part::ToolResult(t) if t.call_id == "call_abc123" && t.name.as_deref() == Some("get_weather")));
        assert_eq!(r.max_tokens, Some(1024));
        assert_eq!(r.reasoning.unwrap().effort, Some(Effort::Low));
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert!(r.stream);
    }

    #[test]
    fn the_shared_shape_writes_back_as_openai() {
        let r = parse_request(REQUEST.as_bytes()).unwrap();
        let body = build_request(&r, "gpt-x", OutputCap::MaxTokens).unwrap();
        assert_eq!(body["model"], "gpt-x");
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "You are terse."}));
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["name"], "get_weather");
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temp_c\":21}"})
        );
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["tools"][0]["function"]["parameters"]["required"][0], "city");
        assert_eq!(body["reasoning_effort"], "low");
    }

    #[test]
    fn unsupported_parts_and_roles_are_refused_clearly() {
        let audio = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#;
        assert!(parse_request(audio.as_bytes()).unwrap_err().to_string().contains("text and image"));
        let role = r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#;
        assert!(parse_request(role.as_bytes()).unwrap_err().to_string().contains("wizard"));
        let effort = r#"{"model":"m","reasoning_effort":"huge","messages":[{"role":"user","content":"x"}]}"#;
        assert!(parse_request(effort.as_bytes()).is_err());
    }

    #[test]
    fn a_completion_reads_with_usage_normalised() {
        let body = br#"{"id":"chatcmpl-abc123","object":"chat.completion","created":1735000000,"model":"o4-mini",
          "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_def456","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}],
          "usage":{"prompt_tokens":1200,"completion_tokens":150,"total_tokens":1350,
            "prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":128}}}"#;
        let r = parse_reply(body).unwrap();
        assert_eq!(r.finish, Finish::ToolCalls);
        assert_eq!(r.usage, Usage { input: 1200, cache_read: 1024, cache_write: 0, output: 150, reasoning: 128 });
        assert_eq!(r.tool_calls().next().unwrap().id, "call_def456");
        let back = render_reply(&r);
        assert_eq!(back["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(back["usage"]["total_tokens"], 1350);
        assert_eq!(back["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn a_stream_decodes_into_events_and_encodes_back() {
        let chunks = [
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Checking."},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":18,"total_tokens":100}}"#,
            "[DONE]",
        ];
        let mut d = Decoder::default();
        let events: Vec<StreamEvent> = chunks.iter().flat_map(|c| d.decode("", c).unwrap()).collect();
        assert!(d.complete());
        assert_eq!(events[0], StreamEvent::Start { id: "chatcmpl-1".into(), model: "gpt-4o".into() });
        assert!(events.contains(&StreamEvent::ToolCallStart {
            index: 0,
            id: "call_1".into(),
            name: "get_weather".into()
        }));
        assert!(events.contains(&StreamEvent::ToolCallArguments { index: 0, fragment: "{\"city\":".into() }));
        assert!(events.contains(&StreamEvent::Finish(Finish::ToolCalls)));
        assert!(events.contains(&StreamEvent::Usage(Usage { input: 82, output: 18, ..Default::default() })));

        let mut e = Encoder::new("claude-x", true);
        let mut frames: Vec<Frame> = events.iter().flat_map(|ev| e.encode(ev)).collect();
        frames.extend(e.finish());
        let datas: Vec<&str> = frames.iter().map(|f| f.data.as_str()).collect();
        assert_eq!(*datas.last().unwrap(), "[DONE]");
        let usage: Value = serde_json::from_str(datas[datas.len() - 2]).unwrap();
        assert_eq!(usage["usage"]["total_tokens"], 100);
        let finish: Value = serde_json::from_str(datas[datas.len() - 3]).unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let first: Value = serde_json::from_str(datas[0]).unwrap();
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    }

    #[test]
    fn the_usage_chunk_is_sent_only_when_asked_for() {
        let mut e = Encoder::new("m", false);
        let frames = e.finish();
        assert_eq!(frames.len(), 3, "role, finish, [DONE]");
        assert!(e.fail("boom")[0].data.contains("\"error\""));
    }

    #[test]
    fn an_error_chunk_mid_stream_is_an_error() {
        let mut d = Decoder::default();
        assert!(d.decode("", r#"{"error":{"message":"overloaded"}}"#).is_err());
        assert!(d.decode("", "{not json").is_err());
    }
}
