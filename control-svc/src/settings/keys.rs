//! The registered keys, one table per concept. Each key names the code that reads it; ranges follow what that
//! code accepts. To add a concept, write its table here and list it in [`TABLES`].

use super::Kind::{self, *};
use super::Setting;

const fn s(key: &'static str, kind: Kind) -> Setting {
    Setting { key, kind, routing: false }
}

const QUOTA_MAX: i64 = 1_000_000_000_000_000;

/// Every table `/api/option/` accepts keys from.
pub(super) const TABLES: &[&[Setting]] =
    &[BILLING, ROUTING, HEALTH, LOGS, ACCOUNTS, OAUTH, MAIL, NOTICES, REWARDS, BLOCKED_WORDS, RATE_LIMITS, SITE, UI];

/// Prices and groups (`billing::PriceTable`); `DemoSiteEnabled` is recorded by first-run setup.
const BILLING: &[Setting] = &[
    s("QuotaPerUnit", Decimal { min: 1.0, max: 1e12 }),
    s("SelfUseModeEnabled", Flag),
    s("DemoSiteEnabled", Flag),
    s("ModelRatio", RatioMap),
    s("CompletionRatio", RatioMap),
    s("CacheRatio", RatioMap),
    s("CreateCacheRatio", RatioMap),
    s("ModelPrice", RatioMap),
    s("GroupRatio", RatioMap),
    s("UserUsableGroups", TextMap),
    // Veloera v0.5's fallback pricing for unpriced models; the price table's dry run refuses both modes at once.
    s("fallback_pricing_enabled", Flag),
    s("fallback_single_price", Decimal { min: 0.0, max: 1e6 }),
    s("fallback_input_ratio", Decimal { min: 0.0, max: 1e6 }),
    s("fallback_completion_ratio", Decimal { min: 0.0, max: 1e6 }),
];

/// Routing (`routing::virtual_models`): a change rebuilds the channel snapshot.
const ROUTING: &[Setting] = &[Setting { key: "global_model_mapping", kind: VirtualModels, routing: true }];

/// Failover and channel health (`health::Policy`).
const HEALTH: &[Setting] = &[
    s("RetryTimes", Integer { min: 0, max: 10 }),
    s("AutomaticDisableChannelEnabled", Flag),
    s("AutomaticEnableChannelEnabled", Flag),
    s("AutomaticDisableKeywords", Text { max_len: 16_384 }),
    s("ChannelDisableThreshold", Decimal { min: 0.0, max: 86_400.0 }),
    s("ChannelFailureThreshold", Integer { min: 1, max: 1000 }),
    s("ChannelFailureWindowSeconds", Integer { min: 1, max: 86_400 }),
    s("ChannelProbeIntervalSeconds", Integer { min: 1, max: 86_400 }),
    s("ChannelProbeMaxIntervalSeconds", Integer { min: 1, max: 7 * 86_400 }),
];

/// What settlement writes to the log (`db::usage`): consume rows (default on) and error rows (default off); and
/// chat content (default off), recorded by the relays (`grpc::relay_settings`) and kept only while it is on.
/// `LogRetentionDays` (`retention`, 0 or unset: keep all) deletes consume and error rows older than that daily.
const LOGS: &[Setting] = &[
    s(crate::retention::OPTION, Integer { min: 0, max: 36_500 }),
    s("LogConsumeEnabled", Flag),
    s("LogErrorEnabled", Flag),
    s("LogChatContentEnabled", Flag),
    s("LogContentMaxBytes", Integer { min: 1, max: crate::grpc::relay_settings::LOG_CONTENT_MOST_BYTES as i64 }),
];

/// Sign-up and sign-in (`accounts::AccountSettings`).
const ACCOUNTS: &[Setting] = &[
    s("RegisterEnabled", Flag),
    s("PasswordRegisterEnabled", Flag),
    s("PasswordLoginEnabled", Flag),
    s("EmailVerificationEnabled", Flag),
    s("EmailDomainRestrictionEnabled", Flag),
    s("EmailDomainWhitelist", Text { max_len: 8192 }),
    s("QuotaForNewUser", Integer { min: 0, max: QUOTA_MAX }),
    s("SystemName", Text { max_len: 128 }),
    s("ServerAddress", Url),
];

/// OAuth providers (`accounts::AccountSettings`, `accounts::oauth`).
const OAUTH: &[Setting] = &[
    s("GitHubOAuthEnabled", Flag),
    s("GitHubClientId", Text { max_len: 256 }),
    s("GitHubClientSecret", Secret),
    s("OidcEnabled", Flag),
    s("OidcClientId", Text { max_len: 256 }),
    s("OidcClientSecret", Secret),
    s("OidcWellKnown", Url),
    s("OidcAuthorizationEndpoint", Url),
    s("OidcTokenEndpoint", Url),
    s("OidcUserInfoEndpoint", Url),
];

/// The mail server (`accounts::mail`).
const MAIL: &[Setting] = &[
    s("SMTPServer", Text { max_len: 255 }),
    s("SMTPPort", Integer { min: 1, max: 65_535 }),
    s("SMTPAccount", Text { max_len: 255 }),
    s("SMTPFrom", Text { max_len: 255 }),
    s("SMTPToken", Secret),
    s("SMTPSSLEnabled", Flag),
];

/// Quota warnings (`notify::quota_warning`): the threshold of users who set none (0: they get none).
const NOTICES: &[Setting] = &[s("QuotaRemindThreshold", Integer { min: 0, max: QUOTA_MAX })];

/// Check-in, invitations and rebates (`db::check_in`, `db::invitations`).
const REWARDS: &[Setting] = &[
    s("CheckInEnabled", Flag),
    s("CheckInQuota", Integer { min: 1, max: QUOTA_MAX }),
    s("CheckInMaxQuota", Integer { min: 0, max: QUOTA_MAX }),
    s("QuotaForInvitee", Integer { min: 0, max: QUOTA_MAX }),
    s("QuotaForInviter", Integer { min: 0, max: QUOTA_MAX }),
    s("RebateEnabled", Flag),
    s("RebatePercentage", Decimal { min: 0.0, max: 100.0 }),
];

/// Blocked words (`grpc::relay_settings`, compiled by the relays): the list must compile, naming a bad line.
const BLOCKED_WORDS: &[Setting] = &[
    s("SensitiveWords", Custom(blocked_word_list)),
    s("CheckSensitiveEnabled", Flag),
    s("CheckSensitiveOnPromptEnabled", Flag),
    s("CheckSensitiveOnCompletionEnabled", Flag),
    s("SafeCheckExemptEnabled", Flag),
    s("SafeCheckExemptGroup", Text { max_len: 64 }),
];

const BLOCKED_WORDS_MAX_LEN: usize = 1 << 20;

fn blocked_word_list(value: &str) -> Result<(), String> {
    if value.len() > BLOCKED_WORDS_MAX_LEN {
        return Err(format!("the list is longer than {BLOCKED_WORDS_MAX_LEN} bytes"));
    }
    veloera_proto::blocked_words::BlockedWords::compile(value).map(|_| ()).map_err(|e| e.to_string())
}

/// Request rate limits the relays enforce (`grpc::relay_settings`): per user, per model, and the token limits'
/// exempt group. `ModelRateLimits` is checked whole by the same code that sends it.
const RATE_LIMITS: &[Setting] = &[
    s("ModelRequestRateLimitEnabled", Flag),
    s("ModelRequestRateLimitCount", Integer { min: 0, max: 100_000_000 }),
    s("ModelRequestRateLimitSuccessCount", Integer { min: 0, max: 100_000_000 }),
    s("ModelRequestRateLimitDurationMinutes", Integer { min: 1, max: 7 * 24 * 60 }),
    s("ModelRateLimits", Custom(model_rate_limits)),
    s("global.rate_limit_exempt_enabled", Flag),
    s("global.rate_limit_exempt_group", Text { max_len: 64 }),
];

fn model_rate_limits(value: &str) -> Result<(), String> {
    let options = std::collections::HashMap::from([("ModelRateLimits".to_string(), value.to_string())]);
    crate::grpc::relay_settings::from_options(&options).map(|_| ()).map_err(|e| {
        // The shared reader names the option itself; the settings API prefixes the key already.
        e.trim_start_matches("option ModelRateLimits: ").to_string()
    })
}

/// Content pages the UI shows (`admin::status`: `GET /api/notice`, `/api/about`, `/api/home_page_content`): Markdown,
/// HTML or an `https://` URL to embed, as in Veloera. Bounded by the MySQL column (`VARCHAR(15000)`).
const SITE: &[Setting] = &[
    s("Notice", Text { max_len: 15_000 }),
    s("About", Text { max_len: 15_000 }),
    s("HomePageContent", Text { max_len: 15_000 }),
];

/// What the UI shows and hides, under Veloera's keys (`admin::site`: `GET /api/status`, `/custom/global.css` and
/// `/custom/global.js`). Their defaults are Veloera's, listed in `admin::site::DEFAULTS`.
const UI: &[Setting] = &[
    s("Logo", Custom(logo_address)),
    s("Footer", Text { max_len: 15_000 }),
    s("TopUpLink", Url),
    s("general_setting.docs_link", Url),
    s("DisplayInCurrencyEnabled", Flag),
    s("DataExportEnabled", Flag),
    s("DataExportDefaultTime", Custom(bucket_name)),
    s("DefaultCollapseSidebar", Flag),
    s("Chats", Custom(chat_links)),
    s("global_css", Text { max_len: 65_536 }),
    s("global_js", Text { max_len: 65_536 }),
];

/// A logo is an `http(s)://` URL or a path on this site (`/logo.png`), or empty for the built-in one.
fn logo_address(value: &str) -> Result<(), String> {
    let v = value.trim();
    if v.is_empty() || (v.starts_with('/') && !v.starts_with("//")) {
        return if v.len() > 1024 { Err("longer than 1024 characters".into()) } else { Ok(()) };
    }
    super::check(Url, v).map_err(|_| format!("{v:?} is neither an http(s) URL nor a path starting with /"))
}

/// The dashboard's default bucket: Veloera's `hour`, `day` or `week`.
fn bucket_name(value: &str) -> Result<(), String> {
    match value.trim() {
        "hour" | "day" | "week" => Ok(()),
        other => Err(format!("{other:?} is not hour, day or week")),
    }
}

/// Veloera's chat-client links: a JSON array of one-entry objects, name → URL template (`{key}` and `{address}`
/// are filled in by the UI).
fn chat_links(value: &str) -> Result<(), String> {
    let links: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(value.trim()).map_err(|e| format!("not a JSON array of {{name: link}} objects: {e}"))?;
    for (i, link) in links.iter().enumerate() {
        match link.iter().next() {
            Some((name, serde_json::Value::String(_))) if link.len() == 1 && !name.trim().is_empty() => {}
            _ => return Err(format!("entry {i} must be one non-empty name mapped to a link")),
        }
    }
    Ok(())
}
