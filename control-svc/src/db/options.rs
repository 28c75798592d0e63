//! The `options` key/value table (Veloera's settings store).

use std::collections::HashMap;

use super::Db;
use crate::error::ControlError;

pub async fn all(db: &Db) -> Result<HashMap<String, String>, ControlError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, value FROM options").fetch_all(db.pool()).await?;
    Ok(rows.into_iter().collect())
}
