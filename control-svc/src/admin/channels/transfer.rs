//! `GET /api/channel/export` and `POST /api/channel/import`: channels with their keys as one JSON file, for
//! backups and for moving channels between sites. An export carries the keys in full, so only root may take one;
//! an import validates every channel as a create does, skips those the site already has (same name, type and
//! base URL) and writes a manage-log entry.

use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::channel_transfer::{
    ChannelExport, ChannelExportFile, ChannelImportReport, EXPORT_VERSION, ImportFailure,
};
use veloera_admin_types::{ChannelCreate, Envelope, log_type};

use super::validate::validate;
use super::{check_ids, query};
use crate::admin::JsonBody;
use crate::admin::session::{Admin, Root};
use crate::db::channels::ChannelRow;
use crate::db::logs::AccountEvent;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::routing::{channel_types, proxy_secret};
use crate::state::AppState;

/// What makes two channels the same channel when importing: name, type and base URL (trimmed, without a
/// trailing slash, as a create stores them).
pub(crate) fn natural_key(name: &str, channel_type: i64, base_url: &str) -> (String, i64, String) {
    (name.trim().to_string(), channel_type, base_url.trim().trim_end_matches('/').to_string())
}

#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    /// Comma-separated channel ids; absent or empty exports every channel.
    #[serde(default)]
    ids: String,
}

/// `GET /api/channel/export[?ids=1,2,3]` (root only): the channels, newest first, keys decrypted.
pub async fn export(
    State(state): State<AppState>,
    _root: Root,
    params: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Json<Envelope<ChannelExportFile>>, ControlError> {
    let wanted = parse_ids(&query(params)?.ids)?;
    let rows = db::channels::list(state.db()).await?;
    let rows: Vec<&ChannelRow> = match &wanted {
        None => rows.iter().collect(),
        Some(ids) => {
            let missing: Vec<String> =
                ids.iter().filter(|id| !rows.iter().any(|r| r.id == **id)).map(|id| id.to_string()).collect();
            if !missing.is_empty() {
                return Err(ControlError::NotFound(format!("no channel with id {}", missing.join(", "))));
            }
            rows.iter().filter(|r| ids.contains(&r.id)).collect()
        }
    };
    let channels = rows.into_iter().map(|row| to_export(&state, row)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Envelope::ok(ChannelExportFile { version: EXPORT_VERSION, exported_at: now_secs(), channels })))
}

/// `ids=1,2,3` → those ids (at least one, at most a batch); empty → every channel.
fn parse_ids(raw: &str) -> Result<Option<Vec<i64>>, ControlError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let ids = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(|_| ControlError::BadRequest(format!("ids: {s:?} is not a channel id"))))
        .collect::<Result<Vec<_>, _>>()?;
    check_ids(&ids)?;
    Ok(Some(ids))
}

fn to_export(state: &AppState, row: &ChannelRow) -> Result<ChannelExport, ControlError> {
    let key = state.cipher().decrypt(&row.key_ciphertext).map_err(|_| {
        ControlError::Internal(format!(
            "the keys of channel #{} cannot be decrypted (was CRYPTO_SECRET changed?)",
            row.id
        ))
    })?;
    let s = &row.settings;
    Ok(ChannelExport {
        channel_type: row.channel_type as i32,
        name: row.name.clone(),
        keys: channel_types::keys_of(row.channel_type as i32, &key),
        base_url: row.base_url.clone(),
        models: row.models.clone(),
        group: row.group_name.clone(),
        model_mapping: row.model_mapping.clone(),
        priority: row.priority,
        weight: row.weight,
        auto_ban: row.auto_ban as i32,
        test_model: row.test_model.clone(),
        openai_organization: row.openai_organization.clone(),
        tag: row.tag.clone(),
        status: row.status as i32,
        other: s.other.clone(),
        param_override: s.param_override.clone(),
        status_code_mapping: s.status_code_mapping.clone(),
        system_prompt: s.system_prompt.clone(),
        headers: s.headers.clone(),
        // The stored setting holds the proxy password itself, not the placeholder channel answers show.
        setting: s.setting.clone(),
        model_prefix: row.model_prefix.clone(),
    })
}

/// An export entry as the channel create API would receive it.
pub(crate) fn to_create(entry: ChannelExport) -> ChannelCreate {
    let non_empty = |s: String| if s.trim().is_empty() { None } else { Some(s) };
    // A Vertex AI key is one JSON document with commas of its own; other keys are one per line.
    let key = entry.keys.join("\n");
    ChannelCreate {
        channel_type: entry.channel_type,
        name: entry.name,
        key,
        base_url: Some(entry.base_url),
        models: entry.models,
        group: non_empty(entry.group),
        model_mapping: Some(entry.model_mapping),
        priority: Some(entry.priority),
        weight: Some(entry.weight),
        auto_ban: Some(entry.auto_ban),
        test_model: Some(entry.test_model),
        openai_organization: Some(entry.openai_organization),
        tag: Some(entry.tag),
        // A file written by hand may leave the status out (0): the channel is then enabled, as a create's is.
        status: (entry.status != 0).then_some(entry.status),
        other: Some(entry.other),
        param_override: Some(entry.param_override),
        status_code_mapping: Some(entry.status_code_mapping),
        system_prompt: Some(entry.system_prompt),
        headers: Some(entry.headers),
        setting: Some(entry.setting),
        model_prefix: Some(entry.model_prefix),
    }
}

/// A channel file may be larger than axum's 2 MiB default for request bodies: a site with a thousand
/// channels of many keys each exports several megabytes.
pub const IMPORT_BODY_LIMIT: axum::extract::DefaultBodyLimit = axum::extract::DefaultBodyLimit::max(32 * 1024 * 1024);

#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/channel/import[?dry_run=true]` with an export file: creates each channel the site does not have,
/// validated as a create; reports what was created, skipped and refused (and on a dry run, what would be).
pub async fn import(
    State(state): State<AppState>,
    Admin(admin): Admin,
    params: Result<Query<ImportQuery>, QueryRejection>,
    JsonBody(file): JsonBody<ChannelExportFile>,
) -> Result<Json<Envelope<ChannelImportReport>>, ControlError> {
    let dry_run = query(params)?.dry_run;
    if file.version != EXPORT_VERSION {
        return Err(ControlError::BadRequest(format!(
            "this is a version {} channel file; this site reads version {EXPORT_VERSION}",
            file.version
        )));
    }
    let mut existing: HashSet<_> = db::channels::list(state.db())
        .await?
        .iter()
        .map(|r| natural_key(&r.name, r.channel_type, &r.base_url))
        .collect();
    let mut report = ChannelImportReport::default();
    let mut tx = state.db().begin_write().await?;
    for entry in file.channels {
        let name = entry.name.clone();
        let key = natural_key(&entry.name, entry.channel_type as i64, &entry.base_url);
        if existing.contains(&key) {
            report.skipped += 1;
            continue;
        }
        let mut create = to_create(entry);
        if let Some(setting) = &create.setting {
            // As on create: a placeholder for a masked proxy password has no stored password to stand for.
            match proxy_secret::restore(setting, "") {
                Ok(restored) => create.setting = Some(restored),
                Err(reason) => {
                    report.failed.push(ImportFailure { name, reason });
                    continue;
                }
            }
        }
        match validate(state.cipher(), create) {
            Ok(new) => {
                if !dry_run {
                    db::channels::insert_with(state.db(), &mut *tx, &new).await?;
                }
                existing.insert(key);
                report.created += 1;
            }
            Err(ControlError::BadRequest(reason)) => report.failed.push(ImportFailure { name, reason }),
            Err(e) => return Err(e),
        }
    }
    if dry_run {
        tx.rollback().await?;
        return Ok(Json(Envelope::ok(report)));
    }
    let content = format!(
        "administrator {} imported channels from a file: {} created, {} skipped as existing, {} refused",
        admin.username,
        report.created,
        report.skipped,
        report.failed.len()
    );
    let event = AccountEvent { user_id: admin.id, log_type: log_type::MANAGE, content: &content, quota: 0 };
    db::logs::record_event(state.db(), &mut tx, &event).await?;
    tx.commit().await?;
    if report.created > 0 {
        state.reload_channels().await?;
    }
    Ok(Json(Envelope::ok(report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_the_same_whatever_the_spaces_and_trailing_slash() {
        assert_eq!(natural_key(" a ", 1, "https://x.test/"), natural_key("a", 1, "https://x.test"));
        assert_ne!(natural_key("a", 1, "https://x.test"), natural_key("a", 14, "https://x.test"));
    }

    #[test]
    fn export_ids_are_parsed_and_bad_ones_refused() {
        assert_eq!(parse_ids("").ok().flatten(), None);
        assert_eq!(parse_ids("1, 2,3").ok().flatten(), Some(vec![1, 2, 3]));
        assert!(parse_ids("1,x").is_err());
    }

    #[test]
    fn an_entry_without_status_becomes_an_enabled_create_with_one_key_per_line() {
        let entry = ChannelExport {
            channel_type: 1,
            name: "a".into(),
            keys: vec!["k1".into(), "k2".into()],
            ..ChannelExport::default()
        };
        let create = to_create(entry);
        assert_eq!(create.key, "k1\nk2");
        assert_eq!(create.status, None);
        assert_eq!(create.group, None);
    }
}
