//! Whole Gemini answers ⇄ [`chat::Reply`].

use serde_json::Value;

use super::{CallIds, FunctionCall, GenerateContentResponse, UsageMetadata, WirePart, from_object, mint_response_id};
use crate::error::RelayError;
use crate::providers::chat::{self, Part, ToolCall};

/// A Gemini `generateContent` answer → the shared reply. Only the first candidate is read. A blocked prompt (a 200
/// with no candidates but a `promptFeedback.blockReason`) is a `ContentFilter` finish with no parts; an error
/// object in a 200 body is an upstream failure.
pub fn parse_reply(body: &[u8], fallback_model: &str) -> Result<chat::Reply, RelayError> {
    let r: GenerateContentResponse =
        from_object(body).map_err(|e| RelayError::UpstreamFailed(format!("malformed Gemini response: {e}")))?;
    if let Some(e) = &r.error {
        return Err(RelayError::UpstreamFailed(format!(
            "Gemini answered with an error: {}",
            e.message.as_deref().unwrap_or("(no message)")
        )));
    }
    let id = r.response_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(mint_response_id);
    let model = r.model_version.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| fallback_model.to_string());
    let mut ids = CallIds::for_response(&id);
    let mut parts = Vec::new();
    let wire_parts = r.candidates.first().and_then(|c| c.content.as_ref()).map_or(&[][..], |c| &c.parts[..]);
    for part in wire_parts {
        let thought = part.is_thought();
        if let Some(signature) = part.thought_signature.clone().filter(|_| !thought) {
            parts.push(Part::Thinking { text: String::new(), signature: Some(signature) });
        }
        if let Some(call) = &part.function_call {
            let (_, id) = ids.mint();
            parts.push(Part::ToolCall(ToolCall { id, name: call.name.clone(), arguments: call.arguments() }));
        } else if thought {
            let text = part.text.clone().unwrap_or_default();
            parts.push(Part::Thinking { text, signature: part.thought_signature.clone() });
        } else if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
            parts.push(Part::Text(text.clone()));
        }
    }
    let saw_call = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    Ok(chat::Reply {
        id,
        model,
        finish: r.finish(saw_call).unwrap_or(if saw_call { chat::Finish::ToolCalls } else { chat::Finish::Stop }),
        usage: r.usage_metadata.map(Into::into).unwrap_or_default(),
        parts,
    })
}

/// The shared reply → a Gemini answer for a Gemini client. Thinking becomes a `thought` part (its signature as
/// `thoughtSignature`); tool calls become `functionCall` parts (arguments that are not a JSON object become `{}`,
/// since that is all Gemini can carry).
pub fn render_reply(reply: &chat::Reply) -> Value {
    let mut parts = Vec::with_capacity(reply.parts.len());
    let mut signature: Option<String> = None;
    for part in &reply.parts {
        match part {
            Part::Text(t) => {
                parts.push(WirePart { thought_signature: signature.take(), ..WirePart::text(t.clone()) });
            }
            Part::Thinking { text, signature: Some(s) } if text.is_empty() => {
                signature = Some(s.clone());
            }
            Part::Thinking { text, signature: s } => parts.push(WirePart {
                thought: Some(true),
                thought_signature: s.clone(),
                ..WirePart::text(text.clone())
            }),
            Part::ToolCall(c) => parts.push(function_call_part(&c.name, &c.arguments, signature.take())),
            Part::Image(_) | Part::ToolResult(_) | Part::RedactedThinking(_) => {}
        }
    }
    if let Some(s) = signature {
        parts.push(WirePart { thought_signature: Some(s), ..WirePart::text(String::new()) });
    }
    let mut body = GenerateContentResponse::model_turn(parts, Some(reply.finish), &reply.model, &reply.id);
    body.usage_metadata = Some(UsageMetadata::from(&reply.usage));
    serde_json::to_value(body).unwrap_or_default()
}

/// A `functionCall` part from OpenAI-style argument text.
pub(super) fn function_call_part(name: &str, arguments: &str, signature: Option<String>) -> WirePart {
    let args = match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => Value::Object(Default::default()),
    };
    WirePart {
        function_call: Some(FunctionCall { id: None, name: name.to_string(), args: Some(args) }),
        thought_signature: signature,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{Finish, Usage};
    use serde_json::json;

    /// wire-formats §5.3.
    const SPEC_RESPONSE: &str = r#"{
      "candidates": [{
        "content": {"role": "model", "parts": [
          {"text": "The user wants the weather; call the tool.", "thought": true},
          {"text": "Checking Paris."},
          {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQBVKhc7mR"}]},
        "finishReason": "STOP", "index": 0}],
      "usageMetadata": {"promptTokenCount": 1200, "cachedContentTokenCount": 1024, "candidatesTokenCount": 22,
                        "thoughtsTokenCount": 128, "totalTokenCount": 1350},
      "modelVersion": "gemini-2.5-flash", "responseId": "Il0taoSYJ5Cez7"
    }"#;

    #[test]
    fn the_spec_response_reads_with_tool_calls_and_normalised_usage() {
        let r = parse_reply(SPEC_RESPONSE.as_bytes(), "fallback").unwrap();
        assert_eq!((r.id.as_str(), r.model.as_str()), ("Il0taoSYJ5Cez7", "gemini-2.5-flash"));
        assert_eq!(
            r.parts,
            [
                Part::Thinking { text: "The user wants the weather; call the tool.".into(), signature: None },
                Part::Text("Checking Paris.".into()),
                Part::Thinking { text: String::new(), signature: Some("CiQBVKhc7mR".into()) },
                Part::ToolCall(ToolCall {
                    id: "call_Il0taoSYJ5Cez7_0".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                }),
            ]
        );
        assert_eq!(r.finish, Finish::ToolCalls);
        assert_eq!(r.usage, Usage { input: 1200, cache_read: 1024, cache_write: 0, output: 150, reasoning: 128 });
    }

    #[test]
    fn finish_reasons_map_to_ours() {
        for (reason, want) in [
            ("STOP", Finish::Stop),
            ("MAX_TOKENS", Finish::Length),
            ("SAFETY", Finish::ContentFilter),
            ("PROHIBITED_CONTENT", Finish::ContentFilter),
            ("IMAGE_PROHIBITED_CONTENT", Finish::ContentFilter),
            ("MALFORMED_FUNCTION_CALL", Finish::Stop),
            ("OTHER", Finish::Stop),
        ] {
            let body = format!(
                r#"{{"candidates":[{{"content":{{"role":"model","parts":[{{"text":"x"}}]}},"finishReason":"{reason}"}}]}}"#
            );
            assert_eq!(parse_reply(body.as_bytes(), "m").unwrap().finish, want, "{reason}");
        }
    }

    #[test]
    fn a_blocked_prompt_is_a_content_filter_finish() {
        let body = br#"{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}"#;
        let r = parse_reply(body, "gemini-2.5-pro").unwrap();
        assert_eq!(r.finish, Finish::ContentFilter);
        assert!(r.parts.is_empty());
        assert_eq!(r.usage.input, 9);
        assert_eq!(r.model, "gemini-2.5-pro");
        assert!(r.id.starts_with("gen-"), "{}", r.id);
    }

    #[test]
    fn errors_and_garbage_in_a_200_are_upstream_failures() {
        let e = parse_reply(br#"{"error":{"code":500,"message":"Internal error","status":"INTERNAL"}}"#, "m");
        assert!(matches!(e, Err(RelayError::UpstreamFailed(m)) if m.contains("Internal error")));
        assert!(matches!(parse_reply(b"<html>", "m"), Err(RelayError::UpstreamFailed(_))));
    }

    #[test]
    fn a_reply_renders_as_a_gemini_answer() {
        let reply = chat::Reply {
            id: "msg_1".into(),
            model: "claude-sonnet-4".into(),
            parts: vec![
                Part::Thinking { text: "hmm".into(), signature: Some("sig".into()) },
                Part::Text("Checking.".into()),
                Part::ToolCall(ToolCall { id: "toolu_1".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() }),
                Part::ToolCall(ToolCall { id: "toolu_2".into(), name: "g".into(), arguments: String::new() }),
            ],
            finish: Finish::ToolCalls,
            usage: Usage { input: 1204, cache_read: 1024, cache_write: 0, output: 150, reasoning: 128 },
        };
        assert_eq!(
            render_reply(&reply),
            json!({
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": "hmm", "thought": true, "thoughtSignature": "sig"},
                    {"text": "Checking."},
                    {"functionCall": {"name": "f", "args": {"a": 1}}},
                    {"functionCall": {"name": "g", "args": {}}}]},
                  "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 1204, "cachedContentTokenCount": 1024,
                  "candidatesTokenCount": 22, "thoughtsTokenCount": 128, "totalTokenCount": 1354},
                "modelVersion": "claude-sonnet-4",
                "responseId": "msg_1"
            })
        );
        for (finish, name) in
            [(Finish::Stop, "STOP"), (Finish::Length, "MAX_TOKENS"), (Finish::ContentFilter, "SAFETY")]
        {
            let r = chat::Reply { finish, ..Default::default() };
            let body = render_reply(&r);
            assert_eq!(body["candidates"][0]["finishReason"], name);
            assert_eq!(
                body["usageMetadata"],
                json!({"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0})
            );
        }
    }

    #[test]
    fn a_parsed_reply_renders_back_to_the_same_parts() {
        let r = parse_reply(SPEC_RESPONSE.as_bytes(), "m").unwrap();
        let original: Value = serde_json::from_str(SPEC_RESPONSE).unwrap();
        assert_eq!(render_reply(&r), original);
    }
}
