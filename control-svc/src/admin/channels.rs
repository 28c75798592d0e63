//! `/api/channel/*` (admin only): create and list channels. Keys go in, only masked hints come out.

use axum::Json;
use axum::extract::{Path, State};
use veloera_admin_types::{Channel, ChannelCreate, Envelope};

use super::JsonBody;
use super::session::Admin;
use crate::db::channels::{ChannelSettings, NewChannel};
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::routing::{channel_types, settings, split_list};
use crate::secrets::mask;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Json<Envelope<Vec<Channel>>>, ControlError> {
    let rows = db::channels::list(state.db()).await?;
    Ok(Json(Envelope::ok(rows.iter().map(|r| r.to_dto()).collect())))
}

pub async fn get_one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    let row = db::channels::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("channel {id} not found")))?;
    Ok(Json(Envelope::ok(row.to_dto())))
}

pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelCreate>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    let new = validate(&state, body)?;
    let id = db::channels::insert(state.db(), &new).await?;
    state.reload_channels().await?;
    let row = db::channels::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::Internal("channel vanished".into()))?;
    Ok(Json(Envelope::ok(row.to_dto())))
}

fn validate(state: &AppState, body: ChannelCreate) -> Result<NewChannel, ControlError> {
    let bad = |m: String| Err(ControlError::BadRequest(m));
    let Some(kind) = channel_types::find(body.channel_type) else {
        return bad(format!("unknown channel type {}", body.channel_type));
    };
    if kind.wire == channel_types::Wire::Unsupported {
        return bad(format!("channel type {} ({}) is not supported by this build yet", kind.id, kind.name));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return bad("name is required (at most 64 characters)".into());
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
            return bad(
                "a Vertex AI key is a service-account JSON with client_email, private_key and project_id".into()
            );
        }
    }
    if keys.is_empty() {
        return bad("key is required (several keys may be separated by commas or newlines)".into());
    }
    let models = split_list(&body.models);
    if models.is_empty() {
        return bad("models is required: a comma-separated list of model names".into());
    }
    let base_url = body.base_url.unwrap_or_default().trim().trim_end_matches('/').to_string();
    if kind.id == channel_types::AWS_CLAUDE
        && keys.iter().any(|k| k.split('|').filter(|p| !p.trim().is_empty()).count() != 3)
    {
        return bad("an AWS Claude key is AK|SK|region (several keys may be separated by commas or newlines)".into());
    }
    let derived_endpoint = matches!(kind.id, channel_types::AWS_CLAUDE | channel_types::VERTEX_AI);
    if base_url.is_empty() && kind.default_base_url.is_empty() && !derived_endpoint {
        return bad(format!("base_url is required for channel type {} ({})", kind.id, kind.name));
    }
    if !base_url.is_empty() {
        match url::Url::parse(&base_url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => return bad(format!("base_url {base_url:?} is not an http(s) URL")),
        }
    }
    let model_mapping = body.model_mapping.unwrap_or_default().trim().to_string();
    if !model_mapping.is_empty()
        && serde_json::from_str::<std::collections::HashMap<String, String>>(&model_mapping).is_err()
    {
        return bad("model_mapping must be a JSON object of model name to model name".into());
    }
    let groups = split_list(body.group.as_deref().unwrap_or("default"));
    let groups = if groups.is_empty() { vec!["default".to_string()] } else { groups };
    let status = body.status.unwrap_or(1);
    if !(1..=3).contains(&status) {
        return bad("status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)".into());
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
        return bad("model_prefix must be at most 32 characters without spaces or commas".into());
    }
    let weight = body.weight.unwrap_or(0);
    if weight < 0 {
        return bad("weight must not be negative".into());
    }
    Ok(NewChannel {
        channel_type: kind.id as i64,
        name,
        key_ciphertext: state.cipher().encrypt(&keys.join(",")),
        key_hint: keys.iter().map(|k| mask(k)).collect::<Vec<_>>().join(","),
        base_url,
        models: models.join(","),
        group_name: groups.join(","),
        model_mapping,
        status: status as i64,
        priority: body.priority.unwrap_or(0),
        weight,
        auto_ban: body.auto_ban.unwrap_or(1).clamp(0, 1) as i64,
        test_model: body.test_model.unwrap_or_default(),
        openai_organization: body.openai_organization.unwrap_or_default(),
        tag: body.tag.unwrap_or_default(),
        created_time: now_secs(),
        model_prefix,
        settings,
    })
}
