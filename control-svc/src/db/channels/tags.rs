//! Channels by tag: the tag list, status and field edits of every channel with a tag, tagging by id.

use super::StatusChange;
use super::write::{bind_all, distinct, placeholders, require_all};
use crate::db::Db;
use crate::error::ControlError;

/// The distinct non-empty tags, sorted.
pub async fn tags(db: &Db) -> Result<Vec<String>, ControlError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT tag FROM channels WHERE tag <> '' ORDER BY tag")
        .fetch_all(db.pool())
        .await?)
}

/// Validated new values for every channel with a tag; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TagEdit {
    pub new_tag: Option<String>,
    pub priority: Option<i64>,
    pub weight: Option<i64>,
    pub models: Option<String>,
    pub group_name: Option<String>,
    pub model_mapping: Option<String>,
}

impl TagEdit {
    /// True when the edit changes no field.
    pub fn is_empty(&self) -> bool {
        self.new_tag.is_none()
            && self.priority.is_none()
            && self.weight.is_none()
            && self.models.is_none()
            && self.group_name.is_none()
            && self.model_mapping.is_none()
    }
}

/// Sets the status of every channel tagged `tag`. Disabling leaves the reason and time of channels already
/// disabled by hand as they were. Returns how many channels carry the tag; `NotFound` when none does.
pub async fn set_status_by_tag(db: &Db, tag: &str, change: &StatusChange) -> Result<u64, ControlError> {
    let mut tx = db.begin_write().await?;
    let count = count_tagged(db, &mut tx, tag).await?;
    let only = if matches!(change, StatusChange::Disable { .. }) { " AND status <> 2" } else { "" };
    let q = format!("UPDATE channels SET status = ?, {} WHERE tag = ?{only}", change.assignments());
    let sql = db.sql(&q);
    change.bind(sqlx::query(&sql).bind(change.status())).bind(tag).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(count)
}

/// Applies `edit` to every channel tagged `tag`. Returns how many channels carry the tag; `NotFound` when
/// none does. An edit without fields changes nothing.
pub async fn edit_tag(db: &Db, tag: &str, edit: &TagEdit) -> Result<u64, ControlError> {
    let texts = [
        ("tag", &edit.new_tag),
        ("models", &edit.models),
        ("group_name", &edit.group_name),
        ("model_mapping", &edit.model_mapping),
    ];
    let numbers = [("priority", edit.priority), ("weight", edit.weight)];
    let mut sets: Vec<String> = Vec::new();
    sets.extend(texts.iter().filter(|(_, v)| v.is_some()).map(|(c, _)| format!("{c} = ?")));
    sets.extend(numbers.iter().filter(|(_, v)| v.is_some()).map(|(c, _)| format!("{c} = ?")));
    let mut tx = db.begin_write().await?;
    let count = count_tagged(db, &mut tx, tag).await?;
    if !edit.is_empty() {
        let q = format!("UPDATE channels SET {} WHERE tag = ?", sets.join(", "));
        let sql = db.sql(&q);
        let mut query = sqlx::query(&sql);
        for value in texts.iter().filter_map(|(_, v)| v.as_deref()) {
            query = query.bind(value);
        }
        for value in numbers.iter().filter_map(|(_, v)| *v) {
            query = query.bind(value);
        }
        query.bind(tag).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// Sets `tag` (empty removes it) on the channels `ids`, all or nothing: if any id does not exist, nothing
/// changes and the error names the missing ids. Returns how many channels were tagged.
pub async fn set_tag(db: &Db, ids: &[i64], tag: &str) -> Result<u64, ControlError> {
    let ids = distinct(ids);
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    require_all(db, &mut tx, &ids).await?;
    let q = format!("UPDATE channels SET tag = ? WHERE id IN ({})", placeholders(ids.len()));
    let sql = db.sql(&q);
    bind_all(sqlx::query(&sql).bind(tag), &ids).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

async fn count_tagged(db: &Db, conn: &mut sqlx::AnyConnection, tag: &str) -> Result<u64, ControlError> {
    let count: i64 =
        sqlx::query_scalar(&db.sql("SELECT COUNT(*) FROM channels WHERE tag = ?")).bind(tag).fetch_one(conn).await?;
    if count == 0 {
        return Err(ControlError::NotFound(format!("no channel has the tag {tag:?}")));
    }
    Ok(count as u64)
}
