//! `SQL_DSN` parsing, accepting the forms Veloera users already write.

use std::fmt;

/// Which SQL dialect a DSN selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        })
    }
}

/// A DSN normalised into a URL sqlx understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    pub url: String,
}

impl DatabaseUrl {
    /// An SQLite file, created on first use.
    pub fn sqlite_file(path: &str) -> Self {
        DatabaseUrl { backend: Backend::Sqlite, url: format!("sqlite://{path}?mode=rwc") }
    }

    /// Parses `SQL_DSN`: empty or `sqlite://PATH` or `local` → SQLite (at `sqlite_path` when no path is given);
    /// `postgres://`/`postgresql://` → PostgreSQL; `mysql://…` or Go-style `user:pass@tcp(host:port)/db` → MySQL.
    pub fn parse(dsn: &str, sqlite_path: &str) -> Result<Self, String> {
        let dsn = dsn.trim();
        if dsn.is_empty() || dsn.starts_with("local") {
            return Ok(Self::sqlite_file(sqlite_path));
        }
        if let Some(rest) = dsn.strip_prefix("sqlite://").or_else(|| dsn.strip_prefix("sqlite:")) {
            // `sqlite:///app/data/veloera.db` names the absolute path `/app/data/veloera.db`.
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Ok(Self::sqlite_file(sqlite_path));
            }
            return Ok(Self::sqlite_file(path));
        }
        if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, url: dsn.to_string() });
        }
        if dsn.starts_with("mysql://") || dsn.starts_with("mariadb://") {
            let url = dsn.replacen("mariadb://", "mysql://", 1);
            return Ok(DatabaseUrl { backend: Backend::MySql, url });
        }
        if let Some(url) = go_mysql_to_url(dsn) {
            return Ok(DatabaseUrl { backend: Backend::MySql, url });
        }
        Err(format!(
            "unrecognised SQL_DSN {:?}: expected sqlite://PATH, postgres://…, mysql://… or user:pass@tcp(host:port)/db",
            redact(dsn)
        ))
    }
}

/// `user:pass@tcp(host:port)/db?params` (go-sql-driver) → `mysql://user:pass@host:port/db`.
/// Go-only parameters such as `parseTime` and `charset` are dropped; sqlx does not need them.
fn go_mysql_to_url(dsn: &str) -> Option<String> {
    let (userinfo, rest) = dsn.rsplit_once('@')?;
    let rest = rest.strip_prefix("tcp(")?;
    let (addr, rest) = rest.split_once(')')?;
    let db = rest.strip_prefix('/')?.split('?').next().unwrap_or_default();
    if addr.is_empty() || db.is_empty() {
        return None;
    }
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let auth = if pass.is_empty() { enc(user) } else { format!("{}:{}", enc(user), enc(pass)) };
    Some(format!("mysql://{auth}@{addr}/{db}"))
}

fn redact(dsn: &str) -> String {
    match dsn.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => dsn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dsn_is_the_embedded_sqlite_file() {
        let u = DatabaseUrl::parse("", "data/veloera.db").unwrap();
        assert_eq!(u, DatabaseUrl { backend: Backend::Sqlite, url: "sqlite://data/veloera.db?mode=rwc".into() });
    }

    #[test]
    fn sqlite_url_with_absolute_path_keeps_the_path() {
        let u = DatabaseUrl::parse("sqlite:///app/data/veloera.db", "x").unwrap();
        assert_eq!(u.url, "sqlite:///app/data/veloera.db?mode=rwc");
    }

    #[test]
    fn postgres_prefixes_select_postgres() {
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db", "x").unwrap().backend, Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db", "x").unwrap().backend, Backend::Postgres);
    }

    #[test]
    fn go_style_mysql_dsn_becomes_a_url() {
        let u = DatabaseUrl::parse("root:p@ss@tcp(127.0.0.1:3306)/veloera?parseTime=true", "x").unwrap();
        assert_eq!(
            u,
            DatabaseUrl { backend: Backend::MySql, url: "mysql://root:p%40ss@127.0.0.1:3306/veloera".into() }
        );
    }

    #[test]
    fn garbage_dsn_is_refused_without_echoing_the_password() {
        let err = DatabaseUrl::parse("user:secret@somewhere", "x").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
