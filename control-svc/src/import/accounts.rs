//! Users and tokens. Password hashes are copied as they are (bcrypt: sign-in verifies it and rehashes to
//! argon2id); personal access tokens and API keys are stored as we store them (digest, and for API keys the
//! ciphertext and hint), so the keys people already use keep working.

use sqlx::Row;
use veloera_admin_types::Role;

use super::source::{Col, Source, SourceRow};
use super::{PAGE, Run};
use crate::db::insert_returning_id;
use crate::error::ControlError;
use crate::routing::split_list;
use crate::secrets::{key_digest, mask_token_key};

const USERS: &str = "users";
const USER_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("username", Col::Text),
    ("password", Col::Text),
    ("display_name", Col::Text),
    ("role", Col::Int),
    ("status", Col::Int),
    ("email", Col::Text),
    ("github_id", Col::Text),
    ("oidc_id", Col::Text),
    ("access_token", Col::Text),
    ("quota", Col::Int),
    ("used_quota", Col::Int),
    ("request_count", Col::Int),
    ("group", Col::Text),
    ("aff_code", Col::Text),
    ("aff_count", Col::Int),
    ("aff_quota", Col::Int),
    ("aff_history", Col::Int),
    ("inviter_id", Col::Int),
    ("setting", Col::Text),
    ("created_at", Col::Int),
    ("last_check_in_time", Col::UnixTime),
    ("deleted_at", Col::IsSet),
];

/// Columns that are unique among the users that have a value, and what the report calls them.
const UNIQUE_IDENTITIES: &[(&str, &str)] =
    [("aff_code", "invitation code"), ("github_id", "GitHub account"), ("oidc_id", "OIDC account")].as_slice();

pub(super) async fn import_users(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut inviters = Vec::new();
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(USERS, USER_COLUMNS, Some((after, PAGE))).await? else {
            return Err(ControlError::BadRequest("the source has no users table".into()));
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            let source_id = after;
            run.report.table(USERS).read += 1;
            if row.flag("deleted_at") {
                run.report.table(USERS).deleted += 1;
                continue;
            }
            let username = row.text("username").trim().to_string();
            if username.is_empty() || username.chars().count() > 64 {
                run.report.unmapped(
                    USERS,
                    format!("#{source_id}"),
                    "the username is empty or longer than 64 characters",
                );
                continue;
            }
            if let Some(existing) = user_id_by_name(run, &username).await? {
                run.users.insert(source_id, existing);
                run.report.table(USERS).existing += 1;
                continue;
            }
            let user_role = row.int_or("role", Role::Common.as_i64());
            if Role::try_from(user_role).is_err() {
                run.report.unmapped(USERS, format!("#{source_id} ({username})"), format!("unknown role {user_role}"));
                continue;
            }
            let mut identities = Vec::new();
            for (column, what) in UNIQUE_IDENTITIES {
                let value = row.text(column).trim().to_string();
                if !value.is_empty() && identity_taken(run, column, &value).await? {
                    // The account comes over without it rather than not at all; the report says so.
                    run.report.unmapped(
                        USERS,
                        format!("#{source_id} ({username})"),
                        format!("imported without its {what}: another account here already has it"),
                    );
                    identities.push(String::new());
                } else {
                    identities.push(value);
                }
            }
            let access_token = row.text("access_token");
            let access_digest = if access_token.trim().is_empty() {
                String::new()
            } else {
                hex::encode(key_digest(access_token.trim()))
            };
            let group = non_empty_or(row.text("group"), "default");
            let created_at = match row.int("created_at") {
                0 => crate::db::now_secs(),
                t => t,
            };
            let q = format!(
                "INSERT INTO users (username, password_hash, display_name, role, status, email, group_name, quota, \
                 used_quota, request_count, must_change_password, created_at, access_token_digest, aff_code, github_id, \
                 oidc_id, aff_count, aff_quota, aff_history_quota, setting, last_check_in_time) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){}",
                run.db.returning_id()
            );
            let sql = run.db.sql(&q);
            let query = sqlx::query(&sql)
                .bind(username.as_str())
                .bind(row.text("password"))
                .bind(row.text("display_name"))
                .bind(user_role)
                .bind(row.int_or("status", 1))
                .bind(row.text("email"))
                .bind(group)
                .bind(row.int("quota"))
                .bind(row.int("used_quota"))
                .bind(row.int("request_count"))
                .bind(created_at)
                .bind(access_digest)
                .bind(identities[0].clone())
                .bind(identities[1].clone())
                .bind(identities[2].clone())
                .bind(row.int("aff_count"))
                .bind(row.int("aff_quota"))
                .bind(row.int("aff_history"))
                .bind(row.text("setting"))
                .bind(row.int("last_check_in_time"));
            let id = insert_returning_id(run.db, &mut *run.tx, query).await?;
            run.users.insert(source_id, id);
            run.report.table(USERS).imported += 1;
            if row.int("inviter_id") != 0 {
                inviters.push((id, row.int("inviter_id")));
            }
        }
        if !full_page {
            break;
        }
    }
    // Inviters are set once every user has its new id; an inviter that was not imported is dropped.
    for (id, source_inviter) in inviters {
        if let Some(inviter) = run.users.get(&source_inviter) {
            sqlx::query(&run.db.sql("UPDATE users SET inviter_id = ? WHERE id = ?"))
                .bind(*inviter)
                .bind(id)
                .execute(&mut *run.tx)
                .await?;
        }
    }
    Ok(())
}

async fn user_id_by_name(run: &mut Run<'_>, username: &str) -> Result<Option<i64>, ControlError> {
    let row = sqlx::query(&run.db.sql("SELECT id FROM users WHERE username = ?"))
        .bind(username)
        .fetch_optional(&mut *run.tx)
        .await?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

async fn identity_taken(run: &mut Run<'_>, column: &str, value: &str) -> Result<bool, ControlError> {
    let q = format!("SELECT COUNT(*) FROM users WHERE {column} = ?");
    let n: i64 = sqlx::query_scalar(&run.db.sql(&q)).bind(value).fetch_one(&mut *run.tx).await?;
    Ok(n > 0)
}

fn non_empty_or(value: String, default: &str) -> String {
    if value.trim().is_empty() { default.to_string() } else { value.trim().to_string() }
}

const TOKENS: &str = "tokens";
const TOKEN_COLUMNS: &[(&str, Col)] = &[
    ("id", Col::Int),
    ("user_id", Col::Int),
    ("key", Col::Text),
    ("status", Col::Int),
    ("name", Col::Text),
    ("created_time", Col::Int),
    ("accessed_time", Col::Int),
    ("expired_time", Col::Int),
    ("remain_quota", Col::Int),
    ("unlimited_quota", Col::Flag),
    ("model_limits_enabled", Col::Flag),
    ("model_limits", Col::Text),
    ("allow_ips", Col::Text),
    ("used_quota", Col::Int),
    ("group", Col::Text),
    // one-api: the models a token may use, and the subnet it may be used from.
    ("models", Col::Text),
    ("subnet", Col::Text),
    ("deleted_at", Col::IsSet),
];

/// The IP/CIDR allow-list of a source token, one entry per line as ours; entries that are neither are dropped
/// (Veloera ignores them too) and returned for the report.
fn allow_list(row: &SourceRow) -> (String, Vec<String>) {
    let raw = if row.text("allow_ips").trim().is_empty() { row.text("subnet") } else { row.text("allow_ips") };
    let (valid, invalid): (Vec<String>, Vec<String>) = split_list(&raw)
        .into_iter()
        .partition(|e| e.parse::<std::net::IpAddr>().is_ok() || e.parse::<ipnet::IpNet>().is_ok());
    (valid.join("\n"), invalid)
}

/// Model limits: Veloera's and new-api's own columns, or one-api's `models` list (limited when not empty).
fn model_limits(row: &SourceRow) -> (bool, String) {
    if row.has("model_limits_enabled") {
        return (row.flag("model_limits_enabled"), row.text("model_limits"));
    }
    let models = split_list(&row.text("models")).join(",");
    (!models.is_empty(), models)
}

pub(super) async fn import_tokens(source: &Source, run: &mut Run<'_>) -> Result<(), ControlError> {
    let mut after = i64::MIN;
    loop {
        let Some(rows) = source.read(TOKENS, TOKEN_COLUMNS, Some((after, PAGE))).await? else {
            run.report.absent(TOKENS);
            return Ok(());
        };
        let full_page = rows.len() as i64 == PAGE;
        for row in rows {
            after = row.int("id");
            let label = format!("#{after}");
            run.report.table(TOKENS).read += 1;
            if row.flag("deleted_at") {
                run.report.table(TOKENS).deleted += 1;
                continue;
            }
            // Veloera stores the key without the `sk-` clients send; some installations kept it.
            let raw = row.text("key");
            let key = raw.trim().trim_start_matches("sk-");
            if key.is_empty() {
                run.report.unmapped(TOKENS, label, "the token has no key");
                continue;
            }
            let digest = hex::encode(key_digest(key));
            let existing: Option<i64> = sqlx::query_scalar(&run.db.sql("SELECT id FROM tokens WHERE key_digest = ?"))
                .bind(&digest)
                .fetch_optional(&mut *run.tx)
                .await?;
            if let Some(id) = existing {
                run.tokens.insert(after, id);
                run.report.table(TOKENS).existing += 1;
                continue;
            }
            let Some(user_id) = run.users.get(&row.int("user_id")).copied() else {
                run.report.unmapped(TOKENS, label, format!("its user #{} was not imported", row.int("user_id")));
                continue;
            };
            let name: String = row.text("name").chars().take(64).collect();
            let (allow_ips, dropped) = allow_list(&row);
            if !dropped.is_empty() {
                let reason = format!("imported without the allow-list entries {dropped:?}: not IP addresses or CIDRs");
                run.report.unmapped(TOKENS, label.clone(), reason);
            }
            let (limits_enabled, limits) = model_limits(&row);
            let q = format!(
                "INSERT INTO tokens (user_id, name, key_digest, key_ciphertext, key_hint, status, created_time, \
                 accessed_time, expired_time, remain_quota, unlimited_quota, used_quota, model_limits_enabled, \
                 model_limits, allow_ips, group_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){}",
                run.db.returning_id()
            );
            let sql = run.db.sql(&q);
            let query = sqlx::query(&sql)
                .bind(user_id)
                .bind(name)
                .bind(digest)
                .bind(run.cipher.encrypt(key))
                .bind(mask_token_key(key))
                .bind(row.int_or("status", 1))
                .bind(row.int("created_time"))
                .bind(row.int("accessed_time"))
                .bind(row.int_or("expired_time", -1))
                .bind(row.int("remain_quota"))
                .bind(row.flag("unlimited_quota") as i64)
                .bind(row.int("used_quota"))
                .bind(limits_enabled as i64)
                .bind(limits)
                .bind(allow_ips)
                .bind(row.text("group").trim().to_string());
            let id = insert_returning_id(run.db, &mut *run.tx, query).await?;
            run.tokens.insert(after, id);
            run.report.table(TOKENS).imported += 1;
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}
