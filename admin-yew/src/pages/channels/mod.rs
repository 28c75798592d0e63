//! Channels (administrators): the list with tests and balances, the create/edit form, and export/import.

pub mod edit;
pub mod list;
mod setting;
pub mod tags;
pub mod transfer;

use veloera_admin_types::channel_types;

/// The type's name, or its number when this build does not know it.
pub fn type_name(id: i32) -> String {
    channel_types::find(id).map_or_else(|| format!("#{id}"), |t| t.name.to_string())
}

/// A stable colour per type for its badge, so types are told apart at a glance.
pub fn type_hue(id: i32) -> i32 {
    (id * 47) % 360
}

/// The catalogue key of the key-field hint for a type (what the key looks like there).
pub fn key_hint(id: i32) -> &'static str {
    match id {
        3 => "channel.hint.azure",
        14 => "channel.hint.claude",
        24 => "channel.hint.gemini",
        channel_types::AWS_CLAUDE => "channel.hint.bedrock",
        channel_types::VERTEX_AI => "channel.hint.vertex",
        4 | 47 => "channel.hint.selfhosted",
        _ => "channel.hint.default",
    }
}

/// The catalogue key of the hint for the `other` field, for the types that use it.
pub fn other_hint(id: i32) -> Option<&'static str> {
    match id {
        3 => Some("channel.other.azure"),
        channel_types::VERTEX_AI => Some("channel.other.vertex"),
        _ => None,
    }
}
