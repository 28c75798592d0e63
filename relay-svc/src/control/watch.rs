//! Keeps the `WatchConfig` stream open and applies each invalidation to the caches.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use veloera_proto::v1::WatchConfigRequest;
use veloera_proto::v1::config_event::Event;

use super::ControlLink;
use crate::limits::Limiter;

/// Runs until `shutdown`: connect, apply events (relay settings go to the guard, the content log and `limiter`),
/// and on any break mark the
/// caches as unwatched and reconnect.
pub async fn run(link: Arc<ControlLink>, limiter: Arc<Limiter>, relay_id: String, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let mut stream =
                link.client().watch_config(WatchConfigRequest { relay_id: relay_id.clone() }).await?.into_inner();
            while let Some(event) = stream.message().await? {
                let is_reset = matches!(event.event, Some(Event::Reset(_)));
                match event.event {
                    Some(Event::Reset(reset)) => {
                        let settings = reset.settings.unwrap_or_default();
                        link.guard.apply(&settings);
                        link.content.apply(&settings);
                        limiter.apply(&settings);
                        link.cache.forget_all();
                        link.cache.set_watch_connected(true);
                        backoff = Duration::from_millis(100);
                    }
                    Some(Event::TokenChanged(t)) => {
                        link.cache.forget_key(&t.key_digest);
                        link.leases.forget(t.token_id);
                    }
                    Some(Event::UserChanged(u)) => link.cache.forget_user(u.user_id),
                    Some(Event::ChannelsChanged(_)) => link.cache.forget_routes(),
                    Some(Event::OptionsChanged(changed)) => {
                        let settings = changed.settings.unwrap_or_default();
                        link.guard.apply(&settings);
                        link.content.apply(&settings);
                        limiter.apply(&settings);
                        link.cache.forget_routes();
                    }
                    None => {}
                }
                link.cache.followed(event.version, is_reset);
            }
            Ok::<(), tonic::Status>(())
        };
        let outcome = tokio::select! {
            r = attempt => r,
            _ = shutdown.cancelled() => return,
        };
        link.cache.set_watch_connected(false);
        match outcome {
            Ok(()) => tracing::warn!("control closed the config stream; reconnecting"),
            Err(e) => tracing::warn!(error = ?e.message(), "config stream to control failed; reconnecting"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
