//! Veloera's numeric channel types (the table lives in admin-types, shared with the UI) and what control derives
//! from them: how a key field splits into keys, which models each vendor publishes.

pub use veloera_admin_types::channel_types::{AWS_CLAUDE, ChannelType, VERTEX_AI, Wire, all, find};

/// The keys of a channel's key field: one service-account JSON for Vertex AI, else a comma/newline list.
pub fn keys_of(channel_type: i32, key: &str) -> Vec<String> {
    if channel_type == VERTEX_AI {
        let key = key.trim();
        return if key.is_empty() { Vec::new() } else { vec![key.to_string()] };
    }
    super::split_list(key)
}

/// Name prefixes of the models a channel type's vendor publishes, as Veloera's per-adaptor model lists do.
/// Aggregators and self-hosted types (OpenRouter, Ollama, Custom, …) serve anything and have none.
pub fn vendor_prefixes(id: i32) -> &'static [&'static str] {
    const OPENAI: &[&str] = &[
        "gpt-",
        "o1",
        "o3",
        "o4",
        "text-embedding-",
        "whisper-",
        "tts-",
        "dall-e-",
        "omni-moderation",
        "text-moderation",
    ];
    match id {
        1 | 3 => OPENAI,
        14 | AWS_CLAUDE => &["claude-"],
        24 => &["gemini-"],
        VERTEX_AI => &["gemini-", "claude-"],
        34 => &["rerank-"],
        38 => &["jina-"],
        43 => &["deepseek-"],
        _ => &[],
    }
}

/// Of `models`, those the vendor of channel type `id` publishes (see [`vendor_prefixes`]).
pub fn vendor_models<'a>(id: i32, models: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let prefixes = vendor_prefixes(id);
    models.into_iter().filter(|m| prefixes.iter().any(|p| m.starts_with(p))).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_catalogues_pick_models_by_name() {
        let known = ["gpt-4o", "claude-opus-4-1", "gemini-2.5-pro", "deepseek-chat", "o3-mini", "my-model"];
        assert_eq!(vendor_models(1, known), ["gpt-4o", "o3-mini"]);
        assert_eq!(vendor_models(AWS_CLAUDE, known), ["claude-opus-4-1"]);
        assert_eq!(vendor_models(VERTEX_AI, known), ["claude-opus-4-1", "gemini-2.5-pro"]);
        assert!(vendor_models(20, known).is_empty());
    }
}
