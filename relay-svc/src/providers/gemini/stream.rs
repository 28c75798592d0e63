//! Gemini `streamGenerateContent?alt=sse` streams ⇄ [`StreamEvent`]s. Each `data:` is a whole
//! `GenerateContentResponse`; there are no event names and no terminator (the connection just closes).

use serde_json::json;

use super::reply::function_call_part;
use super::{CallIds, GenerateContentResponse, UsageMetadata, WirePart, from_object, mint_response_id};
use crate::error::RelayError;
use crate::providers::chat::{self, Finish, Frame, StreamEvent, Usage};

/// Reads a Gemini stream from a Gemini channel. Text parts are deltas; a function call arrives whole, so it becomes
/// a start and one argument fragment holding the whole compact JSON.
pub struct Decoder {
    fallback_model: String,
    started: bool,
    ids: CallIds,
    saw_call: bool,
    finished: bool,
}

impl Decoder {
    pub fn new(fallback_model: &str) -> Self {
        Decoder {
            fallback_model: fallback_model.to_string(),
            started: false,
            ids: CallIds::default(),
            saw_call: false,
            finished: false,
        }
    }
}

impl chat::StreamDecoder for Decoder {
    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamEvent>, RelayError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let chunk: GenerateContentResponse = from_object(data.as_bytes())
            .map_err(|e| RelayError::UpstreamFailed(format!("malformed Gemini stream chunk: {e}")))?;
        if let Some(e) = &chunk.error {
            return Err(RelayError::UpstreamFailed(format!(
                "Gemini stream error: {}",
                e.message.as_deref().unwrap_or("(no message)")
            )));
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            let id = chunk.response_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(mint_response_id);
            let model = chunk.model_version.clone().filter(|s| !s.is_empty());
            self.ids = CallIds::for_response(&id);
            out.push(StreamEvent::Start { id, model: model.unwrap_or_else(|| self.fallback_model.clone()) });
        }
        let parts = chunk.candidates.first().and_then(|c| c.content.as_ref()).map_or(&[][..], |c| &c.parts[..]);
        for part in parts {
            if let Some(signature) = &part.thought_signature {
                out.push(StreamEvent::ThinkingSignature(signature.clone()));
            }
            if let Some(call) = &part.function_call {
                self.saw_call = true;
                let (index, id) = self.ids.mint();
                out.push(StreamEvent::ToolCallStart { index, id, name: call.name.clone() });
                out.push(StreamEvent::ToolCallArguments { index, fragment: call.arguments() });
            } else if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
                out.push(if part.is_thought() {
                    StreamEvent::Thinking(text.clone())
                } else {
                    StreamEvent::Text(text.clone())
                });
            }
        }
        if let Some(u) = chunk.usage_metadata {
            out.push(StreamEvent::Usage(u.into()));
        }
        if let Some(finish) = chunk.finish(self.saw_call).filter(|_| !self.finished) {
            self.finished = true;
            out.push(StreamEvent::Finish(finish));
        }
        Ok(out)
    }

    fn complete(&self) -> bool {
        self.finished
    }
}

/// A tool call being collected: Gemini clients get each call whole, never as argument fragments.
struct PendingCall {
    index: usize,
    name: String,
    arguments: String,
}

/// Writes a Gemini `alt=sse` stream for a Gemini client whose channel speaks another format: one chunk per text or
/// thinking delta, each tool call whole once its arguments are complete, and a final chunk with `finishReason` and
/// `usageMetadata`. Calls still pending at the end ride in that final chunk, as Gemini itself sends them.
pub struct Encoder {
    model: String,
    id: String,
    pending: Vec<PendingCall>,
    usage: Usage,
    finish: Option<Finish>,
}

impl Encoder {
    /// `model`: the model name the client asked for, reported as `modelVersion`.
    pub fn new(model: &str) -> Self {
        Encoder {
            model: model.to_string(),
            id: mint_response_id(),
            pending: Vec::new(),
            usage: Usage::default(),
            finish: None,
        }
    }

    fn chunk(&self, parts: Vec<WirePart>, finish: Option<Finish>) -> Frame {
        let mut body = GenerateContentResponse::model_turn(parts, finish, &self.model, &self.id);
        if finish.is_some() {
            body.usage_metadata = Some(UsageMetadata::from(&self.usage));
        }
        Frame::data(serde_json::to_string(&body).unwrap_or_default())
    }

    fn take_calls(&mut self) -> Vec<WirePart> {
        self.pending.drain(..).map(|c| function_call_part(&c.name, &c.arguments, None)).collect()
    }

    fn flush(&mut self, out: &mut Vec<Frame>) {
        if !self.pending.is_empty() {
            let calls = self.take_calls();
            out.push(self.chunk(calls, None));
        }
    }
}

impl chat::StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Frame> {
        let mut out = Vec::new();
        match event {
            StreamEvent::Start { id, model } => {
                if !id.is_empty() {
                    self.id = id.clone();
                }
                if self.model.is_empty() {
                    self.model = model.clone();
                }
            }
            StreamEvent::ToolCallStart { index, name, .. } => {
                self.pending.push(PendingCall { index: *index, name: name.clone(), arguments: String::new() });
            }
            StreamEvent::ToolCallArguments { index, fragment } => {
                if let Some(call) = self.pending.iter_mut().find(|c| c.index == *index) {
                    call.arguments.push_str(fragment);
                }
            }
            StreamEvent::Text(text) => {
                self.flush(&mut out);
                out.push(self.chunk(vec![WirePart::text(text.clone())], None));
            }
            StreamEvent::Thinking(text) => {
                self.flush(&mut out);
                out.push(self.chunk(vec![WirePart { thought: Some(true), ..WirePart::text(text.clone()) }], None));
            }
            StreamEvent::ThinkingSignature(signature) => {
                self.flush(&mut out);
                let part = WirePart {
                    thought: Some(true),
                    thought_signature: Some(signature.clone()),
                    ..WirePart::text(String::new())
                };
                out.push(self.chunk(vec![part], None));
            }
            StreamEvent::Usage(usage) => self.usage = *usage,
            StreamEvent::Finish(finish) => self.finish = Some(*finish),
        }
        out
    }

    fn finish(&mut self) -> Vec<Frame> {
        let mut parts = self.take_calls();
        if parts.is_empty() {
            parts.push(WirePart::text(String::new()));
        }
        vec![self.chunk(parts, Some(self.finish.unwrap_or_default()))]
    }

    fn fail(&mut self, message: &str) -> Vec<Frame> {
        vec![Frame::data(json!({"error": {"code": 500, "message": message, "status": "INTERNAL"}}).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{StreamDecoder as _, StreamEncoder as _};
    use serde_json::Value;

    /// wire-formats §5.4.
    const SPEC_CHUNKS: [&str; 3] = [
        r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Check"}]},"index":0}],"usageMetadata":{"promptTokenCount":1200,"totalTokenCount":1200},"modelVersion":"gemini-2.5-flash","responseId":"Il0taoSYJ5Cez7"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"ing Paris."}]},"index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":5,"totalTokenCount":1205},"modelVersion":"gemini-2.5-flash","responseId":"Il0taoSYJ5Cez7"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CiQBVKhc7mR"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":22,"thoughtsTokenCount":128,"totalTokenCount":1350},"modelVersion":"gemini-2.5-flash","responseId":"Il0taoSYJ5Cez7"}"#,
    ];

    fn usage(input: i64, output: i64, reasoning: i64) -> Usage {
        Usage { input, cache_read: 0, cache_write: 0, output, reasoning }
    }

    fn payloads(frames: &[Frame]) -> Vec<Value> {
        frames.iter().map(|f| serde_json::from_str(&f.data).unwrap()).collect()
    }

    #[test]
    fn the_spec_stream_decodes_with_the_latest_usage_and_a_tool_call_finish() {
        let mut d = Decoder::new("fallback");
        let mut events = Vec::new();
        for chunk in SPEC_CHUNKS {
            assert!(!d.complete());
            events.extend(d.decode("", chunk).unwrap());
        }
        assert!(d.complete());
        let id = "call_Il0taoSYJ5Cez7_0".to_string();
        assert_eq!(
            events,
            [
                StreamEvent::Start { id: "Il0taoSYJ5Cez7".into(), model: "gemini-2.5-flash".into() },
                StreamEvent::Text("Check".into()),
                StreamEvent::Usage(usage(1200, 0, 0)),
                StreamEvent::Text("ing Paris.".into()),
                StreamEvent::Usage(usage(1200, 5, 0)),
                StreamEvent::ThinkingSignature("CiQBVKhc7mR".into()),
                StreamEvent::ToolCallStart { index: 0, id, name: "get_weather".into() },
                StreamEvent::ToolCallArguments { index: 0, fragment: r#"{"city":"Paris"}"#.into() },
                StreamEvent::Usage(usage(1200, 150, 128)),
                StreamEvent::Finish(Finish::ToolCalls),
            ]
        );
        let last_usage = events.iter().rev().find_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        });
        assert_eq!(last_usage, Some(usage(1200, 150, 128)), "the last usage wins; nothing is summed");
    }

    #[test]
    fn thoughts_blocked_prompts_and_missing_ids_decode() {
        let mut d = Decoder::new("gemini-2.5-pro");
        let events = d
            .decode("", r#"{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":""}]},"finishReason":"MAX_TOKENS"}]}"#)
            .unwrap();
        assert!(
            matches!(&events[0], StreamEvent::Start { id, model } if id.starts_with("gen-") && model == "gemini-2.5-pro")
        );
        assert_eq!(events[1..], [StreamEvent::Thinking("hmm".into()), StreamEvent::Finish(Finish::Length)]);

        let mut d = Decoder::new("m");
        let events = d.decode("", r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}"#).unwrap();
        assert_eq!(events.last(), Some(&StreamEvent::Finish(Finish::ContentFilter)));
        assert!(d.complete());
    }

    #[test]
    fn errors_mid_stream_and_garbage_are_upstream_failures() {
        let mut d = Decoder::new("m");
        d.decode("", SPEC_CHUNKS[0]).unwrap();
        let e = d.decode("", r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#);
        assert!(matches!(e, Err(RelayError::UpstreamFailed(m)) if m.contains("overloaded")));
        assert!(matches!(d.decode("", "{oops"), Err(RelayError::UpstreamFailed(_))));
        assert!(matches!(d.decode("", "[1]"), Err(RelayError::UpstreamFailed(_))));
        assert!(!d.complete());
    }

    #[test]
    fn the_encoder_buffers_tool_call_fragments_into_one_function_call_part() {
        let mut e = Encoder::new("my-alias");
        let mut frames = Vec::new();
        for event in [
            StreamEvent::Start { id: "chatcmpl-1".into(), model: "gpt-4o".into() },
            StreamEvent::Text("Checking.".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_a".into(), name: "get_weather".into() },
            StreamEvent::ToolCallStart { index: 1, id: "call_b".into(), name: "get_time".into() },
            StreamEvent::ToolCallArguments { index: 0, fragment: r#"{"ci"#.into() },
            StreamEvent::ToolCallArguments { index: 0, fragment: r#"ty":"Paris"}"#.into() },
            StreamEvent::Usage(Usage { input: 10, cache_read: 0, cache_write: 0, output: 7, reasoning: 2 }),
            StreamEvent::Finish(Finish::ToolCalls),
        ] {
            frames.extend(e.encode(&event));
        }
        assert_eq!(frames.len(), 1, "calls wait for their arguments");
        frames.extend(e.finish());
        assert!(frames.iter().all(|f| f.event.is_none()));
        let chunks = payloads(&frames);
        assert_eq!(
            chunks[0],
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Checking."}]}, "index": 0}],
                "modelVersion": "my-alias", "responseId": "chatcmpl-1"})
        );
        assert_eq!(
            chunks[1],
            json!({"candidates": [{"content": {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_time", "args": {}}}]},
                  "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2,
                  "totalTokenCount": 17},
                "modelVersion": "my-alias", "responseId": "chatcmpl-1"})
        );
    }

    #[test]
    fn pending_calls_are_sent_before_later_text_and_the_end_carries_the_finish() {
        let mut e = Encoder::new("m");
        let mut frames = Vec::new();
        for event in [
            StreamEvent::Thinking("plan".into()),
            StreamEvent::ToolCallStart { index: 0, id: "c".into(), name: "f".into() },
            StreamEvent::Text("after".into()),
        ] {
            frames.extend(e.encode(&event));
        }
        frames.extend(e.finish());
        let parts: Vec<Value> =
            payloads(&frames).iter().map(|c| c["candidates"][0]["content"]["parts"].clone()).collect();
        assert_eq!(
            parts,
            [
                json!([{"text": "plan", "thought": true}]),
                json!([{"functionCall": {"name": "f", "args": {}}}]),
                json!([{"text": "after"}]),
                json!([{"text": ""}]),
            ]
        );
        let last = payloads(&frames).pop().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert!(last["responseId"].as_str().unwrap().starts_with("gen-"));
    }

    #[test]
    fn a_failed_stream_ends_with_a_gemini_error_frame() {
        let mut e = Encoder::new("m");
        e.encode(&StreamEvent::ToolCallStart { index: 0, id: "c".into(), name: "f".into() });
        assert_eq!(
            e.fail("upstream went away"),
            [Frame::data(r#"{"error":{"code":500,"message":"upstream went away","status":"INTERNAL"}}"#.into())]
        );
    }

    #[test]
    fn what_the_encoder_writes_the_decoder_reads_back() {
        let mut e = Encoder::new("m");
        let mut frames = Vec::new();
        for event in [
            StreamEvent::Start { id: "r1".into(), model: "x".into() },
            StreamEvent::Text("Hi".into()),
            StreamEvent::ToolCallStart { index: 0, id: "c".into(), name: "f".into() },
            StreamEvent::ToolCallArguments { index: 0, fragment: r#"{"a":[1,2]}"#.into() },
            StreamEvent::Usage(usage(3, 4, 0)),
            StreamEvent::Finish(Finish::ToolCalls),
        ] {
            frames.extend(e.encode(&event));
        }
        frames.extend(e.finish());
        let mut d = Decoder::new("unused");
        let events: Vec<StreamEvent> = frames.iter().flat_map(|f| d.decode("", &f.data).unwrap()).collect();
        assert!(d.complete());
        assert_eq!(
            events,
            [
                StreamEvent::Start { id: "r1".into(), model: "m".into() },
                StreamEvent::Text("Hi".into()),
                StreamEvent::ToolCallStart { index: 0, id: "call_r1_0".into(), name: "f".into() },
                StreamEvent::ToolCallArguments { index: 0, fragment: r#"{"a":[1,2]}"#.into() },
                StreamEvent::Usage(usage(3, 4, 0)),
                StreamEvent::Finish(Finish::ToolCalls),
            ]
        );
    }
}
