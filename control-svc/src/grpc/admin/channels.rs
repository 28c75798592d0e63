//! Channels (administrators): list with health and per-key status, enable or disable a channel or one key, through
//! `admin/channel_health.rs` and the status rules of `admin/channels`.

use tonic::Status;
use veloera_admin_types::{ChannelKeyStatus, ChannelStatus};
use veloera_proto::admin_v1::{
    ChannelHealth, KeyHealth, ListChannelsRequest, ListChannelsResponse, SetChannelKeyStatusRequest,
    SetChannelStatusRequest,
};

use super::errors::invalid;
use crate::admin::{channel_health, channels::status_change};
use crate::db::{self, channels::ChannelOrder, channels::ChannelRow, users::UserRow};
use crate::state::AppState;

async fn health(state: &AppState, row: &ChannelRow) -> Result<ChannelHealth, Status> {
    let keys = channel_health::key_views(state, row).await?;
    Ok(ChannelHealth {
        id: row.id,
        name: row.name.clone(),
        r#type: row.channel_type as i32,
        status: row.status as i32,
        status_reason: row.status_reason.clone(),
        response_time: row.response_time,
        balance: row.balance,
        used_quota: row.used_quota,
        keys: keys
            .into_iter()
            .map(|k| KeyHealth {
                slot: k.slot as i64,
                key: k.key,
                status: k.status,
                status_reason: k.status_reason,
                last_error: k.last_error,
                request_count: k.request_count,
                error_count: k.error_count,
            })
            .collect(),
    })
}

pub async fn list(state: &AppState, r: ListChannelsRequest) -> Result<ListChannelsResponse, Status> {
    let (offset, size) = super::window(r.page)?;
    let rows = db::channels::page(state.db(), ChannelOrder::IdDesc, Some((offset, size))).await?;
    let mut channels = Vec::with_capacity(rows.len());
    for row in &rows {
        channels.push(health(state, row).await?);
    }
    Ok(ListChannelsResponse { channels, total: db::channels::count(state.db()).await? })
}

async fn find(state: &AppState, id: i64) -> Result<ChannelRow, Status> {
    if id <= 0 {
        return Err(invalid("id", "id must be a channel id"));
    }
    Ok(channel_health::channel(state, id).await?)
}

pub async fn set_status(state: &AppState, r: SetChannelStatusRequest) -> Result<ChannelHealth, Status> {
    let row = find(state, r.id).await?;
    let wanted = if r.enabled { ChannelStatus::Enabled } else { ChannelStatus::Disabled };
    if let Some(change) = status_change(&row, Some(wanted.as_i32()))? {
        db::channels::set_status(state.db(), row.id, &change).await?;
        state.reload_channels().await?;
    }
    health(state, &find(state, row.id).await?).await
}

pub async fn set_key_status(
    state: &AppState,
    actor: &UserRow,
    r: SetChannelKeyStatusRequest,
) -> Result<ChannelHealth, Status> {
    if r.channel_id <= 0 {
        return Err(invalid("channel_id", "channel_id must be a channel id"));
    }
    let slot = usize::try_from(r.slot).map_err(|_| invalid("slot", "slot must not be negative"))?;
    let body = ChannelKeyStatus { slot, status: if r.enabled { 1 } else { 2 } };
    channel_health::set_key(state, actor, r.channel_id, body).await.map_err(|e| match e {
        crate::error::ControlError::BadRequest(m) => invalid("slot", &m),
        other => other.into(),
    })?;
    health(state, &find(state, r.channel_id).await?).await
}
