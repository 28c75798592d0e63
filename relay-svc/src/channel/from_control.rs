//! A `Candidate` from control → the relay's [`Channel`], once per grant or job (never per request).

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use veloera_proto::v1::{AuthStyle, BalanceStyle, Candidate, OutputCapField, UrlStyle as WireUrl, WireFormat};

use super::{Auth, Balance, Channel, ChannelId, Key, ParamOverride, Timeouts, UrlStyle, Wire};
use crate::providers::openai::convert::OutputCap;
use crate::providers::{Format, vertex};

impl TryFrom<Candidate> for Channel {
    /// Why the candidate cannot be used (it names the channel).
    type Error = String;

    fn try_from(c: Candidate) -> Result<Channel, String> {
        let id = ChannelId(c.channel_id);
        let refuse = |what: &str| format!("channel {id} ({}): control sent no {what}", c.channel_name);
        let wire = match c.wire() {
            WireFormat::Unspecified => return Err(refuse("wire format")),
            WireFormat::Openai => Wire::OpenAi,
            WireFormat::Anthropic => Wire::Anthropic,
            WireFormat::Gemini => Wire::Gemini,
            WireFormat::Vertex => Wire::Vertex,
            WireFormat::Bedrock => Wire::Bedrock,
        };
        let auth = match c.auth() {
            AuthStyle::Unspecified => return Err(refuse("auth style")),
            AuthStyle::Bearer => Auth::Bearer,
            AuthStyle::ApiKeyHeader => Auth::Header(
                HeaderName::from_bytes(c.auth_header.as_bytes()).map_err(|_| refuse("valid auth header name"))?,
            ),
            AuthStyle::GoogleServiceAccount => Auth::GoogleServiceAccount,
            AuthStyle::Sigv4 => Auth::SigV4,
        };
        let url = match c.url() {
            WireUrl::Unspecified => return Err(refuse("URL style")),
            WireUrl::Openai => UrlStyle::OpenAi,
            WireUrl::AzureDeployment => UrlStyle::AzureDeployment,
            WireUrl::CustomTemplate => UrlStyle::CustomTemplate,
            WireUrl::Anthropic => UrlStyle::Anthropic,
            WireUrl::Gemini => UrlStyle::Gemini,
            WireUrl::Vertex => UrlStyle::Vertex,
            WireUrl::Bedrock => UrlStyle::Bedrock,
        };
        let output_cap = match c.output_cap() {
            OutputCapField::Unspecified => return Err(refuse("output-cap field")),
            OutputCapField::MaxTokens => OutputCap::MaxTokens,
            OutputCapField::MaxCompletionTokens => OutputCap::MaxCompletionTokens,
        };
        let balance = match c.balance() {
            BalanceStyle::None => Balance::None,
            BalanceStyle::OpenaiDashboard => Balance::OpenAiDashboard,
            BalanceStyle::Deepseek => Balance::DeepSeek,
            BalanceStyle::Siliconflow => Balance::SiliconFlow,
            BalanceStyle::Openrouter => Balance::OpenRouter,
        };
        let format = match wire {
            Wire::OpenAi => Format::OpenAi,
            Wire::Anthropic | Wire::Bedrock => Format::Anthropic,
            Wire::Gemini => Format::Gemini,
            Wire::Vertex if vertex::is_claude(&c.upstream_model) => Format::Anthropic,
            Wire::Vertex => Format::Gemini,
        };
        // Control validates both when the channel is saved; a bad one is left out rather than failing the channel.
        let param_override = ParamOverride::parse(&c.param_override).unwrap_or_else(|_| {
            tracing::warn!(channel = id.get(), "the channel's param_override is not a JSON object; ignored");
            ParamOverride::default()
        });
        let extra_headers = c
            .extra_headers
            .iter()
            .filter_map(|(name, value)| {
                Some((HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value).ok()?))
            })
            .collect();
        let keys = c.keys.into_iter().map(|k| Key::new(k.slot, k.key, &auth, id)).collect();
        let t = c.timeouts.unwrap_or_default();
        let ms = |v: u32| (v != 0).then(|| Duration::from_millis(u64::from(v)));
        Ok(Channel {
            id,
            name: c.channel_name,
            type_number: c.channel_type,
            wire,
            format,
            auth,
            url,
            output_cap,
            balance,
            base_url: c.base_url,
            upstream_model: c.upstream_model,
            organization: c.openai_organization,
            api_version: c.api_version,
            param_override,
            system_prompt: c.system_prompt,
            extra_headers,
            status_map: c.status_code_mapping,
            non_stream_only: c.non_stream_only,
            thinking_to_content: c.thinking_to_content,
            force_format: c.force_format,
            proxy: (!c.proxy.is_empty()).then_some(c.proxy),
            keys,
            rank: c.rank,
            weight: c.weight,
            timeouts: Timeouts {
                connect: ms(t.connect_ms),
                first_byte: ms(t.first_byte_ms),
                idle: ms(t.idle_ms),
                total: ms(t.total_ms),
            },
            pricing: c.pricing,
            billed_model: c.billed_model,
        })
    }
}

#[cfg(test)]
mod tests {
    use veloera_proto::v1::ChannelKey;

    use super::*;
    use crate::channel::Credential;
    use crate::channel::testing::{self, openai_candidate};

    #[test]
    fn a_candidate_is_read_once_into_typed_parts() {
        let c = Candidate {
            param_override: r#"{"temperature": 0.1}"#.into(),
            extra_headers: [("X-Team".to_string(), "blue".to_string()), ("bad name".into(), "x".into())].into(),
            proxy: "socks5://p:1080".into(),
            keys: vec![ChannelKey { slot: 3, key: "sk-up".into() }],
            ..openai_candidate()
        };
        let channel = Channel::try_from(c).unwrap();
        assert_eq!(channel.param_override.values()["temperature"], 0.1);
        assert_eq!(channel.extra_headers, vec![(HeaderName::from_static("x-team"), HeaderValue::from_static("blue"))]);
        assert_eq!(channel.proxy.as_deref(), Some("socks5://p:1080"));
        assert_eq!(channel.timeouts, Timeouts::default());
        let Credential::Header(name, value) = &channel.keys[0].credential else { panic!() };
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("authorization", "Bearer sk-up"));
        assert!(value.is_sensitive());
    }

    #[test]
    fn a_candidate_without_its_types_data_is_refused() {
        let err = Channel::try_from(Candidate { channel_id: 4, ..Candidate::default() }).unwrap_err();
        assert!(err.contains("channel 4") && err.contains("wire format"), "{err}");
        let bad_header =
            Candidate { auth: AuthStyle::ApiKeyHeader as i32, auth_header: "no good".into(), ..openai_candidate() };
        assert!(Channel::try_from(bad_header).is_err());
    }

    /// Every row of control's channel-type table, as control sends it, arrives in the relay's channel as the
    /// row says: the relay holds no copy of the table.
    #[test]
    fn every_channel_type_rows_data_reaches_the_channel_unchanged() {
        use veloera_admin_types::channel_types as table;
        for row in table::all() {
            let channel = Channel::try_from(testing::candidate_of_row(row)).unwrap();
            let wire = match row.wire {
                table::Wire::OpenAi | table::Wire::Unsupported => Wire::OpenAi,
                table::Wire::Anthropic => Wire::Anthropic,
                table::Wire::Gemini => Wire::Gemini,
                table::Wire::Vertex => Wire::Vertex,
                table::Wire::Bedrock => Wire::Bedrock,
            };
            let auth = match row.auth {
                table::Auth::Bearer => Auth::Bearer,
                table::Auth::Header(name) => Auth::Header(HeaderName::from_static(name)),
                table::Auth::GoogleServiceAccount => Auth::GoogleServiceAccount,
                table::Auth::SigV4 => Auth::SigV4,
            };
            let url = match row.url {
                table::Url::OpenAi => UrlStyle::OpenAi,
                table::Url::AzureDeployment => UrlStyle::AzureDeployment,
                table::Url::CustomTemplate => UrlStyle::CustomTemplate,
                table::Url::Anthropic => UrlStyle::Anthropic,
                table::Url::Gemini => UrlStyle::Gemini,
                table::Url::Vertex => UrlStyle::Vertex,
                table::Url::Bedrock => UrlStyle::Bedrock,
            };
            let output_cap = match row.output_cap {
                table::OutputCap::MaxTokens => OutputCap::MaxTokens,
                table::OutputCap::MaxCompletionTokens => OutputCap::MaxCompletionTokens,
            };
            let balance = match row.balance {
                table::Balance::None => Balance::None,
                table::Balance::OpenAiDashboard => Balance::OpenAiDashboard,
                table::Balance::DeepSeek => Balance::DeepSeek,
                table::Balance::SiliconFlow => Balance::SiliconFlow,
                table::Balance::OpenRouter => Balance::OpenRouter,
            };
            let got = (channel.wire, &channel.auth, channel.url, channel.output_cap, channel.balance);
            assert_eq!(got, (wire, &auth, url, output_cap, balance), "{}", row.name);
            assert_eq!(channel.type_number, row.id);
        }
    }

    #[test]
    fn vertex_channels_speak_their_models_publishers_format() {
        let vertex = |model: &str| Candidate {
            wire: WireFormat::Vertex as i32,
            auth: AuthStyle::GoogleServiceAccount as i32,
            url: WireUrl::Vertex as i32,
            upstream_model: model.into(),
            ..openai_candidate()
        };
        assert_eq!(Channel::try_from(vertex("claude-sonnet-4-5")).unwrap().format, Format::Anthropic);
        assert_eq!(Channel::try_from(vertex("gemini-2.5-pro")).unwrap().format, Format::Gemini);
    }
}
