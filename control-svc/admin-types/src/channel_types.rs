//! Veloera's numeric channel types (reference §2.2): id, name, default base URL and wire format. Shared so the
//! UI's type picker offers exactly the types control accepts.

/// How the relay talks to a channel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The OpenAI wire format at `base_url` + `/v1/...`.
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini `generateContent` API.
    Gemini,
    /// A wire format this build does not relay yet.
    Unsupported,
}

/// One channel type: Veloera's id and name, default base URL, wire format.
pub struct ChannelType {
    pub id: i32,
    pub name: &'static str,
    pub default_base_url: &'static str,
    pub wire: Wire,
}

const TYPES: &[ChannelType] = &[
    ChannelType { id: 1, name: "OpenAI", default_base_url: "https://api.openai.com", wire: Wire::OpenAi },
    ChannelType { id: 3, name: "Azure OpenAI", default_base_url: "", wire: Wire::OpenAi },
    ChannelType { id: 4, name: "Ollama", default_base_url: "http://localhost:11434", wire: Wire::OpenAi },
    ChannelType { id: 8, name: "Custom", default_base_url: "", wire: Wire::OpenAi },
    ChannelType {
        id: 14,
        name: "Anthropic Claude",
        default_base_url: "https://api.anthropic.com",
        wire: Wire::Anthropic,
    },
    ChannelType { id: 20, name: "OpenRouter", default_base_url: "https://openrouter.ai/api", wire: Wire::OpenAi },
    ChannelType {
        id: 24,
        name: "Google Gemini",
        default_base_url: "https://generativelanguage.googleapis.com",
        wire: Wire::Gemini,
    },
    ChannelType { id: 25, name: "Moonshot", default_base_url: "https://api.moonshot.cn", wire: Wire::OpenAi },
    ChannelType { id: 29, name: "Groq", default_base_url: "https://api.groq.com/openai", wire: Wire::OpenAi },
    ChannelType { id: 27, name: "Perplexity", default_base_url: "https://api.perplexity.ai", wire: Wire::OpenAi },
    // Claude on AWS Bedrock: the key is `AK|SK|region`; the regional endpoint is derived from it.
    ChannelType { id: 33, name: "AWS Claude", default_base_url: "", wire: Wire::Anthropic },
    // Google Vertex AI: the key is one service-account JSON, `other` the region; Claude and Gemini models.
    ChannelType { id: 41, name: "Vertex AI", default_base_url: "", wire: Wire::Gemini },
    // Rerank vendors: `/v1/rerank` is passed through in the shape Jina and Cohere (v1) share.
    ChannelType { id: 34, name: "Cohere", default_base_url: "https://api.cohere.ai", wire: Wire::OpenAi },
    ChannelType { id: 38, name: "Jina", default_base_url: "https://api.jina.ai", wire: Wire::OpenAi },
    ChannelType { id: 40, name: "SiliconFlow", default_base_url: "https://api.siliconflow.cn", wire: Wire::OpenAi },
    ChannelType { id: 42, name: "Mistral AI", default_base_url: "https://api.mistral.ai", wire: Wire::OpenAi },
    ChannelType { id: 43, name: "DeepSeek", default_base_url: "https://api.deepseek.com", wire: Wire::OpenAi },
    ChannelType { id: 47, name: "Xinference", default_base_url: "", wire: Wire::OpenAi },
    ChannelType { id: 48, name: "xAI", default_base_url: "https://api.x.ai", wire: Wire::OpenAi },
    ChannelType {
        id: 49,
        name: "GitHub Models",
        default_base_url: "https://models.github.ai/inference",
        wire: Wire::OpenAi,
    },
];

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
