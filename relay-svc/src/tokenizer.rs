//! Token counts made here, with tiktoken's o200k encoding (GPT-4o's), for Anthropic's `count_tokens` and for
//! answers whose upstream reported no usage. The encoding is loaded on first use — it takes memory a relay
//! serving only usage-reporting upstreams never needs.

use crate::providers::chat::{self, Part};

/// Framing OpenAI counts per message, and for priming the reply (its published counting recipe).
const PER_MESSAGE: i64 = 3;
const REPLY_PRIMING: i64 = 3;
/// What an image costs at OpenAI's low detail; the gateway does not decode images to size them.
const PER_IMAGE: i64 = 85;

pub fn count_text(text: &str) -> i64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::o200k_base_singleton().count_ordinary(text) as i64
}

/// The prompt a request sends: system text, every message's text, tool calls and results, tool definitions.
pub fn count_request(req: &chat::Request) -> i64 {
    let system: i64 = req.system.iter().map(|s| count_text(s) + PER_MESSAGE).sum();
    let messages: i64 = req.messages.iter().map(|m| PER_MESSAGE + m.parts.iter().map(count_part).sum::<i64>()).sum();
    let tools: i64 = req
        .tools
        .iter()
        .map(|t| {
            count_text(&t.name)
                + t.description.as_deref().map(count_text).unwrap_or(0)
                + t.parameters.as_ref().map(|p| count_text(&p.to_string())).unwrap_or(0)
        })
        .sum();
    system + messages + tools + REPLY_PRIMING
}

/// The output of a whole reply.
pub fn count_reply(reply: &chat::Reply) -> i64 {
    reply.parts.iter().map(count_part).sum()
}

fn count_part(part: &Part) -> i64 {
    match part {
        Part::Text(t) => count_text(t),
        Part::Thinking { text, .. } => count_text(text),
        Part::RedactedThinking(_) => 0,
        Part::Image(_) => PER_IMAGE,
        Part::ToolCall(c) => count_text(&c.name) + count_text(&c.arguments),
        Part::ToolResult(r) => count_text(&r.content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::{Message, Role};

    #[test]
    fn text_is_counted_with_a_real_tokenizer() {
        assert_eq!(count_text(""), 0);
        assert_eq!(count_text("hello"), 1);
        // A characters-divided-by-four guess would say 11 here.
        let n = count_text("The quick brown fox jumps over the lazy dog.");
        assert!((9..=11).contains(&n), "{n}");
    }

    #[test]
    fn a_request_counts_its_messages_and_framing() {
        let req = chat::Request {
            system: vec!["Be brief.".into()],
            messages: vec![Message { role: Role::User, parts: vec![Part::Text("hello".into())] }],
            ..Default::default()
        };
        assert_eq!(count_request(&req), (count_text("Be brief.") + 3) + (1 + 3) + 3);
    }
}
