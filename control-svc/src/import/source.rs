//! The database being migrated from: a read-only connection, which columns each table has (Veloera, new-api
//! and one-api differ), and rows read as plain integers and texts whatever the backend stores.
//!
//! Every value is cast in SQL to a 64-bit integer or to text, so booleans (PostgreSQL `boolean`, MySQL
//! `tinyint`), JSON columns and soft-delete timestamps reach us in types the `Any` driver decodes on every
//! backend. Timestamps become unix seconds, or are only asked whether they are set.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::db::{Backend, DatabaseUrl};
use crate::error::ControlError;

/// How a source column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Int,
    Text,
    /// A Go `bool`: 1 or 0.
    Flag,
    /// Only whether it holds a value (a soft-delete `deleted_at`): 1 or 0.
    IsSet,
    /// A Go `time.Time` as unix seconds (NULL stays NULL).
    UnixTime,
}

/// One value of a source row.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i64),
    Text(String),
}

/// A source row by column name; a column the source does not have, or a NULL, reads as 0 or "".
#[derive(Debug, Clone, Default)]
pub struct SourceRow {
    values: HashMap<&'static str, Value>,
}

impl SourceRow {
    pub fn int(&self, column: &str) -> i64 {
        match self.values.get(column) {
            Some(Value::Int(v)) => *v,
            Some(Value::Text(t)) => t.trim().parse().unwrap_or(0),
            None => 0,
        }
    }

    /// The value, or `default` when the source has no such column or it is NULL.
    pub fn int_or(&self, column: &str, default: i64) -> i64 {
        if self.values.contains_key(column) { self.int(column) } else { default }
    }

    pub fn text(&self, column: &str) -> String {
        match self.values.get(column) {
            Some(Value::Text(t)) => t.clone(),
            Some(Value::Int(v)) => v.to_string(),
            None => String::new(),
        }
    }

    pub fn flag(&self, column: &str) -> bool {
        self.int(column) != 0
    }

    /// Whether the source has this column and it is not NULL.
    pub fn has(&self, column: &str) -> bool {
        self.values.contains_key(column)
    }
}

/// A read-only connection to the source database.
pub struct Source {
    pool: AnyPool,
    backend: Backend,
}

/// The source named the way Veloera's `SQL_DSN` names databases, or a plain SQLite file path.
pub fn source_url(dsn: &str) -> Result<DatabaseUrl, ControlError> {
    let dsn = dsn.trim();
    if dsn.is_empty() {
        return Err(ControlError::BadRequest("--from needs the source database: a DSN or an SQLite file".into()));
    }
    let is_server = ["postgres://", "postgresql://", "mysql://", "mariadb://"].iter().any(|p| dsn.starts_with(p))
        || dsn.contains("@tcp(");
    if is_server {
        return DatabaseUrl::parse(dsn, "").map_err(ControlError::BadRequest);
    }
    let path = dsn.strip_prefix("sqlite://").or_else(|| dsn.strip_prefix("sqlite:")).unwrap_or(dsn);
    let path = path.split('?').next().unwrap_or_default();
    if !std::path::Path::new(path).is_file() {
        return Err(ControlError::BadRequest(format!("the source SQLite file {path:?} does not exist")));
    }
    // Read-only: an import never writes to, or creates, the database it reads.
    Ok(DatabaseUrl { backend: Backend::Sqlite, url: format!("sqlite://{path}?mode=ro") })
}

impl Source {
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, ControlError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url.url)
            .await
            .map_err(|e| {
                ControlError::Database(format!("cannot connect to the source {} database: {e}", url.backend))
            })?;
        Ok(Source { pool, backend: url.backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The columns of `table`, lower-cased; empty when the source has no such table.
    pub async fn columns(&self, table: &str) -> Result<HashSet<String>, ControlError> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT name FROM pragma_table_info(?)",
            Backend::Postgres => {
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_name = $1 AND table_schema = current_schema()"
            }
            Backend::MySql => {
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                 WHERE table_name = ? AND table_schema = DATABASE()"
            }
        };
        let rows = sqlx::query(sql).bind(table).fetch_all(&self.pool).await.map_err(|e| source_error(table, e))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(|c| c.to_lowercase()).map_err(|e| source_error(table, e)))
            .collect()
    }

    /// Rows of `table` with the wanted columns the source has (`None` when it has no such table), `limit` at a
    /// time in id order after `after_id` when `page` is given, else all of them.
    pub async fn read(
        &self,
        table: &str,
        wanted: &[(&'static str, Col)],
        page: Option<(i64, i64)>,
    ) -> Result<Option<Vec<SourceRow>>, ControlError> {
        let present = self.columns(table).await?;
        if present.is_empty() {
            return Ok(None);
        }
        let cols: Vec<(&'static str, Col)> =
            wanted.iter().copied().filter(|(name, _)| present.contains(*name)).collect();
        if cols.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let select = cols
            .iter()
            .enumerate()
            .map(|(i, (name, col))| format!("{} AS c{i}", self.expression(name, *col)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT {select} FROM {}", self.quote(table));
        if page.is_some() {
            sql.push_str(if self.backend == Backend::Postgres {
                " WHERE id > $1 ORDER BY id LIMIT $2"
            } else {
                " WHERE id > ? ORDER BY id LIMIT ?"
            });
        }
        let mut query = sqlx::query(&sql);
        if let Some((after, limit)) = page {
            query = query.bind(after).bind(limit);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| source_error(table, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = HashMap::with_capacity(cols.len());
            for (i, (name, col)) in cols.iter().enumerate() {
                let value = match col {
                    Col::Text => text_at(&row, i).map(|v| v.map(Value::Text)),
                    Col::Int | Col::Flag | Col::IsSet | Col::UnixTime => {
                        row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Int))
                    }
                }
                .map_err(|e| source_error(table, e))?;
                if let Some(v) = value {
                    values.insert(*name, v);
                }
            }
            out.push(SourceRow { values });
        }
        Ok(Some(out))
    }

    /// The SQL that reads `column` as `col` says.
    fn expression(&self, column: &str, col: Col) -> String {
        let c = self.quote(column);
        match (col, self.backend) {
            (Col::Int, Backend::MySql) => format!("CAST({c} AS SIGNED)"),
            (Col::Int, _) => format!("CAST({c} AS BIGINT)"),
            (Col::Text, Backend::MySql) => format!("CAST({c} AS CHAR)"),
            (Col::Text, _) => format!("CAST({c} AS TEXT)"),
            (Col::Flag, _) => format!("CASE WHEN {c} THEN 1 ELSE 0 END"),
            (Col::IsSet, _) => format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END"),
            (Col::UnixTime, Backend::Sqlite) => format!("CAST(strftime('%s', {c}) AS INTEGER)"),
            (Col::UnixTime, Backend::Postgres) => format!("CAST(EXTRACT(EPOCH FROM {c}) AS BIGINT)"),
            (Col::UnixTime, Backend::MySql) => format!("CAST(UNIX_TIMESTAMP({c}) AS SIGNED)"),
        }
    }

    /// Quotes an identifier: Veloera's columns include `group` and `key`, reserved words in SQL.
    fn quote(&self, name: &str) -> String {
        match self.backend {
            Backend::MySql => format!("`{name}`"),
            Backend::Sqlite | Backend::Postgres => format!("\"{name}\""),
        }
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// A text column. MySQL reports `TEXT` columns as `BLOB`s of a text character set, which the `Any` driver hands
/// over as bytes.
fn text_at(row: &sqlx::any::AnyRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(i) {
        Ok(v) => Ok(v),
        Err(_) => Ok(row.try_get::<Option<Vec<u8>>, _>(i)?.map(|b| String::from_utf8_lossy(&b).into_owned())),
    }
}

fn source_error(table: &str, e: sqlx::Error) -> ControlError {
    ControlError::Database(format!("reading {table} from the source database failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_that_does_not_exist_is_refused_by_name() {
        let err = source_url("/no/such/one-api.db").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("/no/such/one-api.db"), "{err}");
    }

    #[test]
    fn server_dsns_in_veloera_forms_are_accepted() {
        let go = source_url("root:pw@tcp(127.0.0.1:3306)/veloera?parseTime=true").ok();
        assert_eq!(go.map(|u| u.backend), Some(Backend::MySql));
        let pg = source_url("postgres://u@127.0.0.1/veloera").ok();
        assert_eq!(pg.map(|u| u.backend), Some(Backend::Postgres));
    }

    #[test]
    fn missing_columns_read_as_defaults() {
        let row = SourceRow::default();
        assert_eq!(row.int("quota"), 0);
        assert_eq!(row.int_or("max_uses", 1), 1);
        assert_eq!(row.text("name"), "");
        assert!(!row.has("deleted_at"));
    }
}
