//! Channel export and import (`GET /api/channel/export`, `POST /api/channel/import`): the file an operator
//! downloads from one installation and uploads to another, and what the import did with it.
//!
//! Unlike every other channel answer, an export carries the keys in full: it exists to move channels between
//! installations, so only root may ask for one.

use serde::{Deserialize, Serialize};

/// The version of [`ChannelExportFile`] this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// One channel as exported: the fields the channel create API takes, keys in full and one per entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelExport {
    #[serde(rename = "type")]
    pub channel_type: i32,
    pub name: String,
    /// Every key of the channel, unmasked (a Vertex AI key is one service-account JSON).
    pub keys: Vec<String>,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub models: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub model_mapping: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub weight: i64,
    #[serde(default)]
    pub auto_ban: i32,
    #[serde(default)]
    pub test_model: String,
    #[serde(default)]
    pub openai_organization: String,
    #[serde(default)]
    pub tag: String,
    /// Veloera's channel status number (1 enabled, 2 disabled, 3 auto-disabled).
    #[serde(default)]
    pub status: i32,
    #[serde(default)]
    pub other: String,
    #[serde(default)]
    pub param_override: String,
    #[serde(default)]
    pub status_code_mapping: String,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub headers: String,
    /// Veloera's `setting` JSON (stream support, proxy with its password).
    #[serde(default)]
    pub setting: String,
    #[serde(default)]
    pub model_prefix: String,
}

/// The `data` of `GET /api/channel/export`, and the body `POST /api/channel/import` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelExportFile {
    /// [`EXPORT_VERSION`] when written by this build; an import refuses versions it does not know.
    pub version: u32,
    /// Unix seconds.
    pub exported_at: i64,
    pub channels: Vec<ChannelExport>,
}

/// The `data` of `POST /api/channel/import` (also with `?dry_run=true`, where nothing is written and the counts
/// say what an import would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelImportReport {
    pub created: i64,
    pub skipped: i64,
    #[serde(default)]
    pub failed: Vec<ImportFailure>,
}

/// A channel of the file that was not imported, and why, in words for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportFailure {
    pub name: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_file_reads_back_what_it_wrote_with_type_under_its_veloera_name() {
        let file = ChannelExportFile {
            version: EXPORT_VERSION,
            exported_at: 1_796_000_000,
            channels: vec![ChannelExport {
                channel_type: 14,
                name: "claude".into(),
                keys: vec!["sk-a".into(), "sk-b".into()],
                priority: 3,
                ..ChannelExport::default()
            }],
        };
        let text = serde_json::to_string(&file).unwrap_or_default();
        assert!(text.contains("\"type\":14"), "{text}");
        let back: ChannelExportFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back, file);
    }

    #[test]
    fn an_export_entry_needs_only_type_name_and_keys() {
        let entry: ChannelExport =
            serde_json::from_str(r#"{"type":1,"name":"a","keys":["k"]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entry.keys, vec!["k".to_string()]);
        assert_eq!(entry.models, "");
    }
}
