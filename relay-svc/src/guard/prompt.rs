//! The prompt text of a request body in any inbound format (OpenAI chat, completions, embeddings, moderations,
//! images, speech, responses, rerank; Anthropic messages; Gemini contents): the strings under the fields that
//! carry text, walked without knowing the format. Model names, roles, tool schemas, image data and other
//! fields are not prompt text and are not read.

use serde_json::Value;

/// Fields whose strings (or nested text fields) are prompt text.
const TEXT_FIELDS: &[&str] = &[
    "messages",
    "content",
    "text",
    "prompt",
    "input",
    "instructions",
    "system",
    "query",
    "documents",
    "contents",
    "parts",
    "systemInstruction",
    "system_instruction",
];

/// The prompt text of a JSON body, one field per line; `None` when the body is not JSON (multipart forms carry
/// no prompt text Veloera checks).
pub fn text_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let mut out = String::new();
    if let Value::Object(fields) = &value {
        for (name, v) in fields {
            if TEXT_FIELDS.contains(&name.as_str()) {
                collect(v, &mut out);
            }
        }
    }
    Some(out)
}

fn collect(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(fields) => {
            for (name, v) in fields {
                if TEXT_FIELDS.contains(&name.as_str()) {
                    collect(v, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The collected lines in a stable order (field order is not part of the contract).
    fn text(body: &str) -> String {
        let mut lines: Vec<String> = text_of(body.as_bytes()).unwrap().lines().map(|l| format!("{l}\n")).collect();
        lines.sort();
        lines.concat()
    }

    #[test]
    fn openai_chat_text_parts_and_not_images() {
        let t = text(
            r#"{"model":"gpt-4o","messages":[{"role":"system","content":"sys"},{"role":"user","content":[
            {"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"data:image/png;base64,QUJD"}}]}]}"#,
        );
        assert_eq!(t, "hello\nsys\n");
    }

    #[test]
    fn other_openai_endpoints() {
        assert_eq!(text(r#"{"model":"m","prompt":["a","b"]}"#), "a\nb\n");
        assert_eq!(text(r#"{"model":"m","input":"emb"}"#), "emb\n");
        assert_eq!(text(r#"{"model":"m","input":[[1,2,3]]}"#), "");
        assert_eq!(
            text(
                r#"{"model":"m","instructions":"be","input":[{"role":"user","content":[{"type":"input_text","text":"r"}]}]}"#
            ),
            "be\nr\n"
        );
        assert_eq!(text(r#"{"model":"m","query":"q","documents":["d1",{"text":"d2"}]}"#), "d1\nd2\nq\n");
    }

    #[test]
    fn anthropic_and_gemini() {
        let a = text(
            r#"{"model":"claude","system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"QUJD"}},{"type":"text","text":"hi"}]}]}"#,
        );
        assert_eq!(a, "hi\ns\n");
        let g = text(
            r#"{"systemInstruction":{"parts":[{"text":"s"}]},"contents":[{"role":"user","parts":[{"text":"g"},
            {"inlineData":{"mimeType":"image/png","data":"QUJD"}}]}]}"#,
        );
        assert_eq!(g, "g\ns\n");
    }

    #[test]
    fn non_json_bodies_have_no_prompt_text() {
        assert_eq!(text_of(b"--boundary\r\n"), None);
    }
}
