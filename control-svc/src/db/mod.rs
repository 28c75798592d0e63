//! The database: one `sqlx::Any` pool over SQLite, PostgreSQL or MySQL, each with its own embedded
//! migrations. Queries are written once with `?` placeholders and rewritten for PostgreSQL here.

pub mod auth_codes;
pub mod channel_health;
pub mod channel_keys;
pub mod channels;
pub mod check_in;
mod dsn;
pub mod gauges;
pub mod invitations;
pub mod leases;
pub mod login_throttle;
pub mod logs;
pub mod notices;
pub mod options;
pub mod quota_data;
pub mod redemptions;
pub mod retention;
pub mod sessions;
pub mod setup;
pub mod tokens;
pub mod usage;
pub mod user_admin;
pub mod users;

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{AnyPool, Executor};

pub use dsn::{Backend, DatabaseUrl};

use crate::error::{ControlError, StartupError};

/// A connected, migrated database.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects (creating the SQLite file and its directory when missing) and runs the backend's migrations.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, StartupError> {
        sqlx::any::install_default_drivers();
        let backend = url.backend;
        if backend == Backend::Sqlite {
            prepare_sqlite_file(&url.url)?;
        }
        // SQLite has one writer at a time, and every connection keeps its own page cache: a few suffice.
        let max = if backend == Backend::Sqlite { 4 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during the batched usage writes; the busy timeout
                        // makes concurrent writers wait instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url.url)
            .await
            .map_err(|source| StartupError::Connect { backend, source })?;
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StartupError> {
        let result = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await,
            Backend::MySql => sqlx::migrate!("./migrations/mysql").run(&self.pool).await,
        };
        Ok(result?)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Rewrites `?` placeholders to `$1, $2, …` for PostgreSQL. Our SQL never has `?` inside literals.
    pub fn sql<'a>(&self, query: &'a str) -> Cow<'a, str> {
        if self.backend != Backend::Postgres {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for ch in query.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
        Cow::Owned(out)
    }

    /// `INSERT` that silently skips a row whose unique key already exists, in each dialect.
    pub fn insert_ignore(&self, table_and_columns: &str, values: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("INSERT OR IGNORE INTO {table_and_columns} VALUES {values}"),
            Backend::Postgres => format!("INSERT INTO {table_and_columns} VALUES {values} ON CONFLICT DO NOTHING"),
            Backend::MySql => format!("INSERT IGNORE INTO {table_and_columns} VALUES {values}"),
        }
    }

    /// The id of a row just inserted: `RETURNING id` where the dialect has it (the `Any` driver does not
    /// pass SQLite's last insert id through), the driver's last insert id on MySQL.
    pub fn returning_id(&self) -> &'static str {
        if self.backend == Backend::MySql { "" } else { " RETURNING id" }
    }

    /// Begins a transaction that is going to write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`, waiting out the busy timeout): a deferred transaction that reads first fails at its first
    /// write, without waiting, whenever another connection wrote in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, ControlError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres | Backend::MySql => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Row-lock suffix for a `SELECT` inside a write transaction: PostgreSQL and MySQL would otherwise read a
    /// snapshot that a concurrent writer has already changed; SQLite's `BEGIN IMMEDIATE` already serializes.
    pub fn for_update(&self) -> &'static str {
        if self.backend == Backend::Sqlite { "" } else { " FOR UPDATE" }
    }

    /// `SUM(expr)` as a 64-bit integer, 0 over no rows: PostgreSQL and MySQL sum integers as NUMERIC/DECIMAL,
    /// which the `Any` driver cannot decode.
    pub fn sum(&self, expr: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("COALESCE(SUM({expr}), 0)"),
            Backend::Postgres => format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"),
            Backend::MySql => format!("CAST(COALESCE(SUM({expr}), 0) AS SIGNED)"),
        }
    }

    pub async fn ping(&self) -> Result<(), ControlError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Runs an insert built with [`Db::returning_id`] and returns the new row's id.
pub(crate) async fn insert_returning_id<'q, 'c, E>(
    db: &Db,
    exec: E,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> Result<i64, ControlError>
where
    E: Executor<'c, Database = sqlx::Any>,
{
    use sqlx::Row;
    if db.backend != Backend::MySql {
        let row = query.fetch_one(exec).await?;
        Ok(row.try_get::<i64, _>(0)?)
    } else {
        let res: AnyQueryResult = query.execute(exec).await?;
        res.last_insert_id().ok_or_else(|| ControlError::Internal("the database driver returned no insert id".into()))
    }
}

fn prepare_sqlite_file(url: &str) -> Result<(), StartupError> {
    let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StartupError::DataDir { path: dir.to_path_buf(), source })?;
    }
    Ok(())
}

/// Current time in unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
