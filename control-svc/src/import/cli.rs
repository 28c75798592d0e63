//! `control-svc import --from <DSN> [--with-logs] [--dry-run]`: the command line of the import, into the
//! database control is configured with (`SQL_DSN`, keys encrypted with its `CRYPTO_SECRET`).

use std::io::Write;

use super::{ImportOptions, source_url};
use crate::config::Config;
use crate::db::Db;
use crate::error::ControlError;
use crate::secrets::{Cipher, configured_or_persisted};

pub const USAGE: &str = "usage: control-svc import --from <DSN> [--with-logs] [--dry-run]

  --from <DSN>   the Veloera, new-api or one-api database: an SQLite file (path or sqlite://PATH),
                 MySQL (user:pass@tcp(host:port)/db or mysql://...) or PostgreSQL (postgres://...)
  --with-logs    also import the log
  --dry-run      change nothing; report what an import would do

Imports into the database of SQL_DSN, encrypting keys with CRYPTO_SECRET (or the one in the data directory).
Run it while control-svc is stopped, or restart control-svc afterwards.";

/// The parsed arguments after `import`.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub from: String,
    pub with_logs: bool,
    pub dry_run: bool,
}

pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut from = None;
    let (mut with_logs, mut dry_run) = (false, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--from" => from = Some(rest.next().ok_or("--from needs a DSN")?.clone()),
            "--with-logs" => with_logs = true,
            "--dry-run" => dry_run = true,
            other => match other.strip_prefix("--from=") {
                Some(dsn) => from = Some(dsn.to_string()),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    let from = from.ok_or("--from <DSN> is required")?;
    Ok(Args { from, with_logs, dry_run })
}

/// Runs the command; the exit code is 0 on success, 1 when the import failed, 2 for bad arguments.
pub async fn main(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(std::io::stdout().lock(), "{USAGE}");
        return 0;
    }
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "{e}\n\n{USAGE}");
            return 2;
        }
    };
    match run(&args).await {
        Ok(report) => {
            let _ = write!(std::io::stdout().lock(), "{report}");
            0
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "import failed, nothing was written: {e}");
            1
        }
    }
}

async fn run(args: &Args) -> Result<super::Report, ControlError> {
    let config = Config::from_env().map_err(ControlError::BadRequest)?;
    let source = source_url(&args.from)?;
    let crypto_secret = configured_or_persisted(config.crypto_secret.as_deref(), &config.data_dir, "crypto_secret")?;
    let target = Db::connect(&config.database).await?;
    let options = ImportOptions { with_logs: args.with_logs, dry_run: args.dry_run };
    super::run(&source, &target, &Cipher::new(&crypto_secret), options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_arguments_are_read_in_either_form() {
        let a = parse(&args(&["--from", "/data/one-api.db", "--dry-run"])).ok();
        assert_eq!(a, Some(Args { from: "/data/one-api.db".into(), with_logs: false, dry_run: true }));
        let b = parse(&args(&["--with-logs", "--from=postgres://u@h/db"])).ok();
        assert_eq!(b, Some(Args { from: "postgres://u@h/db".into(), with_logs: true, dry_run: false }));
    }

    #[test]
    fn a_missing_source_or_an_unknown_argument_is_refused() {
        assert!(parse(&args(&["--dry-run"])).is_err());
        assert!(parse(&args(&["--from", "x.db", "--force"])).is_err());
    }
}
