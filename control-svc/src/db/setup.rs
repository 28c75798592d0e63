//! The `setups` table: the record of the first-run setup through `/api/setup` (one row, id 1).

use super::{Db, now_secs};
use crate::error::ControlError;

/// Records the setup inside `tx`. Returns false when a setup was already recorded: the row's key makes two
/// concurrent setups exclusive on every backend (the second waits for the first and then finds the row).
pub async fn record(db: &Db, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<bool, ControlError> {
    let sql = db.insert_ignore("setups (id, version, initialized_at)", "(1, ?, ?)");
    let done = sqlx::query(&db.sql(&sql)).bind(env!("CARGO_PKG_VERSION")).bind(now_secs()).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}
