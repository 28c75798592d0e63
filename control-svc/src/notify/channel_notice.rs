//! Root's notices when health management disables a channel or key on its own, and when one comes back
//! (Veloera's `channel_update` notices from `DisableChannel` / `EnableChannel`), at most twice an hour for each
//! channel or key and direction.

use super::Notice;
use crate::state::AppState;

/// A status change made automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    pub channel_id: i64,
    pub channel_name: String,
    /// `None`: the channel itself; `Some(slot)`: one of its keys.
    pub key_slot: Option<i32>,
    /// True: disabled (with `reason`); false: enabled again.
    pub disabled: bool,
    pub reason: String,
}

/// The notice root gets for `change`.
pub fn notice(change: &HealthChange) -> Notice {
    let name = &change.channel_name;
    let what = match change.key_slot {
        None => format!("Channel \"{name}\" (#{})", change.channel_id),
        Some(slot) => format!("Key {slot} of channel \"{name}\" (#{})", change.channel_id),
    };
    let (title, content) = if change.disabled {
        (format!("{what} was disabled"), format!("{what} was disabled automatically. Reason: {}", change.reason))
    } else {
        (format!("{what} was enabled"), format!("{what} passed its test and was enabled again automatically."))
    };
    Notice::new("channel_update", title, content, vec![change.channel_id.to_string(), name.to_string()])
}

/// Tells root about each change (after it committed).
pub fn send(state: &AppState, changes: &[HealthChange]) {
    let now = crate::db::now_secs();
    for change in changes {
        let subject = format!("channel {} key {:?} disabled {}", change.channel_id, change.key_slot, change.disabled);
        if !state.notifier().allow(&subject, now) {
            tracing::info!(channel = change.channel_id, key = ?change.key_slot, "root already told twice this hour");
            continue;
        }
        tracing::info!(channel = change.channel_id, key = ?change.key_slot, disabled = change.disabled, "notifying root");
        super::send_to_root(state, notice(change));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_channel_the_key_and_the_reason() {
        let off = HealthChange {
            channel_id: 7,
            channel_name: "openai-main".into(),
            key_slot: Some(1),
            disabled: true,
            reason: "upstream answered 401".into(),
        };
        let n = notice(&off);
        assert_eq!(n.title, "Key 1 of channel \"openai-main\" (#7) was disabled");
        assert!(n.content.ends_with("Reason: upstream answered 401"));
        let on = HealthChange { key_slot: None, disabled: false, reason: String::new(), ..off };
        assert_eq!(notice(&on).title, "Channel \"openai-main\" (#7) was enabled");
    }
}
