//! Checks shared by every channel write. A create is validated whole; an update is first merged over the
//! stored channel and then validated whole the same way; a tag edit checks the fields it changes.

use veloera_admin_types::{ChannelCreate, ChannelUpdate};

use crate::db::channels::{ChannelRow, ChannelSettings, NewChannel};
use crate::db::now_secs;
use crate::error::ControlError;
use crate::routing::{channel_types, proxy_secret, settings, split_list};
use crate::secrets::{Cipher, mask};
use crate::state::AppState;

fn bad<T>(message: impl Into<String>) -> Result<T, ControlError> {
    Err(ControlError::BadRequest(message.into()))
}

/// Refuses text longer than `limit` characters (the MySQL schema's column sizes, enforced on every backend).
fn check_len(field: &str, value: &str, limit: usize) -> Result<(), ControlError> {
    if value.chars().count() > limit {
        return bad(format!("{field} is longer than {limit} characters"));
    }
    Ok(())
}

/// The model list, normalised to `a,b,c`.
pub(super) fn check_models(raw: &str) -> Result<String, ControlError> {
    let models = split_list(raw).join(",");
    if models.is_empty() {
        return bad("models is required: a comma-separated list of model names");
    }
    check_len("models", &models, 2048)?;
    Ok(models)
}

/// The group list, normalised to `a,b`; empty means `default`.
pub(super) fn check_groups(field: &str, raw: &str) -> Result<String, ControlError> {
    let groups = split_list(raw);
    let groups = if groups.is_empty() { "default".to_string() } else { groups.join(",") };
    check_len(field, &groups, 255)?;
    Ok(groups)
}

/// A JSON object of model name to model name, or empty.
pub(super) fn check_model_mapping(raw: &str) -> Result<String, ControlError> {
    let mapping = raw.trim().to_string();
    if !mapping.is_empty() && serde_json::from_str::<std::collections::HashMap<String, String>>(&mapping).is_err() {
        return bad("model_mapping must be a JSON object of model name to model name");
    }
    check_len("model_mapping", &mapping, 2048)?;
    Ok(mapping)
}

pub(super) fn check_weight(weight: i64) -> Result<i64, ControlError> {
    if weight < 0 {
        return bad("weight must not be negative");
    }
    Ok(weight)
}

/// A tag, trimmed; may be empty (no tag).
pub(super) fn check_tag(field: &str, raw: &str) -> Result<String, ControlError> {
    let tag = raw.trim().to_string();
    check_len(field, &tag, 64)?;
    Ok(tag)
}

/// Validates a whole channel and encrypts its keys (every channel write, file imports and database imports).
pub(crate) fn validate(cipher: &Cipher, body: ChannelCreate) -> Result<NewChannel, ControlError> {
    let Some(kind) = channel_types::find(body.channel_type) else {
        return bad(format!("unknown channel type {}", body.channel_type));
    };
    if kind.wire == channel_types::Wire::Unsupported {
        return bad(format!("channel type {} ({}) is not supported by this build yet", kind.id, kind.name));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return bad("name is required (at most 64 characters)");
    }
    let keys = channel_types::keys_of(kind.id, &body.key);
    if kind.id == channel_types::VERTEX_AI {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct ServiceAccount {
            client_email: String,
            private_key: String,
            project_id: String,
        }
        if serde_json::from_str::<ServiceAccount>(body.key.trim()).is_err() {
            return bad("a Vertex AI key is a service-account JSON with client_email, private_key and project_id");
        }
    }
    if keys.is_empty() {
        return bad("key is required (several keys may be separated by commas or newlines)");
    }
    if kind.id == channel_types::AWS_CLAUDE
        && keys.iter().any(|k| k.split('|').filter(|p| !p.trim().is_empty()).count() != 3)
    {
        return bad("an AWS Claude key is AK|SK|region (several keys may be separated by commas or newlines)");
    }
    let key = keys.join(",");
    let key_hint = keys.iter().map(|k| mask(k)).collect::<Vec<_>>().join(",");
    // The stored ciphertext and hint columns hold about 11,000 characters of keys and about 100 keys.
    if key.len() > 11_000 || key_hint.chars().count() > 2048 {
        return bad("key is too long: at most 11,000 characters and 100 keys per channel");
    }
    let models = check_models(&body.models)?;
    let base_url = body.base_url.unwrap_or_default().trim().trim_end_matches('/').to_string();
    let derived_endpoint = matches!(kind.id, channel_types::AWS_CLAUDE | channel_types::VERTEX_AI);
    if base_url.is_empty() && kind.default_base_url.is_empty() && !derived_endpoint {
        return bad(format!("base_url is required for channel type {} ({})", kind.id, kind.name));
    }
    if !base_url.is_empty() {
        match url::Url::parse(&base_url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => return bad(format!("base_url {base_url:?} is not an http(s) URL")),
        }
        check_len("base_url", &base_url, 512)?;
    }
    let model_mapping = check_model_mapping(body.model_mapping.as_deref().unwrap_or(""))?;
    let group_name = check_groups("group", body.group.as_deref().unwrap_or("default"))?;
    let status = body.status.unwrap_or(1);
    if !(1..=3).contains(&status) {
        return bad("status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)");
    }
    let settings = ChannelSettings {
        other: body.other.unwrap_or_default().trim().to_string(),
        param_override: body.param_override.unwrap_or_default(),
        status_code_mapping: body.status_code_mapping.unwrap_or_default(),
        system_prompt: body.system_prompt.unwrap_or_default(),
        headers: body.headers.unwrap_or_default(),
        setting: body.setting.unwrap_or_default(),
    };
    if let Err(e) = settings::validate(&settings) {
        return bad(e);
    }
    let model_prefix = body.model_prefix.unwrap_or_default().trim().to_string();
    if model_prefix.chars().count() > 32 || model_prefix.chars().any(|c| c.is_whitespace() || c == ',') {
        return bad("model_prefix must be at most 32 characters without spaces or commas");
    }
    let test_model = body.test_model.unwrap_or_default().trim().to_string();
    check_len("test_model", &test_model, 255)?;
    let openai_organization = body.openai_organization.unwrap_or_default().trim().to_string();
    check_len("openai_organization", &openai_organization, 255)?;
    Ok(NewChannel {
        channel_type: kind.id as i64,
        name,
        key_ciphertext: cipher.encrypt(&key),
        key_hint,
        base_url,
        models,
        group_name,
        model_mapping,
        status: status as i64,
        priority: body.priority.unwrap_or(0),
        weight: check_weight(body.weight.unwrap_or(0))?,
        auto_ban: body.auto_ban.unwrap_or(1).clamp(0, 1) as i64,
        test_model,
        openai_organization,
        tag: check_tag("tag", body.tag.as_deref().unwrap_or(""))?,
        created_time: now_secs(),
        model_prefix,
        settings,
    })
}

/// The stored channel with the fields of `update` laid over it, ready for [`validate`]. An empty or absent
/// key keeps the stored keys; a proxy password sent back as its placeholder keeps the stored one
/// ([`proxy_secret::restore`]).
pub(super) fn merge(state: &AppState, row: &ChannelRow, update: ChannelUpdate) -> Result<ChannelCreate, ControlError> {
    let key = match update.key.filter(|k| !k.trim().is_empty()) {
        Some(key) => key,
        None => state.cipher().decrypt(&row.key_ciphertext).map_err(|_| {
            ControlError::BadRequest(
                "the stored key cannot be decrypted (was CRYPTO_SECRET changed?); send a new key".into(),
            )
        })?,
    };
    let s = &row.settings;
    Ok(ChannelCreate {
        channel_type: update.channel_type.unwrap_or(row.channel_type as i32),
        name: update.name.unwrap_or_else(|| row.name.clone()),
        key,
        base_url: Some(update.base_url.unwrap_or_else(|| row.base_url.clone())),
        models: update.models.unwrap_or_else(|| row.models.clone()),
        group: Some(update.group.unwrap_or_else(|| row.group_name.clone())),
        model_mapping: Some(update.model_mapping.unwrap_or_else(|| row.model_mapping.clone())),
        priority: Some(update.priority.unwrap_or(row.priority)),
        weight: Some(update.weight.unwrap_or(row.weight)),
        auto_ban: Some(update.auto_ban.unwrap_or(row.auto_ban as i32)),
        test_model: Some(update.test_model.unwrap_or_else(|| row.test_model.clone())),
        openai_organization: Some(update.openai_organization.unwrap_or_else(|| row.openai_organization.clone())),
        tag: Some(update.tag.unwrap_or_else(|| row.tag.clone())),
        status: Some(update.status.unwrap_or(row.status as i32)),
        other: Some(update.other.unwrap_or_else(|| s.other.clone())),
        param_override: Some(update.param_override.unwrap_or_else(|| s.param_override.clone())),
        status_code_mapping: Some(update.status_code_mapping.unwrap_or_else(|| s.status_code_mapping.clone())),
        system_prompt: Some(update.system_prompt.unwrap_or_else(|| s.system_prompt.clone())),
        headers: Some(update.headers.unwrap_or_else(|| s.headers.clone())),
        setting: Some(match update.setting {
            Some(setting) => proxy_secret::restore(&setting, &s.setting).map_err(ControlError::BadRequest)?,
            None => s.setting.clone(),
        }),
        model_prefix: Some(update.model_prefix.unwrap_or_else(|| row.model_prefix.clone())),
    })
}
