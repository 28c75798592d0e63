//! The `options` key/value table (Veloera's settings store).

use std::collections::HashMap;

use super::Db;
use crate::error::ControlError;

pub async fn all(db: &Db) -> Result<HashMap<String, String>, ControlError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, value FROM options").fetch_all(db.pool()).await?;
    Ok(rows.into_iter().collect())
}

/// Sets one option (replacing any earlier value) in one transaction.
pub async fn set(db: &Db, name: &str, value: &str) -> Result<(), ControlError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(&db.sql("DELETE FROM options WHERE name = ?")).bind(name).execute(&mut *tx).await?;
    sqlx::query(&db.sql("INSERT INTO options (name, value) VALUES (?, ?)"))
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes one option, so its reader's built-in default applies again.
pub async fn remove(db: &Db, name: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM options WHERE name = ?")).bind(name).execute(db.pool()).await?;
    Ok(())
}

/// Sets one option inside the caller's transaction (with the change it belongs to).
pub async fn set_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    value: &str,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM options WHERE name = ?")).bind(name).execute(&mut **tx).await?;
    sqlx::query(&db.sql("INSERT INTO options (name, value) VALUES (?, ?)"))
        .bind(name)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One option's stored value, read through `exec` (a transaction reads the settings it acts on through its own
/// connection rather than taking a second one from the pool).
pub async fn get<'e, E>(db: &Db, exec: E, name: &str) -> Result<Option<String>, ControlError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let value: Option<(String,)> =
        sqlx::query_as(&db.sql("SELECT value FROM options WHERE name = ?")).bind(name).fetch_optional(exec).await?;
    Ok(value.map(|(v,)| v))
}
