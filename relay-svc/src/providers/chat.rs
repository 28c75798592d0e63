//! The chat conversation every wire format translates to and from, so that an OpenAI, Anthropic or Gemini
//! client can reach a channel that speaks any of the three. Requests, whole replies and stream events each
//! have one shape here; an adaptor per wire format reads it from and writes it to that format's JSON.
//!
//! When the client and the channel speak the same format, the relay does not come through here at all: the
//! body is passed through with only the model rewritten, so no field is lost and nothing is re-encoded.

use serde_json::Value;

/// A chat request, whatever format it arrived in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub model: String,
    /// System and developer instructions in order; formats with a single system field join them with a blank line.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// Output cap (visible output plus reasoning).
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub reasoning: Option<Reasoning>,
    /// `Some(false)`: at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    /// Ask for a JSON object answer (OpenAI `response_format`, Gemini `responseMimeType`); the schema when given.
    pub json_output: Option<JsonOutput>,
    pub stream: bool,
    /// The end user, for the upstream's abuse tracking.
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn. Tool results travel in user turns (as Anthropic and Gemini carry them); an OpenAI `tool`
/// message becomes a user turn holding one [`Part::ToolResult`], and consecutive ones share a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image(Image),
    ToolCall(ToolCall),
    ToolResult(ToolResult),
    /// Reasoning text; `signature` is Anthropic's (or Gemini's thought signature), replayed verbatim to the
    /// same provider and dropped elsewhere.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Anthropic's encrypted reasoning block, only meaningful to Anthropic.
    RedactedThinking(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Image {
    /// An http(s) URL.
    Url(String),
    /// Raw base64 (no `data:` prefix) and its media type.
    Inline { mime: String, data: String },
}

impl Image {
    /// Reads an OpenAI-style image URL: `data:<mime>;base64,<payload>` becomes [`Image::Inline`].
    pub fn from_url(url: &str) -> Image {
        url.strip_prefix("data:")
            .and_then(|rest| rest.split_once(";base64,"))
            .map(|(mime, data)| Image::Inline { mime: mime.to_string(), data: data.to_string() })
            .unwrap_or_else(|| Image::Url(url.to_string()))
    }

    /// The OpenAI-style URL (a data URL for inline images).
    pub fn to_url(&self) -> String {
        match self {
            Image::Url(u) => u.clone(),
            Image::Inline { mime, data } => format!("data:{mime};base64,{data}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text (OpenAI's form); formats that want an object parse it.
    pub arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object: an empty string means `{}`; anything that is not JSON is an error.
    pub fn arguments_object(&self) -> Result<Value, String> {
        if self.arguments.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(&self.arguments)
            .map_err(|e| format!("the arguments of tool call {} are not valid JSON: {e}", self.id))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The id of the call this answers.
    pub call_id: String,
    /// The called function's name when the format carries it (Gemini needs it; see [`Request::tool_name_of`]).
    pub name: Option<String>,
    /// The result as text (JSON text when the tool returned structured data).
    pub content: String,
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments; `None` means no arguments.
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    /// Some tool must be called.
    Required,
    None,
    /// This function must be called.
    Function(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
}

impl Effort {
    pub fn parse(s: &str) -> Option<Effort> {
        match s {
            "minimal" | "none" => Some(Effort::Minimal),
            "low" => Some(Effort::Low),
            "medium" => Some(Effort::Medium),
            "high" | "xhigh" | "max" => Some(Effort::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }

    /// The gateway-wide effort → thinking budget mapping (no provider publishes one).
    pub fn budget_tokens(self) -> u64 {
        match self {
            Effort::Minimal => 1024,
            Effort::Low => 2048,
            Effort::Medium => 8192,
            Effort::High => 24576,
        }
    }

    /// The inverse of [`Effort::budget_tokens`], rounding to the nearest level.
    pub fn from_budget(budget: u64) -> Effort {
        match budget {
            0..=1536 => Effort::Minimal,
            1537..=4096 => Effort::Low,
            4097..=16384 => Effort::Medium,
            _ => Effort::High,
        }
    }
}

/// Reasoning asked for: an effort level and/or an explicit token budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reasoning {
    pub effort: Option<Effort>,
    pub budget_tokens: Option<u64>,
    /// Return the reasoning text (Anthropic thinking blocks, Gemini thoughts) when the provider offers it.
    pub include_thoughts: bool,
    /// Reasoning explicitly switched off.
    pub disabled: bool,
}

impl Reasoning {
    /// The token budget to ask a budget-based provider for.
    pub fn budget(&self) -> Option<u64> {
        if self.disabled {
            return None;
        }
        self.budget_tokens.or(self.effort.map(Effort::budget_tokens))
    }

    /// The effort level to ask an effort-based provider for.
    pub fn effort_level(&self) -> Option<Effort> {
        if self.disabled {
            return None;
        }
        self.effort.or(self.budget_tokens.map(Effort::from_budget))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonOutput {
    pub schema: Option<Value>,
    pub name: Option<String>,
}

impl Request {
    /// The function name of the tool call `call_id` in an earlier assistant turn (Gemini's results need it).
    pub fn tool_name_of(&self, call_id: &str) -> Option<&str> {
        self.messages.iter().flat_map(|m| &m.parts).find_map(|p| match p {
            Part::ToolCall(c) if c.id == call_id => Some(c.name.as_str()),
            _ => None,
        })
    }

    /// The system instructions as one text (blank line between parts), if there are any.
    pub fn system_text(&self) -> Option<String> {
        let parts: Vec<&str> = self.system.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// Appends `part` to the last turn when it has `role`, else starts a new turn: consecutive same-role turns
    /// merge, as Anthropic and Gemini expect.
    pub fn push(&mut self, role: Role, part: Part) {
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.parts.push(part),
            _ => self.messages.push(Message { role, parts: vec![part] }),
        }
    }
}

/// A whole (non-streaming) answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub id: String,
    pub model: String,
    /// Text, thinking and tool calls in the order the model produced them.
    pub parts: Vec<Part>,
    pub finish: Finish,
    pub usage: Usage,
}

impl Reply {
    /// The visible text, concatenated.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The reasoning text, concatenated.
    pub fn thinking(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Thinking { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether the answer said anything at all (text, reasoning, a tool call, an image); one that did not is free.
    pub fn says_something(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Text(t) => !t.is_empty(),
            Part::Thinking { text, .. } => !text.is_empty(),
            Part::ToolCall(_) | Part::Image(_) | Part::RedactedThinking(_) => true,
            Part::ToolResult(_) => false,
        })
    }

    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.parts.iter().filter_map(|p| match p {
            Part::ToolCall(c) => Some(c),
            _ => None,
        })
    }
}

/// Why the model stopped, in the terms all three formats share (wire-formats §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finish {
    #[default]
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// Token counts normalised across formats (wire-formats §6.9); billing reads these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All input tokens, cache reads and writes included (OpenAI `prompt_tokens`).
    pub input: i64,
    /// Input tokens served from the provider's prompt cache.
    pub cache_read: i64,
    /// Input tokens written to the prompt cache (Anthropic).
    pub cache_write: i64,
    /// All output tokens, reasoning included (OpenAI `completion_tokens`).
    pub output: i64,
    /// Reasoning tokens inside `output`.
    pub reasoning: i64,
}

/// One step of a streamed answer. Decoders turn upstream events into these; encoders turn them into the
/// client's frames. Tool-call `index` counts tool calls only (0, 1, …), in order of first appearance.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Opens the answer; comes before anything else.
    Start {
        id: String,
        model: String,
    },
    Text(String),
    Thinking(String),
    /// The signature closing the current thinking block (Anthropic, Gemini thought signatures).
    ThinkingSignature(String),
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolCallArguments {
        index: usize,
        fragment: String,
    },
    /// Running totals so far; the latest replaces earlier ones.
    Usage(Usage),
    Finish(Finish),
}

impl StreamEvent {
    /// Whether this event is part of what the answer says (an answer of none of these is free).
    pub fn says_something(&self) -> bool {
        match self {
            StreamEvent::Text(s) | StreamEvent::Thinking(s) => !s.is_empty(),
            StreamEvent::ToolCallStart { .. } => true,
            StreamEvent::ToolCallArguments { fragment, .. } => !fragment.is_empty(),
            StreamEvent::Start { .. }
            | StreamEvent::ThinkingSignature(_)
            | StreamEvent::Usage(_)
            | StreamEvent::Finish(_) => false,
        }
    }
}

/// One server-sent event for the client: an optional `event:` name (Anthropic needs it) and the `data:` JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub event: Option<&'static str>,
    pub data: String,
}

impl Frame {
    pub fn data(data: String) -> Frame {
        Frame { event: None, data }
    }

    pub fn named(event: &'static str, data: String) -> Frame {
        Frame { event: Some(event), data }
    }

    /// The bytes on the wire, ending with the blank line.
    pub fn to_bytes(&self) -> bytes::Bytes {
        let mut out = String::with_capacity(self.data.len() + 32);
        if let Some(e) = self.event {
            out.push_str("event: ");
            out.push_str(e);
            out.push('\n');
        }
        out.push_str("data: ");
        out.push_str(&self.data);
        out.push_str("\n\n");
        out.into()
    }
}

/// Reads one upstream stream format into [`StreamEvent`]s. Stateful: a decoder lives for one stream.
pub trait StreamDecoder: Send {
    /// One SSE event (`event` is its `event:` name or empty). An upstream error event is an `Err`.
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, crate::error::RelayError>;
    /// Whether the upstream said the answer is complete (`[DONE]`, `message_stop`, a final `finishReason`).
    fn complete(&self) -> bool;
    /// Whether the decoder reports what the answer says (text, reasoning, tool calls); one that reads only usage
    /// and completion cannot tell an empty answer from another, so its answers are never taken for empty.
    fn reads_answer(&self) -> bool {
        true
    }
}

/// Writes [`StreamEvent`]s as one client stream format. Stateful: an encoder lives for one stream.
pub trait StreamEncoder: Send {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Frame>;
    /// The closing frames after the upstream completed normally (finish, usage, terminator).
    fn finish(&mut self) -> Vec<Frame>;
    /// The frame that ends a stream which failed after it started; never a normal finish.
    fn fail(&mut self, message: &str) -> Vec<Frame>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_become_inline_images_and_back() {
        let img = Image::from_url("data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(img, Image::Inline { mime: "image/png".into(), data: "iVBORw0KGgo=".into() });
        assert_eq!(img.to_url(), "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(Image::from_url("https://x/y.jpg"), Image::Url("https://x/y.jpg".into()));
    }

    #[test]
    fn tool_arguments_parse_strictly() {
        let call = |a: &str| ToolCall { id: "c".into(), name: "f".into(), arguments: a.into() };
        assert_eq!(call("").arguments_object().unwrap(), serde_json::json!({}));
        assert_eq!(call(r#"{"a":1}"#).arguments_object().unwrap(), serde_json::json!({"a":1}));
        assert!(call("{oops").arguments_object().is_err());
    }

    #[test]
    fn same_role_turns_merge() {
        let mut r = Request::default();
        r.push(Role::User, Part::Text("a".into()));
        r.push(Role::User, Part::Text("b".into()));
        r.push(Role::Assistant, Part::Text("c".into()));
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[0].parts.len(), 2);
    }

    #[test]
    fn effort_and_budget_map_both_ways() {
        let r = Reasoning { effort: Some(Effort::Low), ..Default::default() };
        assert_eq!(r.budget(), Some(2048));
        let r = Reasoning { budget_tokens: Some(20_000), ..Default::default() };
        assert_eq!(r.effort_level(), Some(Effort::High));
        let off = Reasoning { disabled: true, effort: Some(Effort::High), ..Default::default() };
        assert_eq!((off.budget(), off.effort_level()), (None, None));
    }
}
