//! Veloera's channel setting `thinking_to_content`: the model's reasoning is shown inside the answer text as
//! `<think>…</think>` (for clients that only display content), instead of as separate reasoning.

use super::chat::{Part, Reply, StreamEvent};

const OPEN: &str = "<think>\n";
const CLOSE: &str = "\n</think>\n\n";

/// Rewrites a stream's events; one per stream.
#[derive(Default)]
pub struct ThinkTags {
    open: bool,
}

impl ThinkTags {
    pub fn map(&mut self, event: StreamEvent) -> Vec<StreamEvent> {
        match event {
            StreamEvent::Thinking(t) if self.open => vec![StreamEvent::Text(t)],
            StreamEvent::Thinking(t) => {
                self.open = true;
                vec![StreamEvent::Text(format!("{OPEN}{t}"))]
            }
            StreamEvent::ThinkingSignature(_) => Vec::new(),
            StreamEvent::Text(t) if self.open => {
                self.open = false;
                vec![StreamEvent::Text(format!("{CLOSE}{t}"))]
            }
            e @ (StreamEvent::ToolCallStart { .. } | StreamEvent::Finish(_)) if self.open => {
                self.open = false;
                vec![StreamEvent::Text(CLOSE.to_string()), e]
            }
            other => vec![other],
        }
    }
}

/// Rewrites a whole reply: its reasoning becomes a `<think>` block before the text.
pub fn reply(reply: &mut Reply) {
    let thinking = reply.thinking();
    reply.parts.retain(|p| !matches!(p, Part::Thinking { .. } | Part::RedactedThinking(_)));
    if !thinking.is_empty() {
        reply.parts.insert(0, Part::Text(format!("{OPEN}{thinking}{CLOSE}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::Finish;

    #[test]
    fn streamed_reasoning_is_wrapped_in_think_tags() {
        let mut t = ThinkTags::default();
        let out: Vec<StreamEvent> = [
            StreamEvent::Thinking("Let me".into()),
            StreamEvent::Thinking(" think.".into()),
            StreamEvent::ThinkingSignature("sig".into()),
            StreamEvent::Text("Answer".into()),
            StreamEvent::Finish(Finish::Stop),
        ]
        .into_iter()
        .flat_map(|e| t.map(e))
        .collect();
        let text: String = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "<think>\nLet me think.\n</think>\n\nAnswer");
        assert_eq!(out.last(), Some(&StreamEvent::Finish(Finish::Stop)));
    }

    #[test]
    fn a_whole_reply_gets_one_think_block_first() {
        let mut r = Reply {
            parts: vec![Part::Thinking { text: "Hmm.".into(), signature: None }, Part::Text("Yes.".into())],
            ..Default::default()
        };
        reply(&mut r);
        assert_eq!(r.text(), "<think>\nHmm.\n</think>\n\nYes.");
    }
}
