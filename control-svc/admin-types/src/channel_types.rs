//! Veloera's numeric channel types (reference §2.2): id, name, default base URL, and how the relay speaks to each
//! (wire format, auth style, URL style, output-cap field, balance API). Shared so the UI's type picker offers
//! exactly the types control accepts; control sends each row's data to relays with every candidate, so a new
//! OpenAI-compatible vendor is one row here.

/// The wire format the relay speaks to a channel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The OpenAI wire format.
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini `generateContent` API.
    Gemini,
    /// Google Vertex AI: Anthropic's body for Claude models, Gemini's for every other (the publisher by model).
    Vertex,
    /// AWS Bedrock serving Claude: Anthropic's body, answers framed as AWS event streams.
    Bedrock,
    /// A wire format this build does not relay yet.
    Unsupported,
}

/// How a call proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in the named header (Azure `api-key`, Anthropic `x-api-key`, Gemini `x-goog-api-key`).
    Header(&'static str),
    /// The key is a Google service-account JSON, exchanged for an OAuth access token sent as a bearer.
    GoogleServiceAccount,
    /// The key is `AK|SK|region`; each call is signed with AWS SigV4.
    SigV4,
}

/// How a call's URL is made from the channel's base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Url {
    /// `base` + `/v1/...`, without a second version segment when the base already ends in one.
    OpenAi,
    /// Azure OpenAI: `/openai/deployments/<model>/...?api-version=<other>`.
    AzureDeployment,
    /// The base URL is the whole endpoint, `{model}` replaced by the model.
    CustomTemplate,
    /// `base` + `/v1/messages`.
    Anthropic,
    /// `base` + `/v1beta/models/<model>:generateContent` (or the stream action).
    Gemini,
    /// The region's Vertex AI host, the account's project, the model's publisher.
    Vertex,
    /// The key's region's Bedrock runtime host, `/model/<model>/invoke`.
    Bedrock,
}

/// Which field caps an OpenAI-format answer's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCap {
    /// `max_tokens`, which most OpenAI-compatible vendors know.
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's own API, whose reasoning models refuse `max_tokens`.
    MaxCompletionTokens,
}

/// The upstream account's balance API (Veloera reference §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// None this gateway knows.
    None,
    /// OpenAI's legacy dashboard: subscription limit minus the last 100 days' usage.
    OpenAiDashboard,
    /// DeepSeek's `/user/balance`.
    DeepSeek,
    /// SiliconFlow's `/v1/user/info`.
    SiliconFlow,
    /// OpenRouter's `/api/v1/credits`.
    OpenRouter,
}

/// One channel type: Veloera's id and name, default base URL, and how the relay speaks to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelType {
    pub id: i32,
    pub name: &'static str,
    pub default_base_url: &'static str,
    pub wire: Wire,
    pub auth: Auth,
    pub url: Url,
    pub output_cap: OutputCap,
    pub balance: Balance,
}

/// An OpenAI-compatible vendor: bearer key, versioned base URL, `max_tokens`, no balance API.
const fn openai_compatible(id: i32, name: &'static str, default_base_url: &'static str) -> ChannelType {
    ChannelType {
        id,
        name,
        default_base_url,
        wire: Wire::OpenAi,
        auth: Auth::Bearer,
        url: Url::OpenAi,
        output_cap: OutputCap::MaxTokens,
        balance: Balance::None,
    }
}

const TYPES: &[ChannelType] = &[
    ChannelType {
        output_cap: OutputCap::MaxCompletionTokens,
        balance: Balance::OpenAiDashboard,
        ..openai_compatible(1, "OpenAI", "https://api.openai.com")
    },
    ChannelType {
        auth: Auth::Header("api-key"),
        url: Url::AzureDeployment,
        ..openai_compatible(3, "Azure OpenAI", "")
    },
    openai_compatible(4, "Ollama", "http://localhost:11434"),
    ChannelType { url: Url::CustomTemplate, balance: Balance::OpenAiDashboard, ..openai_compatible(8, "Custom", "") },
    ChannelType {
        id: 14,
        name: "Anthropic Claude",
        default_base_url: "https://api.anthropic.com",
        wire: Wire::Anthropic,
        auth: Auth::Header("x-api-key"),
        url: Url::Anthropic,
        output_cap: OutputCap::MaxTokens,
        balance: Balance::None,
    },
    ChannelType { balance: Balance::OpenRouter, ..openai_compatible(20, "OpenRouter", "https://openrouter.ai/api") },
    ChannelType {
        id: 24,
        name: "Google Gemini",
        default_base_url: "https://generativelanguage.googleapis.com",
        wire: Wire::Gemini,
        auth: Auth::Header("x-goog-api-key"),
        url: Url::Gemini,
        output_cap: OutputCap::MaxTokens,
        balance: Balance::None,
    },
    openai_compatible(25, "Moonshot", "https://api.moonshot.cn"),
    openai_compatible(29, "Groq", "https://api.groq.com/openai"),
    openai_compatible(27, "Perplexity", "https://api.perplexity.ai"),
    // Claude on AWS Bedrock: the key is `AK|SK|region`; the regional endpoint is derived from it.
    ChannelType {
        id: 33,
        name: "AWS Claude",
        default_base_url: "",
        wire: Wire::Bedrock,
        auth: Auth::SigV4,
        url: Url::Bedrock,
        output_cap: OutputCap::MaxTokens,
        balance: Balance::None,
    },
    // Google Vertex AI: the key is one service-account JSON, `other` the region; Claude and Gemini models.
    ChannelType {
        id: 41,
        name: "Vertex AI",
        default_base_url: "",
        wire: Wire::Vertex,
        auth: Auth::GoogleServiceAccount,
        url: Url::Vertex,
        output_cap: OutputCap::MaxTokens,
        balance: Balance::None,
    },
    // Rerank vendors: `/v1/rerank` is passed through in the shape Jina and Cohere (v1) share.
    openai_compatible(34, "Cohere", "https://api.cohere.ai"),
    openai_compatible(38, "Jina", "https://api.jina.ai"),
    ChannelType { balance: Balance::SiliconFlow, ..openai_compatible(40, "SiliconFlow", "https://api.siliconflow.cn") },
    openai_compatible(42, "Mistral AI", "https://api.mistral.ai"),
    ChannelType { balance: Balance::DeepSeek, ..openai_compatible(43, "DeepSeek", "https://api.deepseek.com") },
    openai_compatible(47, "Xinference", ""),
    openai_compatible(48, "xAI", "https://api.x.ai"),
    openai_compatible(49, "GitHub Models", "https://models.github.ai/inference"),
];

/// How the relay speaks to a channel whose type this build does not know (a row imported from a newer
/// Veloera): as to any OpenAI-compatible vendor, as it always has.
pub const UNKNOWN: ChannelType = openai_compatible(0, "Unknown", "");

/// Veloera's AWS Claude channel type.
pub const AWS_CLAUDE: i32 = 33;
/// Veloera's Vertex AI channel type, whose key is a single service-account JSON (never split into several keys).
pub const VERTEX_AI: i32 = 41;

/// The type with Veloera's number `id`, if this build knows it.
pub fn find(id: i32) -> Option<&'static ChannelType> {
    TYPES.iter().find(|t| t.id == id)
}

/// Every channel type this build knows, in Veloera's numbering.
pub fn all() -> &'static [ChannelType] {
    TYPES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_only_openai_itself_takes_max_completion_tokens() {
        for t in all() {
            assert_eq!(all().iter().filter(|o| o.id == t.id).count(), 1, "{}", t.name);
            assert_eq!(t.output_cap == OutputCap::MaxCompletionTokens, t.id == 1, "{}", t.name);
        }
    }

    #[test]
    fn every_wire_format_has_its_url_style() {
        for t in all() {
            let fits = match t.wire {
                Wire::OpenAi => matches!(t.url, Url::OpenAi | Url::AzureDeployment | Url::CustomTemplate),
                Wire::Anthropic => t.url == Url::Anthropic,
                Wire::Gemini => t.url == Url::Gemini,
                Wire::Vertex => t.url == Url::Vertex && t.auth == Auth::GoogleServiceAccount,
                Wire::Bedrock => t.url == Url::Bedrock && t.auth == Auth::SigV4,
                Wire::Unsupported => true,
            };
            assert!(fits, "{}", t.name);
        }
    }
}
