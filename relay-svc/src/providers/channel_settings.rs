//! A channel's settings applied to the request it is sent (Veloera reference §1.4): the channel's system
//! prompt goes first, `param_override` (parsed once, with the channel) replaces top-level body keys. Pure
//! functions over JSON, used by every adaptor's call builder; extra headers are added by `dispatch`'s
//! `UpstreamCall::to_channel`.

use std::collections::BTreeMap;

use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Value, json};

use crate::channel::Channel;

use crate::error::RelayError;

type Fields = BTreeMap<String, Box<RawValue>>;

fn encode(e: serde_json::Error) -> RelayError {
    RelayError::InvalidRequest(format!("cannot encode the request: {e}"))
}

/// Replaces top-level keys of a body kept as raw fields with the channel's `param_override`.
pub fn override_fields(channel: &Channel, fields: &mut Fields) {
    fields.extend(channel.param_override.fields().iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// Replaces top-level keys of a body built as JSON with the channel's `param_override`.
pub fn override_value(channel: &Channel, body: &mut Value) {
    if let Value::Object(map) = body {
        map.extend(channel.param_override.values().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// Puts the channel's system prompt before the conversation's own in an OpenAI `messages` array: merged into a
/// leading system (or developer) message as `"<channel>\n\n<client>"`, else inserted as the first message.
pub fn prepend_openai_system(channel: &Channel, fields: &mut Fields) -> Result<(), RelayError> {
    let prompt = channel.system_prompt.as_str();
    if prompt.is_empty() {
        return Ok(());
    }
    let mut messages: Vec<Value> = match fields.get("messages") {
        Some(raw) => serde_json::from_str(raw.get()).map_err(encode)?,
        None => Vec::new(),
    };
    let leading_system = messages.first().is_some_and(|m| m["role"] == "system" || m["role"] == "developer");
    match messages.first_mut().map(|m| &mut m["content"]) {
        Some(Value::String(text)) if leading_system => *text = format!("{prompt}\n\n{text}"),
        Some(Value::Array(parts)) if leading_system => parts.insert(0, json!({"type": "text", "text": prompt})),
        _ => messages.insert(0, json!({"role": "system", "content": prompt})),
    }
    fields.insert("messages".into(), to_raw_value(&messages).map_err(encode)?);
    Ok(())
}

/// The same for a raw Anthropic body's top-level `system` (a string or text blocks).
pub fn prepend_anthropic_system(channel: &Channel, fields: &mut Fields) -> Result<(), RelayError> {
    let prompt = channel.system_prompt.as_str();
    if prompt.is_empty() {
        return Ok(());
    }
    let system: Value = match fields.get("system") {
        Some(raw) => serde_json::from_str(raw.get()).map_err(encode)?,
        None => Value::Null,
    };
    let merged = match system {
        Value::String(s) if !s.is_empty() => json!(format!("{prompt}\n\n{s}")),
        Value::Array(mut blocks) => {
            blocks.insert(0, json!({"type": "text", "text": prompt}));
            Value::Array(blocks)
        }
        _ => json!(prompt),
    };
    fields.insert("system".into(), to_raw_value(&merged).map_err(encode)?);
    Ok(())
}

/// The same for a raw Gemini body's `systemInstruction.parts`.
pub fn prepend_gemini_system(channel: &Channel, body: &mut Value) {
    let prompt = channel.system_prompt.as_str();
    if prompt.is_empty() {
        return;
    }
    let Value::Object(map) = body else { return };
    let key = if map.contains_key("system_instruction") { "system_instruction" } else { "systemInstruction" };
    let instruction = map.entry(key).or_insert_with(|| json!({"parts": []}));
    if !instruction["parts"].is_array() {
        instruction["parts"] = json!([]);
    }
    if let Some(parts) = instruction["parts"].as_array_mut() {
        parts.insert(0, json!({"text": prompt}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate() -> Channel {
        crate::channel::testing::channel(veloera_proto::v1::Candidate {
            system_prompt: "Answer in French.".into(),
            param_override: r#"{"temperature": 0.1, "seed": 7}"#.into(),
            ..crate::channel::testing::openai_candidate()
        })
    }

    fn fields(json: &str) -> Fields {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_channel_prompt_merges_into_a_leading_system_message_or_comes_first() {
        let mut f = fields(r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}"#);
        prepend_openai_system(&candidate(), &mut f).unwrap();
        let m: Value = serde_json::from_str(f["messages"].get()).unwrap();
        assert_eq!(m[0]["content"], "Answer in French.\n\nBe brief.");
        let mut f = fields(r#"{"messages":[{"role":"user","content":"hi"}]}"#);
        prepend_openai_system(&candidate(), &mut f).unwrap();
        let m: Value = serde_json::from_str(f["messages"].get()).unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "Answer in French."}));
        assert_eq!(m[1]["content"], "hi");
    }

    #[test]
    fn anthropic_and_gemini_system_fields_get_the_prompt_first() {
        let mut f = fields(r#"{"system":[{"type":"text","text":"Be brief."}]}"#);
        prepend_anthropic_system(&candidate(), &mut f).unwrap();
        let s: Value = serde_json::from_str(f["system"].get()).unwrap();
        assert_eq!(s[0]["text"], "Answer in French.");
        assert_eq!(s[1]["text"], "Be brief.");
        let mut body = json!({"contents": []});
        prepend_gemini_system(&candidate(), &mut body);
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Answer in French.");
    }

    #[test]
    fn overrides_replace_keys() {
        let mut f = fields(r#"{"temperature": 0.9, "model": "m"}"#);
        override_fields(&candidate(), &mut f);
        assert_eq!(f["temperature"].get(), "0.1");
        assert_eq!(f["seed"].get(), "7");
        let mut v = json!({"temperature": 0.9});
        override_value(&candidate(), &mut v);
        assert_eq!(v["temperature"], 0.1);
        assert_eq!(v["seed"], 7);
    }
}
