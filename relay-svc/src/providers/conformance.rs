//! The conformance suite every wire-format adaptor must pass: the same behaviours — a plain conversation, a
//! tool-call round, image input, a whole reply, a stream, an upstream error — written once and run through
//! each adaptor's writer and reader. A behaviour that survives `write` then `read` in every format is one that
//! survives any conversion between them, since conversions go through the shared representation.

use http::StatusCode;
use serde_json::{Value, json};

use super::chat::{
    self, Finish, Frame, Image, Message, Part, Reply, Role, StreamEvent, Tool, ToolCall, ToolChoice, ToolResult, Usage,
};
use super::openai::convert::OutputCap;
use super::{Format, anthropic, decoder, encoder, gemini, openai, parse_reply, render_reply, upstream_error};
use crate::error::RelayError;

const FORMATS: [Format; 3] = [Format::OpenAi, Format::Anthropic, Format::Gemini];
const MODEL: &str = "some-model";

/// Writes a request in `format` and reads it back.
fn round_trip(format: Format, req: &chat::Request) -> chat::Request {
    let body = match format {
        Format::OpenAi => openai::convert::build_request(req, MODEL, OutputCap::MaxTokens),
        Format::Anthropic => anthropic::build_request(req, MODEL),
        Format::Gemini => gemini::build_request(req),
    }
    .unwrap_or_else(|e| panic!("{format:?} cannot write the request: {e}"));
    let bytes = body.to_string().into_bytes();
    match format {
        Format::OpenAi => openai::convert::parse_request(&bytes),
        Format::Anthropic => anthropic::parse_request(&bytes),
        Format::Gemini => gemini::parse_request(&bytes, MODEL),
    }
    .unwrap_or_else(|e| panic!("{format:?} cannot read back its own request: {e}\n{body}"))
}

fn texts(req: &chat::Request) -> Vec<(Role, String)> {
    req.messages
        .iter()
        .flat_map(|m| {
            m.parts.iter().filter_map(move |p| match p {
                Part::Text(t) => Some((m.role, t.clone())),
                _ => None,
            })
        })
        .collect()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn a_plain_conversation_survives_every_format() {
    let req = chat::Request {
        model: MODEL.into(),
        system: vec!["Be brief.".into()],
        messages: vec![
            Message { role: Role::User, parts: vec![Part::Text("Hi".into())] },
            Message { role: Role::Assistant, parts: vec![Part::Text("Hello!".into())] },
            Message { role: Role::User, parts: vec![Part::Text("How are you?".into())] },
        ],
        max_tokens: Some(300),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        ..Default::default()
    };
    for format in FORMATS {
        let back = round_trip(format, &req);
        assert_eq!(back.system_text().as_deref(), Some("Be brief."), "{format:?}");
        assert_eq!(texts(&back), texts(&req), "{format:?}");
        assert_eq!(back.max_tokens, Some(300), "{format:?}");
        assert_eq!(back.temperature, Some(0.5), "{format:?}");
        assert_eq!(back.stop, vec!["END".to_string()], "{format:?}");
    }
}

#[test]
fn a_tool_round_survives_every_format() {
    let req = chat::Request {
        model: MODEL.into(),
        messages: vec![
            Message { role: Role::User, parts: vec![Part::Text("Weather in Paris?".into())] },
            Message {
                role: Role::Assistant,
                parts: vec![Part::ToolCall(ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                })],
            },
            Message {
                role: Role::User,
                parts: vec![Part::ToolResult(ToolResult {
                    call_id: "call_1".into(),
                    name: Some("get_weather".into()),
                    content: r#"{"temp_c":21}"#.into(),
                    is_error: false,
                })],
            },
        ],
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Current weather".into()),
            parameters: Some(
                json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ),
        }],
        tool_choice: Some(ToolChoice::Auto),
        max_tokens: Some(100),
        ..Default::default()
    };
    for format in FORMATS {
        let back = round_trip(format, &req);
        assert_eq!(back.tools.len(), 1, "{format:?}");
        assert_eq!(back.tools[0].name, "get_weather", "{format:?}");
        assert_eq!(back.tools[0].parameters.as_ref().unwrap()["required"][0], "city", "{format:?}");
        assert_eq!(back.tool_choice, Some(ToolChoice::Auto), "{format:?}");
        let call = back.messages.iter().flat_map(|m| &m.parts).find_map(|p| match p {
            Part::ToolCall(c) => Some(c.clone()),
            _ => None,
        });
        let call = call.unwrap_or_else(|| panic!("{format:?} lost the tool call"));
        assert_eq!(call.name, "get_weather", "{format:?}");
        assert_eq!(json_of(&call.arguments), json!({"city": "Paris"}), "{format:?}");
        let result = back.messages.iter().flat_map(|m| &m.parts).find_map(|p| match p {
            Part::ToolResult(r) => Some(r.clone()),
            _ => None,
        });
        let result = result.unwrap_or_else(|| panic!("{format:?} lost the tool result"));
        assert_eq!(result.call_id, call.id, "{format:?}: the result answers the call");
        assert_eq!(json_of(&result.content), json!({"temp_c": 21}), "{format:?}");
    }
}

#[test]
fn image_input_survives_every_format() {
    let image = Image::Inline { mime: "image/png".into(), data: "iVBORw0KGgo=".into() };
    let req = chat::Request {
        model: MODEL.into(),
        messages: vec![Message {
            role: Role::User,
            parts: vec![Part::Text("What is this?".into()), Part::Image(image.clone())],
        }],
        max_tokens: Some(100),
        ..Default::default()
    };
    for format in FORMATS {
        let back = round_trip(format, &req);
        assert!(back.messages[0].parts.contains(&Part::Image(image.clone())), "{format:?}: {:?}", back.messages);
    }
}

#[test]
fn a_whole_reply_survives_every_format() {
    let reply = Reply {
        id: "r1".into(),
        model: MODEL.into(),
        parts: vec![
            Part::Text("Checking.".into()),
            Part::ToolCall(ToolCall {
                id: "call_9".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Oslo"}"#.into(),
            }),
        ],
        finish: Finish::ToolCalls,
        usage: Usage { input: 120, cache_read: 100, cache_write: 0, output: 30, reasoning: 0 },
    };
    for format in FORMATS {
        let body = render_reply(format, &reply).to_string();
        let back = parse_reply(format, body.as_bytes(), MODEL).unwrap_or_else(|e| panic!("{format:?}: {e}\n{body}"));
        assert_eq!(back.text(), "Checking.", "{format:?}");
        let call = back.tool_calls().next().unwrap_or_else(|| panic!("{format:?} lost the call"));
        assert_eq!(
            (call.name.as_str(), json_of(&call.arguments)),
            ("get_weather", json!({"city": "Oslo"})),
            "{format:?}"
        );
        assert_eq!(back.finish, Finish::ToolCalls, "{format:?}");
        assert_eq!((back.usage.input, back.usage.output, back.usage.cache_read), (120, 30, 100), "{format:?}");
    }
}

/// Feeds `frames` to `format`'s decoder as an upstream would send them.
fn decode(format: Format, frames: &[Frame]) -> (Vec<StreamEvent>, bool) {
    let mut d = decoder(format, MODEL);
    let mut events = Vec::new();
    for f in frames {
        events.extend(d.decode(f.event.unwrap_or(""), &f.data).unwrap_or_else(|e| panic!("{format:?}: {e} on {f:?}")));
    }
    (events, d.complete())
}

#[test]
fn a_stream_survives_every_format() {
    let events = [
        StreamEvent::Start { id: "s1".into(), model: MODEL.into() },
        StreamEvent::Text("Hel".into()),
        StreamEvent::Text("lo".into()),
        StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "get_weather".into() },
        StreamEvent::ToolCallArguments { index: 0, fragment: r#"{"city":"#.into() },
        StreamEvent::ToolCallArguments { index: 0, fragment: r#""Rome"}"#.into() },
        StreamEvent::Usage(Usage { input: 50, output: 12, ..Default::default() }),
        StreamEvent::Finish(Finish::ToolCalls),
    ];
    for format in FORMATS {
        let mut e = encoder(format, MODEL, true);
        let mut frames: Vec<Frame> = events.iter().flat_map(|ev| e.encode(ev)).collect();
        frames.extend(e.finish());
        let (back, complete) = decode(format, &frames);
        assert!(complete, "{format:?}: the stream did not end as complete");
        let text: String = back
            .iter()
            .filter_map(|ev| match ev {
                StreamEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello", "{format:?}");
        let name = back.iter().find_map(|ev| match ev {
            StreamEvent::ToolCallStart { name, .. } => Some(name.clone()),
            _ => None,
        });
        assert_eq!(name.as_deref(), Some("get_weather"), "{format:?}");
        let args: String = back
            .iter()
            .filter_map(|ev| match ev {
                StreamEvent::ToolCallArguments { fragment, .. } => Some(fragment.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(json_of(&args), json!({"city": "Rome"}), "{format:?}");
        assert!(back.contains(&StreamEvent::Finish(Finish::ToolCalls)), "{format:?}: {back:?}");
        let usage = back.iter().rev().find_map(|ev| match ev {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        });
        let usage = usage.unwrap_or_else(|| panic!("{format:?} lost the usage"));
        assert_eq!((usage.input, usage.output), (50, 12), "{format:?}");
    }
}

#[test]
fn a_failed_stream_never_reads_as_complete_in_any_format() {
    for format in FORMATS {
        let mut e = encoder(format, MODEL, true);
        let mut frames: Vec<Frame> = e.encode(&StreamEvent::Start { id: "s".into(), model: MODEL.into() });
        frames.extend(e.encode(&StreamEvent::Text("partial".into())));
        frames.extend(e.fail("upstream broke"));
        let mut d = decoder(format, MODEL);
        let mut failed = false;
        for f in &frames {
            if d.decode(f.event.unwrap_or(""), &f.data).is_err() {
                failed = true;
            }
        }
        assert!(failed || !d.complete(), "{format:?}: a failed stream looked complete");
    }
}

#[test]
fn an_upstream_rate_limit_keeps_its_status_in_every_format() {
    for format in FORMATS {
        let body = match format {
            Format::OpenAi => {
                json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
            }
            Format::Anthropic => anthropic::error_body(StatusCode::TOO_MANY_REQUESTS, "slow down"),
            Format::Gemini => gemini::error_body(StatusCode::TOO_MANY_REQUESTS, "slow down"),
        };
        match upstream_error(format, StatusCode::TOO_MANY_REQUESTS, body.to_string().as_bytes()) {
            RelayError::UpstreamRejected { status, message, .. } => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{format:?}");
                assert!(message.contains("slow down"), "{format:?}: {message}");
            }
            other => panic!("{format:?}: {other:?}"),
        }
        let server = upstream_error(format, StatusCode::INTERNAL_SERVER_ERROR, br#"{"secret":"10.0.0.5"}"#);
        assert!(!server.public_message().contains("10.0.0.5"), "{format:?}");
    }
}
