//! Migrating in (`control-svc import --from <DSN>`): reads a Veloera, new-api or one-api database and writes its
//! users, tokens, channels, redemption codes with their use records, options and (when asked) logs into ours.
//!
//! Layout: `cli.rs` is the command line; `source.rs` reads the old database whatever its backend and schema version; `accounts.rs` maps
//! users and tokens, `channels.rs` channels and abilities, `codes.rs` redemption and gift codes, `settings.rs`
//! options and `logs.rs` the log and the dashboard's hourly sums; `report.rs` is what the run says it did.
//!
//! Everything is written in one transaction, committed at the end or (on a dry run) rolled back, so a dry run
//! reports exactly what a real run would do and a failed run leaves nothing half-imported. Rows are matched on
//! natural keys (username, token key, channel name + type + base URL, code, option name, source log id), so a
//! second run adds nothing that the first brought over. Source ids are not kept: rows get our ids and every
//! reference (a token's user, a log's channel) is translated.

mod accounts;
mod channels;
pub mod cli;
mod codes;
mod logs;
mod report;
mod settings;
pub mod source;

use std::collections::HashMap;

pub use report::{Report, TableCounts, Unmapped};
pub use source::source_url;

use crate::db::{DatabaseUrl, Db};
use crate::error::ControlError;
use crate::secrets::Cipher;
use source::Source;

/// What to import and whether to keep it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Also bring over the request and account log (it can be large).
    pub with_logs: bool,
    /// Report only: the transaction is rolled back.
    pub dry_run: bool,
}

/// The state of one run: the target transaction, the report, and source id → our id for every table that
/// other tables refer to.
pub(crate) struct Run<'a> {
    pub db: &'a Db,
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    pub cipher: &'a Cipher,
    pub report: Report,
    pub users: HashMap<i64, i64>,
    pub tokens: HashMap<i64, i64>,
    pub channels: HashMap<i64, i64>,
    pub redemptions: HashMap<i64, i64>,
}

/// Imports from `source` into `target` (already migrated), encrypting keys with `cipher` (the one control
/// runs with, from `CRYPTO_SECRET`). Control caches what it serves: run this while control is stopped, or
/// restart it afterwards.
pub async fn run(
    source: &DatabaseUrl,
    target: &Db,
    cipher: &Cipher,
    options: ImportOptions,
) -> Result<Report, ControlError> {
    let source = Source::connect(source).await?;
    let result = run_from(&source, target, cipher, options).await;
    source.close().await;
    result
}

async fn run_from(
    source: &Source,
    target: &Db,
    cipher: &Cipher,
    options: ImportOptions,
) -> Result<Report, ControlError> {
    if source.columns("users").await?.is_empty() || source.columns("channels").await?.is_empty() {
        return Err(ControlError::BadRequest(format!(
            "the source {} database has no users or channels table: is it a Veloera, new-api or one-api database?",
            source.backend()
        )));
    }
    let flavour = flavour(source).await?;
    let mut run = Run {
        db: target,
        tx: target.begin_write().await?,
        cipher,
        report: Report { dry_run: options.dry_run, flavour, ..Report::default() },
        users: HashMap::new(),
        tokens: HashMap::new(),
        channels: HashMap::new(),
        redemptions: HashMap::new(),
    };
    accounts::import_users(source, &mut run).await?;
    accounts::import_tokens(source, &mut run).await?;
    channels::import_channels(source, &mut run).await?;
    codes::import_redemptions(source, &mut run).await?;
    codes::import_redemption_logs(source, &mut run).await?;
    settings::import_options(source, &mut run).await?;
    if options.with_logs {
        logs::import_logs(source, &mut run).await?;
        logs::import_quota_data(source, &mut run).await?;
    }
    let Run { tx, report, .. } = run;
    if options.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// Veloera has gift codes with use records; new-api has multi-key channel info; one-api has neither.
async fn flavour(source: &Source) -> Result<&'static str, ControlError> {
    if !source.columns("redemption_logs").await?.is_empty() {
        return Ok("Veloera");
    }
    if source.columns("channels").await?.contains("channel_info") {
        return Ok("new-api");
    }
    Ok("one-api")
}

/// Rows read per page from tables that can be large.
const PAGE: i64 = 1000;
