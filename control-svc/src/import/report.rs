//! What an import did (or, on a dry run, would do): counts per table and every source row it could not map.

use std::fmt;

/// Counts for one source table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableCounts {
    /// Whether the source has this table at all (new-api and one-api have no `redemption_logs`).
    pub present: bool,
    pub read: u64,
    /// Written (or, for abilities, found covered by the imported channel's models and groups).
    pub imported: u64,
    /// Already here, matched on the table's natural key; left as they are.
    pub existing: u64,
    /// Soft-deleted in the source; not brought over.
    pub deleted: u64,
}

/// A source row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    pub table: &'static str,
    /// The row's id in the source, or its key for tables without ids (options, abilities).
    pub row: String,
    pub reason: String,
}

/// The whole report, tables in import order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    /// Which schema the source looks like: "Veloera", "new-api" or "one-api".
    pub flavour: &'static str,
    pub tables: Vec<(&'static str, TableCounts)>,
    pub unmapped: Vec<Unmapped>,
}

impl Report {
    /// The counts of `table`, added at the end on first use.
    pub fn table(&mut self, table: &'static str) -> &mut TableCounts {
        let index = match self.tables.iter().position(|(name, _)| *name == table) {
            Some(i) => i,
            None => {
                self.tables.push((table, TableCounts { present: true, ..TableCounts::default() }));
                self.tables.len() - 1
            }
        };
        &mut self.tables[index].1
    }

    /// Notes a table the source does not have.
    pub fn absent(&mut self, table: &'static str) {
        self.table(table).present = false;
    }

    pub fn unmapped(&mut self, table: &'static str, row: impl fmt::Display, reason: impl Into<String>) {
        self.unmapped.push(Unmapped { table, row: row.to_string(), reason: reason.into() });
    }

    /// The counts of `table`, if it was looked at.
    pub fn counts(&self, table: &str) -> Option<&TableCounts> {
        self.tables.iter().find(|(name, _)| *name == table).map(|(_, c)| c)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.dry_run { "dry run: nothing was written" } else { "committed" };
        writeln!(f, "Import from a {} database ({mode})", self.flavour)?;
        writeln!(
            f,
            "{:<18} {:>8} {:>9} {:>9} {:>8} {:>9}",
            "table", "read", "imported", "existing", "deleted", "unmapped"
        )?;
        for (name, c) in &self.tables {
            if !c.present {
                writeln!(f, "{name:<18} (not in the source)")?;
                continue;
            }
            let unmapped = self.unmapped.iter().filter(|u| u.table == *name).count();
            writeln!(f, "{name:<18} {:>8} {:>9} {:>9} {:>8} {unmapped:>9}", c.read, c.imported, c.existing, c.deleted)?;
        }
        if !self.unmapped.is_empty() {
            writeln!(f, "\nRows not imported, or imported without what the reason names:")?;
            for u in &self.unmapped {
                writeln!(f, "  {} {}: {}", u.table, u.row, u.reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_report_counts_unmapped_rows_per_table_and_lists_them() {
        let mut report = Report { dry_run: true, flavour: "Veloera", ..Report::default() };
        report.table("users").read = 2;
        report.table("users").imported = 1;
        report.unmapped("users", "#7", "the username is empty");
        report.absent("redemption_logs");
        let text = report.to_string();
        assert!(text.contains("dry run"), "{text}");
        assert!(text.contains("users #7: the username is empty"), "{text}");
        assert!(text.contains("redemption_logs    (not in the source)"), "{text}");
    }
}
