//! Whole (non-streaming) Anthropic answers: an Anthropic channel's read into the chat shape, and the chat shape
//! rendered for an Anthropic client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Block, ErrorDetail, OutputBlock, UsageOut, WireUsage, arguments_text, finish_of, message_id, stop_reason_of,
    tool_input,
};
use crate::error::RelayError;
use crate::providers::chat::{self, Part, ToolCall};

#[derive(Deserialize)]
struct WireReply {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<OutputBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

/// Reads an Anthropic channel's answer. Usage is normalised (wire-formats §6.9: input counts the cache); tool
/// inputs become compact arguments text; server-tool and unknown blocks are skipped.
pub fn parse_reply(body: &[u8]) -> Result<chat::Reply, RelayError> {
    let reply: WireReply = serde_json::from_slice(body)
        .map_err(|e| RelayError::UpstreamFailed(format!("malformed Anthropic answer: {e}")))?;
    if reply.kind == "error" {
        let error = reply.error.unwrap_or_default();
        return Err(RelayError::UpstreamFailed(format!(
            "Anthropic answered 200 with an error: {}: {}",
            error.kind, error.message
        )));
    }
    let parts = reply
        .content
        .into_iter()
        .filter_map(|block| match block {
            OutputBlock::Text { text } => Some(Part::Text(text)),
            OutputBlock::Thinking { thinking, signature } => {
                Some(Part::Thinking { text: thinking, signature: signature.filter(|s| !s.is_empty()) })
            }
            OutputBlock::RedactedThinking { data } => Some(Part::RedactedThinking(data)),
            OutputBlock::ToolUse { id, name, input } => {
                Some(Part::ToolCall(ToolCall { id, name, arguments: arguments_text(&input) }))
            }
            OutputBlock::Other => None,
        })
        .collect();
    Ok(chat::Reply {
        id: reply.id,
        model: reply.model,
        parts,
        finish: reply.stop_reason.as_deref().map(finish_of).unwrap_or_default(),
        usage: reply.usage.normalise(),
    })
}

#[derive(Serialize)]
struct ReplyOut<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: UsageOut,
}

/// Renders an answer for an Anthropic client. Thinking without a signature (another provider's reasoning) gets an
/// empty one, which Anthropic clients accept and the gateway drops when the conversation comes back.
#[allow(clippy::expect_used, reason = "a struct of strings, numbers and JSON values has no failing Serialize")]
pub fn render_reply(reply: &chat::Reply) -> Value {
    let content: Vec<Block> = reply
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) if text.is_empty() => None,
            Part::Text(text) => Some(Block::Text { text: text.clone() }),
            Part::Thinking { text, signature } => {
                Some(Block::Thinking { thinking: text.clone(), signature: Some(signature.clone().unwrap_or_default()) })
            }
            Part::RedactedThinking(data) => Some(Block::RedactedThinking { data: data.clone() }),
            // Call ids pass unchanged: clients only echo them back in tool_result blocks.
            Part::ToolCall(call) => Some(Block::ToolUse {
                id: call.id.clone(),
                name: call.name.clone(),
                input: tool_input(&call.arguments),
            }),
            Part::Image(_) | Part::ToolResult(_) => None,
        })
        .collect();
    let called_tools = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    let out = ReplyOut {
        id: message_id(&reply.id),
        kind: "message",
        role: "assistant",
        model: &reply.model,
        stop_reason: stop_reason_of(reply.finish, called_tools),
        content,
        stop_sequence: None,
        usage: UsageOut::from(&reply.usage),
    };
    serde_json::to_value(out).expect("an answer of strings, numbers and JSON values always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{Finish, Usage};
    use serde_json::json;

    const RESPONSE: &[u8] = include_bytes!("../../../tests/fixtures/anthropic/response.json");

    #[test]
    fn the_documented_response_reads_into_a_reply() {
        let reply = parse_reply(RESPONSE).unwrap();
        assert_eq!(reply.id, "msg_01XYZ");
        assert_eq!(reply.model, "claude-sonnet-4-5-20250929");
        assert_eq!(
            reply.parts,
            vec![
                Part::Thinking { text: "Need the weather tool.".into(), signature: Some("EqQBCkYIARgCIkB".into()) },
                Part::Text("Checking Paris.".into()),
                Part::ToolCall(ToolCall {
                    id: "toolu_01B".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into()
                }),
            ]
        );
        assert_eq!(reply.finish, Finish::ToolCalls);
        assert_eq!(reply.usage, Usage { input: 1204, cache_read: 1024, cache_write: 0, output: 150, reasoning: 0 });
    }

    #[test]
    fn a_parsed_reply_renders_back_into_the_same_anthropic_body() {
        let original: Value = serde_json::from_slice(RESPONSE).unwrap();
        assert_eq!(render_reply(&parse_reply(RESPONSE).unwrap()), original);
    }

    #[test]
    fn stop_reasons_map_to_finishes_and_back() {
        for (reason, finish, back) in [
            ("end_turn", Finish::Stop, "end_turn"),
            ("stop_sequence", Finish::Stop, "end_turn"),
            ("pause_turn", Finish::Stop, "end_turn"),
            ("max_tokens", Finish::Length, "max_tokens"),
            ("model_context_window_exceeded", Finish::Length, "max_tokens"),
            ("tool_use", Finish::ToolCalls, "tool_use"),
            ("refusal", Finish::ContentFilter, "refusal"),
        ] {
            let body = format!(r#"{{"id":"msg_1","type":"message","content":[],"stop_reason":"{reason}"}}"#);
            let reply = parse_reply(body.as_bytes()).unwrap();
            assert_eq!(reply.finish, finish, "{reason}");
            assert_eq!(render_reply(&reply)["stop_reason"], back, "{reason}");
        }
    }

    #[test]
    fn answers_from_other_providers_render_as_anthropic_messages() {
        let reply = chat::Reply {
            id: "chatcmpl-abc123".into(),
            model: "o4-mini".into(),
            parts: vec![
                Part::Thinking { text: "hmm".into(), signature: None },
                Part::Text(String::new()),
                Part::Text("Checking.".into()),
                Part::ToolCall(ToolCall { id: "call_1".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() }),
                Part::ToolCall(ToolCall { id: "call_2".into(), name: "g".into(), arguments: "{broken".into() }),
            ],
            // OpenAI-compatible servers sometimes say "stop" after calling tools.
            finish: Finish::Stop,
            usage: Usage { input: 1200, cache_read: 1024, cache_write: 0, output: 150, reasoning: 128 },
        };
        assert_eq!(
            render_reply(&reply),
            json!({
                "id": "msg_chatcmpl-abc123", "type": "message", "role": "assistant", "model": "o4-mini",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": ""},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                    {"type": "tool_use", "id": "call_2", "name": "g", "input": {}}],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 176, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024,
                          "output_tokens": 150}
            })
        );
    }

    #[test]
    fn server_tool_blocks_are_skipped_and_thinking_tokens_counted() {
        let reply = parse_reply(
            br#"{"id":"msg_2","type":"message","role":"assistant","model":"m","content":[
                {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
                {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},
                {"type":"redacted_thinking","data":"enc"},
                {"type":"text","text":"Found it.","citations":[]},
                {"type":"tool_use","id":"toolu_2","name":"f","input":{}}],
              "stop_reason":"end_turn",
              "usage":{"input_tokens":10,"cache_creation_input_tokens":null,"output_tokens":20,
                       "output_tokens_details":{"thinking_tokens":7}}}"#,
        )
        .unwrap();
        assert_eq!(reply.parts[0], Part::RedactedThinking("enc".into()));
        assert_eq!(reply.parts[1], Part::Text("Found it.".into()));
        assert_eq!(reply.tool_calls().next().unwrap().arguments, "{}");
        assert_eq!(reply.usage, Usage { input: 10, cache_read: 0, cache_write: 0, output: 20, reasoning: 7 });
    }

    #[test]
    fn errors_and_garbage_from_upstream_are_upstream_failures() {
        let e = parse_reply(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        assert!(matches!(e, Err(RelayError::UpstreamFailed(ref m)) if m.contains("overloaded_error")), "{e:?}");
        assert!(matches!(parse_reply(b"<html>"), Err(RelayError::UpstreamFailed(_))));
        assert!(matches!(
            parse_reply(br#"{"type":"message","content":[{"type":"tool_use","name":"f"}]}"#),
            Err(RelayError::UpstreamFailed(_))
        ));
    }
}
