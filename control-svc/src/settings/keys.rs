//! The registered keys, one table per concept. Each key names the code that reads it; ranges follow what that
//! code accepts. To add a concept, write its table here and list it in [`TABLES`].

use super::Kind::{self, *};
use super::Setting;

const fn s(key: &'static str, kind: Kind) -> Setting {
    Setting { key, kind, routing: false }
}

const QUOTA_MAX: i64 = 1_000_000_000_000_000;

/// Every table `/api/option/` accepts keys from.
pub(super) const TABLES: &[&[Setting]] = &[BILLING, ROUTING, HEALTH, LOGS, ACCOUNTS, OAUTH, MAIL, REWARDS, SITE];

/// Prices and groups (`billing::PriceTable`); `DemoSiteEnabled` is recorded by first-run setup.
const BILLING: &[Setting] = &[
    s("QuotaPerUnit", Decimal { min: 1.0, max: 1e12 }),
    s("SelfUseModeEnabled", Flag),
    s("DemoSiteEnabled", Flag),
    s("ModelRatio", RatioMap),
    s("CompletionRatio", RatioMap),
    s("CacheRatio", RatioMap),
    s("ModelPrice", RatioMap),
    s("GroupRatio", RatioMap),
    s("UserUsableGroups", TextMap),
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

/// What settlement writes to the log (`db::usage`): consume rows (default on) and error rows (default off).
const LOGS: &[Setting] = &[s("LogConsumeEnabled", Flag), s("LogErrorEnabled", Flag)];

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

/// Content pages the UI shows (`admin::status`: `GET /api/notice`, `/api/about`, `/api/home_page_content`): Markdown,
/// HTML or an `https://` URL to embed, as in Veloera. Bounded by the MySQL column (`VARCHAR(15000)`).
const SITE: &[Setting] = &[
    s("Notice", Text { max_len: 15_000 }),
    s("About", Text { max_len: 15_000 }),
    s("HomePageContent", Text { max_len: 15_000 }),
];
