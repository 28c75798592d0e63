//! The relay's own view of a channel: what control sent as a `Candidate`, converted once when the cache stores it
//! (`from_control`) into typed ids, the channel type's wire, auth and URL styles as enums, `param_override` and the
//! extra headers parsed, and the keys as secrets ([`key`]). Adaptors, failover and dispatch read only this; no
//! channel-type number decides anything here.

mod from_control;
pub mod key;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use veloera_proto::v1::Pricing;

use crate::providers::Format;
use crate::providers::openai::convert::OutputCap;
pub use key::{ApiKey, Credential, Key};

/// A channel's id in control's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub i64);

impl ChannelId {
    /// The number, for the wire (usage records, metrics labels, log fields).
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The wire format the channel's type speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
    /// Google Vertex AI: Anthropic's body for Claude models, Gemini's for the others.
    Vertex,
    /// AWS Bedrock serving Claude: Anthropic's body, AWS event-stream framing.
    Bedrock,
}

/// How a call carries the channel's key (the key's [`Credential`] is made from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in this header.
    Header(HeaderName),
    /// The key is a service-account JSON, exchanged for an access token by `dispatch`.
    GoogleServiceAccount,
    /// The key is `AK|SK|region`; calls are signed with SigV4.
    SigV4,
}

/// How a call's URL is made from the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// `base` + `/v1/...`, without a second version segment.
    OpenAi,
    /// Azure: the deployment (upstream model) in the path, `api-version` in the query.
    AzureDeployment,
    /// The base URL is the endpoint, `{model}` replaced.
    CustomTemplate,
    Anthropic,
    Gemini,
    Vertex,
    Bedrock,
}

/// The upstream account's balance API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    None,
    OpenAiDashboard,
    DeepSeek,
    SiliconFlow,
    OpenRouter,
}

/// The channel's own time bounds; `None` keeps the relay's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    /// Until the first byte of the answer.
    pub first_byte: Option<Duration>,
    /// Longest silence between two pieces of an answer.
    pub idle: Option<Duration>,
    /// The whole call.
    pub total: Option<Duration>,
}

/// The channel's `param_override`: top-level body keys it replaces, parsed once in both forms the adaptors write
/// bodies in (raw fields for pass-through, values for bodies built as JSON).
#[derive(Debug, Default)]
pub struct ParamOverride {
    fields: BTreeMap<String, Box<RawValue>>,
    values: Map<String, Value>,
}

impl ParamOverride {
    /// The override in `text` (a JSON object; empty for none).
    pub fn parse(text: &str) -> Result<ParamOverride, serde_json::Error> {
        if text.trim().is_empty() {
            return Ok(ParamOverride::default());
        }
        Ok(ParamOverride { fields: serde_json::from_str(text)?, values: serde_json::from_str(text)? })
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The keys as raw JSON, for bodies kept as raw fields.
    pub fn fields(&self) -> &BTreeMap<String, Box<RawValue>> {
        &self.fields
    }

    /// The keys as values, for bodies built as JSON.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }
}

/// One candidate channel serving one model, as the relay uses it.
#[derive(Debug)]
pub struct Channel {
    pub id: ChannelId,
    pub name: String,
    /// Veloera's number for the channel's type: for log lines and messages only.
    pub type_number: i32,
    pub wire: Wire,
    /// The format its requests and answers are in (for Vertex AI, its model's publisher's).
    pub format: Format,
    pub auth: Auth,
    pub url: UrlStyle,
    pub output_cap: OutputCap,
    pub balance: Balance,
    pub base_url: String,
    /// The model name sent upstream, after the channel's model mapping.
    pub upstream_model: String,
    /// `OpenAI-Organization`; empty for none.
    pub organization: String,
    /// Azure's `api-version`, Vertex AI's region (Veloera's `other`).
    pub api_version: String,
    pub param_override: ParamOverride,
    /// Prepended to the conversation's system prompt; empty for none.
    pub system_prompt: String,
    /// Added after the adaptor's own headers, replacing any of the same name.
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// Upstream status → status shown to the client.
    pub status_map: HashMap<i32, i32>,
    /// Called without streaming even when the client streams.
    pub non_stream_only: bool,
    /// Reasoning shown as `<think>…</think>` in the answer text.
    pub thinking_to_content: bool,
    /// OpenAI-compatible chunks re-encoded as standard OpenAI chunks.
    pub force_format: bool,
    /// `http://`, `socks5://` or `socks5h://` proxy URL; `None` for a direct connection.
    pub proxy: Option<String>,
    /// The keys currently healthy; shared (not copied) with each answer, which scrubs them from error events.
    pub keys: Arc<[Key]>,
    /// Priority tier: every candidate of rank 0 before any of rank 1.
    pub rank: u32,
    /// Relative weight inside a rank.
    pub weight: u32,
    pub timeouts: Timeouts,
    /// Set when this candidate is billed differently from the grant's pricing (a virtual model's real model).
    pub pricing: Option<Pricing>,
    /// The model billed and logged; empty means the asked model.
    pub billed_model: String,
}

/// One attempt's destination: a candidate channel and the key picked for this attempt.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub channel: &'a Channel,
    pub key: &'a Key,
}

#[cfg(test)]
pub(crate) mod testing {
    //! Channels for unit tests, made the way the cache makes them: from a candidate carrying its type's row.

    use veloera_admin_types::channel_types::ChannelType;
    use veloera_proto::v1::{AuthStyle, Candidate, ChannelKey, OutputCapField, UrlStyle, WireFormat};

    use super::{Channel, Target};

    /// An OpenAI-compatible candidate (bearer key, versioned URL) with the key `sk-up`.
    pub fn openai_candidate() -> Candidate {
        Candidate {
            channel_id: 1,
            wire: WireFormat::Openai as i32,
            auth: AuthStyle::Bearer as i32,
            url: UrlStyle::Openai as i32,
            output_cap: OutputCapField::MaxTokens as i32,
            keys: vec![ChannelKey { slot: 0, key: "sk-up".into() }],
            ..Candidate::default()
        }
    }

    /// A candidate of Veloera's channel type `type_id` with the key `sk-up`, its row's data written by control's
    /// own `describe`, as control sends it.
    pub fn candidate_of_type(type_id: i32) -> Candidate {
        candidate_of_row(control_svc::routing::channel_types::find(type_id).unwrap())
    }

    /// The same for any row of the channel-type table, one this build has or one a test makes up.
    pub fn candidate_of_row(row: &ChannelType) -> Candidate {
        let mut c = Candidate {
            channel_id: 1,
            channel_type: row.id,
            base_url: row.default_base_url.into(),
            keys: vec![ChannelKey { slot: 0, key: "sk-up".into() }],
            ..Candidate::default()
        };
        control_svc::routing::channel_types::describe(&mut c, row);
        c
    }

    /// `candidate` as the relay's channel.
    pub fn channel(candidate: Candidate) -> Channel {
        Channel::try_from(candidate).unwrap()
    }

    /// The channel's first key as the target.
    pub fn target(channel: &Channel) -> Target<'_> {
        Target { channel, key: &channel.keys[0] }
    }
}
