//! Veloera's model-name conveniences (reference §1.4): a suffix on the channel's model name asks for
//! reasoning, and the upstream gets the bare name. `o3-mini-high` → `o3-mini` with `reasoning_effort: high`;
//! `claude-sonnet-4-5-thinking` → thinking on with a budget of 80 % of `max_tokens` (at least 1,280 tokens
//! of `max_tokens`) and temperature 1; `gemini-2.5-flash-thinking[-N]` → thoughts included (budget N, or the
//! model's own), `-nothinking` → thinking off.

use super::Format;
use super::chat::{self, Effort, Reasoning};

/// What a suffix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    None,
    Effort(Effort),
    ClaudeThinking,
    GeminiThinking(Option<u64>),
    GeminiNoThinking,
}

/// Claude's `-thinking`: the smallest `max_tokens` that leaves room for a useful budget.
const CLAUDE_MIN_MAX_TOKENS: u64 = 1280;

/// The model to send upstream and what its suffix asks for.
pub fn parse(wire: Format, model: &str) -> (String, Adjust) {
    let bare = |suffix: &str| model.strip_suffix(suffix).map(str::to_string);
    match wire {
        Format::OpenAi if is_reasoning_model(model) => {
            for (suffix, effort) in [("-high", Effort::High), ("-medium", Effort::Medium), ("-low", Effort::Low)] {
                if let Some(m) = bare(suffix) {
                    return (m, Adjust::Effort(effort));
                }
            }
        }
        Format::Anthropic => {
            if let Some(m) = bare("-thinking") {
                return (m, Adjust::ClaudeThinking);
            }
        }
        Format::Gemini => {
            if let Some(m) = bare("-nothinking") {
                return (m, Adjust::GeminiNoThinking);
            }
            if let Some(m) = bare("-thinking") {
                return (m, Adjust::GeminiThinking(None));
            }
            if let Some((m, n)) = model.rsplit_once("-thinking-")
                && let Ok(n) = n.parse::<u64>()
            {
                return (m.to_string(), Adjust::GeminiThinking(Some(n)));
            }
        }
        Format::OpenAi => {}
    }
    (model.to_string(), Adjust::None)
}

/// OpenAI's reasoning families, the ones that take `reasoning_effort`.
pub fn is_reasoning_model(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| model.starts_with(p))
}

impl Adjust {
    /// Applies the suffix's request to a request in the shared representation.
    pub fn apply(self, req: &mut chat::Request) {
        match self {
            Adjust::None => {}
            Adjust::Effort(effort) => {
                req.reasoning = Some(Reasoning { effort: Some(effort), include_thoughts: true, ..Default::default() })
            }
            Adjust::ClaudeThinking => {
                let max_tokens = req.max_tokens.unwrap_or(0).max(CLAUDE_MIN_MAX_TOKENS);
                req.max_tokens = Some(max_tokens);
                req.reasoning = Some(Reasoning {
                    budget_tokens: Some(max_tokens * 4 / 5),
                    include_thoughts: true,
                    ..Default::default()
                });
                req.temperature = Some(1.0);
            }
            Adjust::GeminiThinking(budget) => {
                req.reasoning = Some(Reasoning {
                    budget_tokens: budget,
                    effort: budget.is_none().then_some(Effort::Medium),
                    include_thoughts: true,
                    disabled: false,
                })
            }
            Adjust::GeminiNoThinking => req.reasoning = Some(Reasoning { disabled: true, ..Default::default() }),
        }
    }
}

/// Applies the suffix's request to a raw Anthropic body (same-format pass-through).
pub fn apply_anthropic_raw(adjust: Adjust, body: &mut serde_json::Map<String, serde_json::Value>) {
    if adjust != Adjust::ClaudeThinking {
        return;
    }
    let max_tokens = body.get("max_tokens").and_then(|v| v.as_u64()).unwrap_or(0).max(CLAUDE_MIN_MAX_TOKENS);
    body.insert("max_tokens".into(), max_tokens.into());
    body.insert("thinking".into(), serde_json::json!({"type": "enabled", "budget_tokens": max_tokens * 4 / 5}));
    body.insert("temperature".into(), 1.0.into());
}

/// Applies the suffix's request to a raw Gemini body (same-format pass-through).
pub fn apply_gemini_raw(adjust: Adjust, body: &mut serde_json::Value) {
    let config = match adjust {
        Adjust::GeminiThinking(budget) => {
            serde_json::json!({"thinkingBudget": budget.map(|b| b as i64).unwrap_or(-1), "includeThoughts": true})
        }
        Adjust::GeminiNoThinking => serde_json::json!({"thinkingBudget": 0}),
        _ => return,
    };
    if let serde_json::Value::Object(map) = body {
        let generation = map.entry("generationConfig").or_insert_with(|| serde_json::json!({}));
        if generation.is_object() {
            generation["thinkingConfig"] = config;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_read_per_wire_format() {
        assert_eq!(parse(Format::OpenAi, "o3-mini-high"), ("o3-mini".into(), Adjust::Effort(Effort::High)));
        assert_eq!(parse(Format::OpenAi, "gpt-4o-mini-high"), ("gpt-4o-mini-high".into(), Adjust::None));
        assert_eq!(
            parse(Format::Anthropic, "claude-sonnet-4-5-thinking"),
            ("claude-sonnet-4-5".into(), Adjust::ClaudeThinking)
        );
        assert_eq!(
            parse(Format::Gemini, "gemini-2.5-flash-thinking-2048"),
            ("gemini-2.5-flash".into(), Adjust::GeminiThinking(Some(2048)))
        );
        assert_eq!(
            parse(Format::Gemini, "gemini-2.5-flash-nothinking"),
            ("gemini-2.5-flash".into(), Adjust::GeminiNoThinking)
        );
        assert_eq!(parse(Format::Gemini, "gemini-2.5-flash"), ("gemini-2.5-flash".into(), Adjust::None));
    }

    #[test]
    fn claude_thinking_sets_a_budget_from_max_tokens() {
        let mut req = chat::Request { max_tokens: Some(1000), temperature: Some(0.2), ..Default::default() };
        Adjust::ClaudeThinking.apply(&mut req);
        assert_eq!(req.max_tokens, Some(1280));
        assert_eq!(req.reasoning.unwrap().budget_tokens, Some(1024));
        assert_eq!(req.temperature, Some(1.0));
        let mut req = chat::Request::default();
        Adjust::GeminiNoThinking.apply(&mut req);
        assert!(req.reasoning.unwrap().disabled);
    }
}
