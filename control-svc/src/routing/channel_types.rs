//! Veloera's numeric channel types (the table lives in admin-types, shared with the UI) and what control derives
//! from them: how a key field splits into keys, which models each vendor publishes, and what a relay is told
//! about speaking to a channel of the type ([`describe`]).

pub use veloera_admin_types::channel_types::{AWS_CLAUDE, ChannelType, UNKNOWN, VERTEX_AI, Wire, all, find};
use veloera_admin_types::channel_types::{Auth, Balance, OutputCap, Url};
use veloera_proto::v1::{AuthStyle, BalanceStyle, Candidate, OutputCapField, UrlStyle, WireFormat};

/// Writes `kind`'s row into `candidate`: wire format, auth style (with its header), URL style, output-cap
/// field and balance API, so the relay speaks to the channel by the table's data and never by its number.
pub fn describe(candidate: &mut Candidate, kind: &ChannelType) {
    candidate.wire = match kind.wire {
        // Control refuses to save channels of unsupported types; one that exists anyway is spoken to as
        // OpenAI-compatible, as relays always have.
        Wire::OpenAi | Wire::Unsupported => WireFormat::Openai,
        Wire::Anthropic => WireFormat::Anthropic,
        Wire::Gemini => WireFormat::Gemini,
        Wire::Vertex => WireFormat::Vertex,
        Wire::Bedrock => WireFormat::Bedrock,
    } as i32;
    let (auth, header) = match kind.auth {
        Auth::Bearer => (AuthStyle::Bearer, ""),
        Auth::Header(name) => (AuthStyle::ApiKeyHeader, name),
        Auth::GoogleServiceAccount => (AuthStyle::GoogleServiceAccount, ""),
        Auth::SigV4 => (AuthStyle::Sigv4, ""),
    };
    candidate.auth = auth as i32;
    candidate.auth_header = header.to_string();
    candidate.url = match kind.url {
        Url::OpenAi => UrlStyle::Openai,
        Url::AzureDeployment => UrlStyle::AzureDeployment,
        Url::CustomTemplate => UrlStyle::CustomTemplate,
        Url::Anthropic => UrlStyle::Anthropic,
        Url::Gemini => UrlStyle::Gemini,
        Url::Vertex => UrlStyle::Vertex,
        Url::Bedrock => UrlStyle::Bedrock,
    } as i32;
    candidate.output_cap = match kind.output_cap {
        OutputCap::MaxTokens => OutputCapField::MaxTokens,
        OutputCap::MaxCompletionTokens => OutputCapField::MaxCompletionTokens,
    } as i32;
    candidate.balance = match kind.balance {
        Balance::None => BalanceStyle::None,
        Balance::OpenAiDashboard => BalanceStyle::OpenaiDashboard,
        Balance::DeepSeek => BalanceStyle::Deepseek,
        Balance::SiliconFlow => BalanceStyle::Siliconflow,
        Balance::OpenRouter => BalanceStyle::Openrouter,
    } as i32;
}

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

    #[test]
    fn a_candidate_carries_its_types_row() {
        let mut c = Candidate::default();
        describe(&mut c, find(3).unwrap());
        assert_eq!(
            (c.wire(), c.auth(), c.auth_header.as_str()),
            (WireFormat::Openai, AuthStyle::ApiKeyHeader, "api-key")
        );
        assert_eq!(
            (c.url(), c.output_cap(), c.balance()),
            (UrlStyle::AzureDeployment, OutputCapField::MaxTokens, BalanceStyle::None)
        );
        describe(&mut c, find(1).unwrap());
        assert_eq!((c.auth(), c.auth_header.as_str()), (AuthStyle::Bearer, ""));
        assert_eq!((c.output_cap(), c.balance()), (OutputCapField::MaxCompletionTokens, BalanceStyle::OpenaiDashboard));
    }
}
