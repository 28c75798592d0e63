//! Channels with their keys, model mappings and settings, each validated as a channel create is (a channel this
//! build cannot serve is reported, not written); then abilities, which we do not store: routing derives the
//! (group, model) pairs from each channel's lists, so an ability counts as imported when its channel's lists
//! cover it and is reported otherwise.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use veloera_admin_types::ChannelCreate;

use super::source::{Col, Source, SourceRow};
use super::{PAGE, Run};
use crate::admin::channels::{natural_key, validate};
use crate::db::channels::insert_with;
use crate::error::ControlError;
use crate::routing::split_list;

const CHANNELS: &str = "channels";
const CHANNEL_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("type", Col::Int),
    ("key", Col::Text),
    ("openai_organization", Col::Text),
    ("test_model", Col::Text),
    ("status", Col::Int),
    ("name", Col::Text),
    ("weight", Col::Int),
    ("created_time", Col::Int),
    ("test_time", Col::Int),
    ("response_time", Col::Int),
    ("base_url", Col::Text),
    ("other", Col::Text),
    ("models", Col::Text),
    ("group", Col::Text),
    ("used_quota", Col::Int),
    ("model_mapping", Col::Text),
    ("status_code_mapping", Col::Text),
    ("priority", Col::Int),
    ("auto_ban", Col::Int),
    ("tag", Col::Text),
    ("setting", Col::Text),
    ("param_override", Col::Text),
    ("model_prefix", Col::Text),
    // new-api's extra upstream headers, our `headers`.
    ("header_override", Col::Text),
    // one-api's per-channel system prompt.
    ("system_prompt", Col::Text),
];

/// What abilities are checked against: each channel's models and groups, and whether this run wrote it (an
/// ability of a channel that was already here is already here too).
type Coverage = HashMap<i64, (HashSet<String>, HashSet<String>, bool)>;

pub(super) async fn import_channels(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut existing: HashMap<(String, i64, String), i64> = HashMap::new();
    for row in sqlx::query("SELECT id, name, type, base_url FROM channels").fetch_all(&mut *run.tx).await? {
        let key = natural_key(&row.try_get::<String, _>(1)?, row.try_get::<i64, _>(2)?, &row.try_get::<String, _>(3)?);
        existing.insert(key, row.try_get::<i64, _>(0)?);
    }
    let mut coverage = Coverage::new();
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(CHANNELS, CHANNEL_COLUMNS, Some((after, PAGE))).await? else {
            return Err(ControlError::BadRequest("the source has no channels table".into()));
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            run.report.table(CHANNELS).read += 1;
            let name = row.text("name");
            let label = format!("#{after} ({})", name.trim());
            let key = natural_key(&name, row.int("type"), &row.text("base_url"));
            let models: HashSet<String> = split_list(&row.text("models")).into_iter().collect();
            let mut groups: HashSet<String> = split_list(&row.text("group")).into_iter().collect();
            if groups.is_empty() {
                groups.insert("default".into());
            }
            if let Some(id) = existing.get(&key) {
                run.channels.insert(after, *id);
                coverage.insert(after, (models, groups, false));
                run.report.table(CHANNELS).existing += 1;
                continue;
            }
            let new = match validate(run.cipher, to_create(&row)) {
                Ok(new) => new,
                Err(ControlError::BadRequest(reason)) => {
                    run.report.unmapped(CHANNELS, label, reason);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let id = insert_with(run.db, &mut *run.tx, &new).await?;
            // What a create does not take: when it was made, what it has used, its last test.
            sqlx::query(&run.db.sql(
                "UPDATE channels SET created_time = ?, used_quota = ?, response_time = ?, test_time = ? WHERE id = ?",
            ))
            .bind(if row.int("created_time") > 0 { row.int("created_time") } else { new.created_time })
            .bind(row.int("used_quota"))
            .bind(row.int("response_time"))
            .bind(row.int("test_time"))
            .bind(id)
            .execute(&mut *run.tx)
            .await?;
            existing.insert(key, id);
            run.channels.insert(after, id);
            coverage.insert(after, (models, groups, true));
            run.report.table(CHANNELS).imported += 1;
        }
        if !full_page {
            break;
        }
    }
    import_abilities(source, run, &coverage).await
}

/// A source channel as the channel create API would receive it.
fn to_create(row: &SourceRow) -> ChannelCreate {
    let status = row.int_or("status", 1) as i32;
    ChannelCreate {
        channel_type: row.int("type") as i32,
        name: row.text("name"),
        key: row.text("key"),
        base_url: Some(row.text("base_url")),
        models: row.text("models"),
        group: Some(row.text("group")).filter(|g| !g.trim().is_empty()),
        model_mapping: Some(row.text("model_mapping")),
        priority: Some(row.int("priority")),
        weight: Some(row.int("weight")),
        auto_ban: Some(row.int_or("auto_ban", 1) as i32),
        test_model: Some(row.text("test_model")),
        openai_organization: Some(row.text("openai_organization")),
        tag: Some(row.text("tag")),
        status: Some(status),
        other: Some(row.text("other")),
        param_override: Some(row.text("param_override")),
        status_code_mapping: Some(row.text("status_code_mapping")),
        system_prompt: Some(row.text("system_prompt")),
        headers: Some(row.text("header_override")),
        setting: Some(row.text("setting")),
        model_prefix: Some(row.text("model_prefix")),
    }
}

const ABILITIES: &str = "abilities";
const ABILITY_COLUMNS: &[(&str, Col)] = &[("group", Col::Text), ("model", Col::Text), ("channel_id", Col::Int)];

async fn import_abilities(source: &Source, run: &mut Run<'_>, coverage: &Coverage) -> Result<(), ControlError> {
    let Some(rows) = source.read(ABILITIES, ABILITY_COLUMNS, None).await? else {
        run.report.absent(ABILITIES);
        return Ok(());
    };
    for row in rows {
        run.report.table(ABILITIES).read += 1;
        let (group, model, channel) = (row.text("group"), row.text("model"), row.int("channel_id"));
        let label = format!("({group}, {model}, channel #{channel})");
        match coverage.get(&channel) {
            None => run.report.unmapped(ABILITIES, label, format!("its channel #{channel} was not imported")),
            Some((models, groups, fresh)) if models.contains(model.trim()) && groups.contains(group.trim()) => {
                if *fresh {
                    run.report.table(ABILITIES).imported += 1;
                } else {
                    run.report.table(ABILITIES).existing += 1;
                }
            }
            Some(_) => run.report.unmapped(
                ABILITIES,
                label,
                "not in its channel's models and groups; routing here derives abilities from those lists",
            ),
        }
    }
    Ok(())
}
