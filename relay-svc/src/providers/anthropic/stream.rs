//! The Anthropic SSE stream: an Anthropic channel's events decoded into [`StreamEvent`]s, and [`StreamEvent`]s
//! encoded as the stream an Anthropic client expects (wire-formats §4.3, §6.10).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ErrorDetail, OutputBlock, UsageOut, WireUsage, finish_of, message_id, stop_reason_of};
use crate::error::RelayError;
use crate::providers::chat::{self, Finish, Frame, StreamEvent};

/// Decodes an Anthropic channel's stream. Tool calls are renumbered: Anthropic's block `index` counts every block,
/// ours counts tool calls only. Redacted thinking and server-tool blocks have no place in the chat stream and are
/// skipped.
#[derive(Debug, Default)]
pub struct Decoder {
    /// (Anthropic block index, our tool-call index) of each `tool_use` block so far.
    tool_blocks: Vec<(usize, usize)>,
    /// The running totals: `message_start` gives the input side, each `message_delta` replaces what it carries.
    usage: WireUsage,
    complete: bool,
}

#[derive(Deserialize)]
struct TypeProbe<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct BlockStart {
    index: usize,
    content_block: OutputBlock,
}

#[derive(Deserialize)]
struct BlockDelta<'a> {
    index: usize,
    #[serde(borrow)]
    delta: DeltaBody<'a>,
}

/// Flat rather than a tagged enum: deltas are most of a stream, and a flat struct parses without buffering.
#[derive(Deserialize)]
struct DeltaBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: StopDelta,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Default, Deserialize)]
struct StopDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    #[serde(default)]
    error: ErrorDetail,
}

fn parse<'a, T: Deserialize<'a>>(data: &'a str, event: &str) -> Result<T, RelayError> {
    serde_json::from_str(data)
        .map_err(|e| RelayError::UpstreamFailed(format!("malformed Anthropic {event} event: {e}")))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl Decoder {
    fn tool_index(&self, block: usize) -> Option<usize> {
        self.tool_blocks.iter().find(|(b, _)| *b == block).map(|(_, index)| *index)
    }
}

impl chat::StreamDecoder for Decoder {
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, RelayError> {
        // The event name equals the data's `type`; read the latter only when a server leaves the name out.
        let probed;
        let kind = if event.is_empty() {
            probed = parse::<TypeProbe>(data, "stream")?.kind;
            probed.as_ref()
        } else {
            event
        };
        match kind {
            "message_start" => {
                let start: MessageStart = parse(data, kind)?;
                self.usage = start.message.usage;
                Ok(vec![
                    StreamEvent::Start { id: start.message.id, model: start.message.model },
                    StreamEvent::Usage(self.usage.normalise()),
                ])
            }
            "content_block_start" => {
                let start: BlockStart = parse(data, kind)?;
                Ok(match start.content_block {
                    OutputBlock::ToolUse { id, name, input } => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks.push((start.index, index));
                        let mut events = vec![StreamEvent::ToolCallStart { index, id, name }];
                        // Anthropic opens with `{}` and streams the input; a server sending it whole here is read too.
                        match input {
                            Value::Null => {}
                            Value::Object(ref o) if o.is_empty() => {}
                            input => events.push(StreamEvent::ToolCallArguments { index, fragment: input.to_string() }),
                        }
                        events
                    }
                    OutputBlock::Text { text } => non_empty(Some(text)).map(StreamEvent::Text).into_iter().collect(),
                    OutputBlock::Thinking { thinking, signature } => non_empty(Some(thinking))
                        .map(StreamEvent::Thinking)
                        .into_iter()
                        .chain(non_empty(signature).map(StreamEvent::ThinkingSignature))
                        .collect(),
                    OutputBlock::RedactedThinking { .. } | OutputBlock::Other => Vec::new(),
                })
            }
            "content_block_delta" => {
                let BlockDelta { index, delta } = parse(data, kind)?;
                let event = match delta.kind.as_ref() {
                    "text_delta" => non_empty(delta.text).map(StreamEvent::Text),
                    "thinking_delta" => non_empty(delta.thinking).map(StreamEvent::Thinking),
                    "signature_delta" => non_empty(delta.signature).map(StreamEvent::ThinkingSignature),
                    // Server-tool blocks stream their input too; only our own tool calls have an index.
                    "input_json_delta" => self
                        .tool_index(index)
                        .zip(non_empty(delta.partial_json))
                        .map(|(index, fragment)| StreamEvent::ToolCallArguments { index, fragment }),
                    _ => None,
                };
                Ok(event.into_iter().collect())
            }
            "message_delta" => {
                let delta: MessageDelta = parse(data, kind)?;
                let mut events = Vec::with_capacity(2);
                if let Some(usage) = delta.usage {
                    self.usage.update(&usage);
                    events.push(StreamEvent::Usage(self.usage.normalise()));
                }
                if let Some(reason) = delta.delta.stop_reason {
                    events.push(StreamEvent::Finish(finish_of(&reason)));
                }
                Ok(events)
            }
            "message_stop" => {
                self.complete = true;
                Ok(Vec::new())
            }
            "error" => {
                let ErrorEvent { error } = parse(data, kind)?;
                Err(RelayError::UpstreamFailed(format!("Anthropic stream error: {}: {}", error.kind, error.message)))
            }
            // ping, content_block_stop, and event types newer than this code.
            _ => Ok(Vec::new()),
        }
    }

    fn complete(&self) -> bool {
        self.complete
    }
}

/// Encodes the chat stream for an Anthropic client (wire-formats §6.10 "To Anthropic"): `message_start` first, a
/// new content block on each switch between thinking, text and each tool call, `message_delta` with the stop
/// reason and usage, `message_stop`.
///
/// Anthropic blocks never interleave, while OpenAI's parallel tool-call deltas may. So a tool call that starts
/// while another one's block is open waits, its fragments buffered, until that block closes (on text, thinking, or
/// the end); the open call keeps streaming meanwhile.
#[derive(Debug)]
pub struct Encoder {
    /// The model named in `message_start` when the stream's Start names none (or never comes).
    model: String,
    started: bool,
    /// After finish() or fail(): nothing more may be written.
    done: bool,
    next_index: usize,
    open: Option<OpenBlock>,
    /// Tool calls in order of first appearance.
    tools: Vec<ToolSlot>,
    usage: chat::Usage,
    finish: Option<Finish>,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    index: usize,
    kind: OpenKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenKind {
    Text,
    /// `signed`: its signature has been sent, so more thinking belongs to a new block.
    Thinking {
        signed: bool,
    },
    /// Position in `tools`.
    Tool(usize),
}

#[derive(Debug)]
struct ToolSlot {
    /// The chat stream's tool-call index.
    call: usize,
    id: String,
    name: String,
    /// Its ToolCallStart has come (fragments may arrive first).
    started: bool,
    state: SlotState,
    /// Fragments received while the block was not open yet.
    buffer: String,
    /// Its Anthropic block index once opened.
    block: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Waiting,
    Open,
    Closed,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Out<'a> {
    MessageStart { message: StartOut<'a> },
    ContentBlockStart { index: usize, content_block: BlockStartOut<'a> },
    ContentBlockDelta { index: usize, delta: DeltaOut<'a> },
    ContentBlockStop { index: usize },
    MessageDelta { delta: StopOut, usage: UsageOut },
    MessageStop,
    Error { error: ErrorOut<'a> },
}

#[derive(Serialize)]
struct StartOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: UsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockStartOut<'a> {
    Text { text: &'static str },
    Thinking { thinking: &'static str, signature: &'static str },
    ToolUse { id: &'a str, name: &'a str, input: Map<String, Value> },
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum DeltaOut<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopOut {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

impl Out<'_> {
    #[allow(
        clippy::expect_used,
        reason = "stream events of strings, numbers and JSON values have no failing Serialize"
    )]
    fn frame(&self) -> Frame {
        let name = match self {
            Out::MessageStart { .. } => "message_start",
            Out::ContentBlockStart { .. } => "content_block_start",
            Out::ContentBlockDelta { .. } => "content_block_delta",
            Out::ContentBlockStop { .. } => "content_block_stop",
            Out::MessageDelta { .. } => "message_delta",
            Out::MessageStop => "message_stop",
            Out::Error { .. } => "error",
        };
        Frame::named(name, serde_json::to_string(self).expect("stream events of strings and numbers always serialise"))
    }
}

impl Encoder {
    pub fn new(model: &str) -> Self {
        Encoder {
            model: model.to_string(),
            started: false,
            done: false,
            next_index: 0,
            open: None,
            tools: Vec::new(),
            usage: chat::Usage::default(),
            finish: None,
        }
    }

    /// Writes `message_start` once; content arriving before any Start gets one with a minted id.
    fn start(&mut self, id: &str, model: &str, out: &mut Vec<Frame>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = message_id(id);
        let model = if model.is_empty() { self.model.as_str() } else { model };
        let message = StartOut {
            id: &id,
            kind: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: UsageOut::from(&self.usage),
        };
        out.push(Out::MessageStart { message }.frame());
    }

    /// Makes a text or (unsigned) thinking block the open one, closing whatever else is open; returns its index.
    /// Tool blocks open through [`Encoder::open_tool`] instead.
    fn enter(&mut self, kind: OpenKind, out: &mut Vec<Frame>) -> usize {
        if let Some(open) = self.open
            && open.kind == kind
        {
            return open.index;
        }
        self.close(out);
        self.flush_waiting(out);
        let index = self.next_block();
        let content_block = if kind == OpenKind::Text {
            BlockStartOut::Text { text: "" }
        } else {
            BlockStartOut::Thinking { thinking: "", signature: "" }
        };
        out.push(Out::ContentBlockStart { index, content_block }.frame());
        self.open = Some(OpenBlock { index, kind });
        index
    }

    fn next_block(&mut self) -> usize {
        self.next_index += 1;
        self.next_index - 1
    }

    fn close(&mut self, out: &mut Vec<Frame>) {
        if let Some(open) = self.open.take() {
            out.push(Out::ContentBlockStop { index: open.index }.frame());
            if let OpenKind::Tool(pos) = open.kind {
                self.tools[pos].state = SlotState::Closed;
            }
        }
    }

    /// Opens the tool call at `pos` with everything buffered for it so far. The caller has closed the open block.
    fn open_tool(&mut self, pos: usize, out: &mut Vec<Frame>) {
        let index = self.next_block();
        let slot = &mut self.tools[pos];
        slot.state = SlotState::Open;
        slot.block = index;
        let content_block = BlockStartOut::ToolUse { id: &slot.id, name: &slot.name, input: Map::new() };
        out.push(Out::ContentBlockStart { index, content_block }.frame());
        if !slot.buffer.is_empty() {
            out.push(
                Out::ContentBlockDelta { index, delta: DeltaOut::InputJson { partial_json: &slot.buffer } }.frame(),
            );
            slot.buffer = String::new();
        }
        self.open = Some(OpenBlock { index, kind: OpenKind::Tool(pos) });
    }

    /// Writes out, one whole block each and in order, the tool calls that waited for the open block to close.
    fn flush_waiting(&mut self, out: &mut Vec<Frame>) {
        for pos in 0..self.tools.len() {
            if self.tools[pos].started && self.tools[pos].state == SlotState::Waiting {
                self.open_tool(pos, out);
                self.close(out);
            }
        }
    }

    fn slot(&mut self, call: usize) -> usize {
        match self.tools.iter().position(|s| s.call == call) {
            Some(pos) => pos,
            None => {
                self.tools.push(ToolSlot {
                    call,
                    id: String::new(),
                    name: String::new(),
                    started: false,
                    state: SlotState::Waiting,
                    buffer: String::new(),
                    block: 0,
                });
                self.tools.len() - 1
            }
        }
    }
}

impl chat::StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Frame> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        match event {
            StreamEvent::Start { id, model } => self.start(id, model, &mut out),
            StreamEvent::Text(text) if !text.is_empty() => {
                self.start("", "", &mut out);
                let index = self.enter(OpenKind::Text, &mut out);
                out.push(Out::ContentBlockDelta { index, delta: DeltaOut::Text { text } }.frame());
            }
            StreamEvent::Thinking(thinking) if !thinking.is_empty() => {
                self.start("", "", &mut out);
                let index = self.enter(OpenKind::Thinking { signed: false }, &mut out);
                out.push(Out::ContentBlockDelta { index, delta: DeltaOut::Thinking { thinking } }.frame());
            }
            // A signature closes its thinking block; one with no thinking open (a Gemini thought signature on a
            // call) gets an empty thinking block of its own so that it still round-trips.
            StreamEvent::ThinkingSignature(signature) if !signature.is_empty() => {
                self.start("", "", &mut out);
                let index = self.enter(OpenKind::Thinking { signed: false }, &mut out);
                out.push(Out::ContentBlockDelta { index, delta: DeltaOut::Signature { signature } }.frame());
                self.open = Some(OpenBlock { index, kind: OpenKind::Thinking { signed: true } });
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start("", "", &mut out);
                let pos = self.slot(*index);
                let slot = &mut self.tools[pos];
                if slot.started {
                    return out;
                }
                slot.started = true;
                slot.id.clone_from(id);
                slot.name.clone_from(name);
                if !matches!(self.open, Some(OpenBlock { kind: OpenKind::Tool(_), .. })) {
                    self.close(&mut out);
                    self.open_tool(pos, &mut out);
                }
            }
            StreamEvent::ToolCallArguments { index, fragment } if !fragment.is_empty() => {
                let pos = self.slot(*index);
                let slot = &mut self.tools[pos];
                match slot.state {
                    SlotState::Waiting => slot.buffer.push_str(fragment),
                    // Closed: a fragment after text or thinking forced its block shut. Anthropic's SDKs accumulate
                    // input by block index, so sending it there keeps the arguments whole.
                    SlotState::Open | SlotState::Closed => {
                        let delta = DeltaOut::InputJson { partial_json: fragment };
                        out.push(Out::ContentBlockDelta { index: slot.block, delta }.frame());
                    }
                }
            }
            StreamEvent::Usage(usage) => self.usage = *usage,
            StreamEvent::Finish(finish) => self.finish = Some(*finish),
            StreamEvent::Text(_)
            | StreamEvent::Thinking(_)
            | StreamEvent::ThinkingSignature(_)
            | StreamEvent::ToolCallArguments { .. } => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.start("", "", &mut out);
        self.close(&mut out);
        self.flush_waiting(&mut out);
        self.done = true;
        let called_tools = self.tools.iter().any(|s| s.started);
        let delta =
            StopOut { stop_reason: stop_reason_of(self.finish.unwrap_or_default(), called_tools), stop_sequence: None };
        out.push(Out::MessageDelta { delta, usage: UsageOut::from(&self.usage) }.frame());
        out.push(Out::MessageStop.frame());
        out
    }

    fn fail(&mut self, message: &str) -> Vec<Frame> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![Out::Error { error: ErrorOut { kind: "api_error", message } }.frame()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{StreamDecoder as _, StreamEncoder as _, Usage};
    use serde_json::json;

    const STREAM: &str = include_str!("../../../tests/fixtures/anthropic/stream.sse");
    const STREAM_ERROR: &str = include_str!("../../../tests/fixtures/anthropic/stream-error.sse");

    /// (event name, data) of each event of an SSE text.
    fn sse(text: &str) -> Vec<(String, String)> {
        text.split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|event| {
                let field = |name: &str| {
                    event.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
                };
                (field("event:"), field("data:"))
            })
            .collect()
    }

    fn decode_all(events: &[(String, String)]) -> (Decoder, Vec<StreamEvent>) {
        let mut decoder = Decoder::default();
        let out = events.iter().flat_map(|(e, d)| decoder.decode(e, d).unwrap()).collect();
        (decoder, out)
    }

    fn names(frames: &[Frame]) -> Vec<&'static str> {
        frames.iter().map(|f| f.event.unwrap()).collect()
    }

    fn data(frame: &Frame) -> Value {
        serde_json::from_str(&frame.data).unwrap()
    }

    #[test]
    fn the_documented_stream_decodes_event_by_event() {
        let events = sse(STREAM);
        let tool = |fragment: &str| vec![StreamEvent::ToolCallArguments { index: 0, fragment: fragment.into() }];
        let expected: Vec<Vec<StreamEvent>> = vec![
            vec![
                StreamEvent::Start { id: "msg_01XYZ".into(), model: "claude-sonnet-4-5-20250929".into() },
                StreamEvent::Usage(Usage { input: 1204, cache_read: 1024, cache_write: 0, output: 1, reasoning: 0 }),
            ],
            vec![],
            vec![],
            vec![StreamEvent::Thinking("Need the weather tool.".into())],
            vec![StreamEvent::ThinkingSignature("EqQBCkYIARgCIkB".into())],
            vec![],
            vec![],
            vec![StreamEvent::Text("Checking Paris.".into())],
            vec![],
            vec![StreamEvent::ToolCallStart { index: 0, id: "toolu_01B".into(), name: "get_weather".into() }],
            tool("{\"city\": \"Par"),
            tool("is\"}"),
            vec![],
            vec![
                StreamEvent::Usage(Usage { input: 1204, cache_read: 1024, cache_write: 0, output: 150, reasoning: 0 }),
                StreamEvent::Finish(Finish::ToolCalls),
            ],
            vec![],
        ];
        assert_eq!(events.len(), expected.len());
        let mut decoder = Decoder::default();
        for ((event, data), want) in events.iter().zip(expected) {
            assert!(!decoder.complete());
            assert_eq!(decoder.decode(event, data).unwrap(), want, "{event}");
        }
        assert!(decoder.complete());
    }

    #[test]
    fn tool_calls_are_numbered_among_tool_calls_only() {
        let stream = [
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"enc"}}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_a","name":"f","input":{}}}"#,
            r#"{"type":"content_block_start","index":3,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}}"#,
            r#"{"type":"content_block_start","index":4,"content_block":{"type":"tool_use","id":"toolu_b","name":"g","input":{"whole":true}}}"#,
            r#"{"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":{}}}"#,
        ];
        // No event names: the decoder reads the type from the data.
        let (_, events) = decode_all(&stream.map(|d| (String::new(), d.to_string())));
        assert_eq!(
            events,
            vec![
                StreamEvent::ToolCallStart { index: 0, id: "toolu_a".into(), name: "f".into() },
                StreamEvent::ToolCallStart { index: 1, id: "toolu_b".into(), name: "g".into() },
                StreamEvent::ToolCallArguments { index: 1, fragment: r#"{"whole":true}"#.into() },
            ]
        );
    }

    #[test]
    fn streamed_usage_replaces_earlier_counts_and_never_sums_them() {
        let stream = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":100,"cache_read_input_tokens":50,"output_tokens":1}}}"#,
            ),
            ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":10}}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":25}}"#,
            ),
        ];
        let (_, events) = decode_all(&stream.map(|(e, d)| (e.to_string(), d.to_string())));
        let usages: Vec<Usage> =
            events.iter().filter_map(|e| if let StreamEvent::Usage(u) = e { Some(*u) } else { None }).collect();
        assert_eq!(
            usages.last(),
            Some(&Usage { input: 150, cache_read: 50, cache_write: 0, output: 25, reasoning: 0 })
        );
        assert_eq!(events.last(), Some(&StreamEvent::Finish(Finish::Length)));

        let mut decoder = Decoder::default();
        decoder.decode("message_start", stream[0].1).unwrap();
        let events = decoder
            .decode(
                "message_delta",
                r#"{"type":"message_delta","delta":{},"usage":{"input_tokens":120,"output_tokens":3}}"#,
            )
            .unwrap();
        assert_eq!(
            events,
            vec![StreamEvent::Usage(Usage { input: 170, cache_read: 50, cache_write: 0, output: 3, reasoning: 0 })]
        );
    }

    #[test]
    fn an_error_event_or_malformed_data_fails_the_stream() {
        let (event, data) = sse(STREAM_ERROR).remove(0);
        let mut decoder = Decoder::default();
        match decoder.decode(&event, &data) {
            Err(RelayError::UpstreamFailed(message)) => {
                assert!(message.contains("overloaded_error") && message.contains("Overloaded"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!decoder.complete());
        assert!(matches!(decoder.decode("content_block_delta", "{oops"), Err(RelayError::UpstreamFailed(_))));
        assert!(matches!(decoder.decode("", "not json"), Err(RelayError::UpstreamFailed(_))));
        assert_eq!(decoder.decode("ping", r#"{"type":"ping"}"#).unwrap(), vec![]);
        assert_eq!(decoder.decode("brand_new_event", r#"{"type":"brand_new_event"}"#).unwrap(), vec![]);
    }

    #[test]
    fn the_encoder_writes_the_documented_event_order() {
        let mut encoder = Encoder::new("alias");
        let events = [
            StreamEvent::Start { id: "msg_01XYZ".into(), model: "claude-sonnet-4-5-20250929".into() },
            StreamEvent::Thinking("Need the weather tool.".into()),
            StreamEvent::ThinkingSignature("EqQBCkYIARgCIkB".into()),
            StreamEvent::Text("Checking Paris.".into()),
            StreamEvent::ToolCallStart { index: 0, id: "toolu_01B".into(), name: "get_weather".into() },
            StreamEvent::ToolCallArguments { index: 0, fragment: "{\"city\": \"Par".into() },
            StreamEvent::ToolCallArguments { index: 0, fragment: "is\"}".into() },
            StreamEvent::Usage(Usage { input: 1204, cache_read: 1024, cache_write: 0, output: 150, reasoning: 0 }),
            StreamEvent::Finish(Finish::ToolCalls),
        ];
        let mut frames: Vec<Frame> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish());

        let documented: Vec<(String, String)> = sse(STREAM).into_iter().filter(|(e, _)| e != "ping").collect();
        assert_eq!(names(&frames), documented.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>());
        for (frame, (event, expected)) in frames.iter().zip(&documented) {
            let mut expected: Value = serde_json::from_str(expected).unwrap();
            match event.as_str() {
                // Usage is not known yet when message_start goes out.
                "message_start" => {
                    expected["message"]["usage"] = json!({"input_tokens": 0, "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0, "output_tokens": 0})
                }
                // The closing usage repeats the input side, as Anthropic's newer streams do.
                "message_delta" => {
                    expected["usage"] = json!({"input_tokens": 180, "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 1024, "output_tokens": 150})
                }
                _ => {}
            }
            assert_eq!(data(frame), expected, "{event}");
        }
    }

    #[test]
    fn decoding_then_encoding_reproduces_the_documented_stream() {
        let (_, events) = decode_all(&sse(STREAM));
        let mut encoder = Encoder::new("alias");
        let mut frames: Vec<Frame> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish());
        let documented: Vec<(String, String)> = sse(STREAM).into_iter().filter(|(e, _)| e != "ping").collect();
        assert_eq!(frames.len(), documented.len());
        for (frame, (event, expected)) in frames.iter().zip(&documented).skip(1) {
            let mut expected: Value = serde_json::from_str(expected).unwrap();
            if event == "message_delta" {
                expected["usage"]["input_tokens"] = json!(180);
                expected["usage"]["cache_creation_input_tokens"] = json!(0);
                expected["usage"]["cache_read_input_tokens"] = json!(1024);
            }
            assert_eq!(data(frame), expected, "{event}");
        }
        // The Usage that followed Start arrived after message_start went out.
        assert_eq!(data(&frames[0])["message"]["id"], "msg_01XYZ");
        let bytes = frames[0].to_bytes();
        assert!(bytes.starts_with(b"event: message_start\ndata: {") && bytes.ends_with(b"}\n\n"));
    }

    #[test]
    fn interleaved_tool_call_fragments_are_buffered_until_their_block_opens() {
        let mut encoder = Encoder::new("m");
        let args = |index: usize, fragment: &str| StreamEvent::ToolCallArguments { index, fragment: fragment.into() };
        let events = [
            StreamEvent::Start { id: "chatcmpl-1".into(), model: "gpt".into() },
            StreamEvent::Text("Checking both.".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_a".into(), name: "f".into() },
            StreamEvent::ToolCallStart { index: 1, id: "call_b".into(), name: "g".into() },
            args(1, r#"{"b":"#),
            args(0, r#"{"a":"#),
            args(1, "2}"),
            args(0, "1}"),
            // OpenAI-compatible servers sometimes say "stop" after tool calls.
            StreamEvent::Finish(Finish::Stop),
        ];
        let mut frames: Vec<Frame> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        frames.extend(encoder.finish());
        assert_eq!(
            names(&frames),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let data: Vec<Value> = frames.iter().map(data).collect();
        assert_eq!(data[0]["message"]["id"], "msg_chatcmpl-1");
        assert_eq!(
            data[4],
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "call_a", "name": "f", "input": {}}})
        );
        assert_eq!(data[5]["delta"], json!({"type": "input_json_delta", "partial_json": r#"{"a":"#}));
        assert_eq!(data[6]["delta"]["partial_json"], "1}");
        assert_eq!(data[7], json!({"type": "content_block_stop", "index": 1}));
        assert_eq!(data[8]["content_block"]["id"], "call_b");
        assert_eq!(data[8]["index"], 2);
        assert_eq!(
            data[9],
            json!({"type": "content_block_delta", "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": r#"{"b":2}"#}})
        );
        assert_eq!(data[11]["delta"], json!({"stop_reason": "tool_use", "stop_sequence": null}));
    }

    #[test]
    fn a_waiting_tool_call_is_written_out_before_later_text() {
        let mut encoder = Encoder::new("m");
        let events = [
            StreamEvent::ToolCallStart { index: 0, id: "call_a".into(), name: "f".into() },
            StreamEvent::ToolCallStart { index: 1, id: "call_b".into(), name: "g".into() },
            StreamEvent::ToolCallArguments { index: 1, fragment: "{}".into() },
            StreamEvent::Text("done".into()),
        ];
        let frames: Vec<Frame> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        let data: Vec<Value> = frames.iter().map(data).collect();
        let starts: Vec<(&Value, &Value)> = data
            .iter()
            .filter(|d| d["type"] == "content_block_start")
            .map(|d| (&d["index"], &d["content_block"]["type"]))
            .collect();
        assert_eq!(
            starts,
            [(&json!(0), &json!("tool_use")), (&json!(1), &json!("tool_use")), (&json!(2), &json!("text"))]
        );
        // A call whose start came while another call was open does not overtake it.
        assert_eq!(data[1]["content_block"]["id"], "call_a");
    }

    #[test]
    fn thinking_blocks_split_at_signatures() {
        let mut encoder = Encoder::new("m");
        let events = [
            StreamEvent::Thinking("first".into()),
            StreamEvent::ThinkingSignature("sig1".into()),
            StreamEvent::Thinking("second".into()),
            StreamEvent::Text(String::new()),
            StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "f".into() },
            StreamEvent::ThinkingSignature("gemini-thought".into()),
        ];
        let frames: Vec<Frame> = events.iter().flat_map(|e| encoder.encode(e)).collect();
        let blocks: Vec<(i64, String)> = frames
            .iter()
            .map(data)
            .filter(|d| d["type"] == "content_block_start")
            .map(|d| (d["index"].as_i64().unwrap(), d["content_block"]["type"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            blocks,
            [(0, "thinking".into()), (1, "thinking".into()), (2, "tool_use".into()), (3, "thinking".into())]
        );
        let last = data(frames.last().unwrap());
        assert_eq!(last["delta"], json!({"type": "signature_delta", "signature": "gemini-thought"}));
    }

    #[test]
    fn finish_without_a_start_still_writes_a_whole_message() {
        let mut encoder = Encoder::new("alias");
        encoder.encode(&StreamEvent::Usage(Usage { input: 12, output: 3, ..Default::default() }));
        let frames = encoder.finish();
        assert_eq!(names(&frames), ["message_start", "message_delta", "message_stop"]);
        let start = data(&frames[0]);
        assert_eq!(start["message"]["model"], "alias");
        assert!(start["message"]["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(start["message"]["content"], json!([]));
        assert_eq!(start["message"]["usage"]["input_tokens"], 12);
        assert_eq!(
            data(&frames[1]),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                          "output_tokens": 3}})
        );
        assert_eq!(data(&frames[2]), json!({"type": "message_stop"}));
        assert!(encoder.finish().is_empty());
    }

    #[test]
    fn fail_writes_one_error_event_and_nothing_after_it() {
        let mut encoder = Encoder::new("m");
        encoder.encode(&StreamEvent::Start { id: "msg_1".into(), model: "m".into() });
        encoder.encode(&StreamEvent::Text("partial".into()));
        let frames = encoder.fail("the upstream provider failed to answer");
        assert_eq!(names(&frames), ["error"]);
        assert_eq!(
            data(&frames[0]),
            json!({"type": "error", "error": {"type": "api_error", "message": "the upstream provider failed to answer"}})
        );
        assert!(encoder.encode(&StreamEvent::Text("more".into())).is_empty());
        assert!(encoder.finish().is_empty());
        assert!(encoder.fail("again").is_empty());
    }
}
