//! Options (Veloera's `options` table of `key` → `value`), matched on the name: an option this site has already
//! set is kept; one it does not know, or a value it would refuse, is reported. Groups live here too (`GroupRatio`,
//! `UserUsableGroups`), as in Veloera.

use super::Run;
use super::source::{Col, Source};
use crate::error::ControlError;
use crate::settings;

const OPTIONS: &str = "options";
const OPTION_COLUMNS: &[(&str, Col)] = &[("key", Col::Text), ("value", Col::Text)];

pub(super) async fn import_options(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let Some(rows) = source.read(OPTIONS, OPTION_COLUMNS, None).await? else {
        run.report.absent(OPTIONS);
        return Ok(());
    };
    for row in rows {
        run.report.table(OPTIONS).read += 1;
        let (name, value) = (row.text("key"), row.text("value"));
        if settings::lookup(&name).is_none() {
            run.report.unmapped(OPTIONS, &name, "not an option this gateway has");
            continue;
        }
        if value.trim().is_empty() {
            // Veloera saves a cleared option as empty text: the default, which this site already has.
            run.report.table(OPTIONS).existing += 1;
            continue;
        }
        if let Err(reason) = settings::validate(&name, &value) {
            run.report.unmapped(OPTIONS, &name, reason);
            continue;
        }
        let existing: Option<String> = sqlx::query_scalar(&run.db.sql("SELECT value FROM options WHERE name = ?"))
            .bind(&name)
            .fetch_optional(&mut *run.tx)
            .await?;
        if existing.is_some() {
            run.report.table(OPTIONS).existing += 1;
            continue;
        }
        sqlx::query(&run.db.sql("INSERT INTO options (name, value) VALUES (?, ?)"))
            .bind(&name)
            .bind(&value)
            .execute(&mut *run.tx)
            .await?;
        run.report.table(OPTIONS).imported += 1;
    }
    Ok(())
}
