//! `WatchConfig`: a `reset` first, then every published change, until control shuts down.

use futures::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use veloera_proto::v1::config_event::Event;
use veloera_proto::v1::{ChannelsChanged, ConfigEvent, OptionsChanged, Reset, TokenChanged, UserChanged};

use super::BoxStream;
use crate::events::Change;
use crate::state::AppState;

fn to_event(state: &AppState, version: u64, change: Change) -> ConfigEvent {
    let event = match change {
        Change::Token { token_id, key_digest_hex } => {
            Event::TokenChanged(TokenChanged { key_digest: hex::decode(key_digest_hex).unwrap_or_default(), token_id })
        }
        Change::User { user_id } => Event::UserChanged(UserChanged { user_id }),
        Change::Channels => Event::ChannelsChanged(ChannelsChanged {}),
        Change::Options => Event::OptionsChanged(OptionsChanged { settings: Some((*state.relay_settings()).clone()) }),
    };
    ConfigEvent { version, event: Some(event) }
}

pub fn events(state: &AppState) -> BoxStream<ConfigEvent> {
    // Subscribe before reading the version, so nothing published in between is missed.
    let rx = state.events().subscribe();
    let reset = |state: &AppState| Event::Reset(Reset { settings: Some((*state.relay_settings()).clone()) });
    let first = ConfigEvent { version: state.events().version(), event: Some(reset(state)) };
    let app = state.clone();
    let changes = BroadcastStream::new(rx).map(move |item| match item {
        Ok((version, change)) => Ok(to_event(&app, version, change)),
        // This relay fell behind: it cannot know what it missed, so it must drop everything.
        Err(BroadcastStreamRecvError::Lagged(_)) => Ok(ConfigEvent { version: 0, event: Some(reset(&app)) }),
    });
    let shutdown = state.shutdown().clone();
    Box::pin(
        futures::stream::once(async move { Ok(first) })
            .chain(changes)
            .take_until(async move { shutdown.cancelled().await }),
    )
}
