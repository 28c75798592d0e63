//! Wire types of the admin REST API in Veloera's shapes (`{success, message, data}`), shared by
//! control-svc (server) and admin-yew (client) so the two can never drift apart.

use serde::{Deserialize, Serialize};

pub mod channel_transfer;
pub mod channel_types;
mod role_status;

pub use role_status::{ChannelStatus, Role, TokenStatus, UnknownNumber, UserStatus};

/// Veloera's response envelope. `data` is omitted when there is nothing to return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub success: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self { success: true, message: String::new(), data: Some(data) }
    }
}

/// One page of a list, in the shape Veloera v0.5 and new-api answer paged lists (`data.items`, `data.total`).
/// `page` is the page answered, counted as that list counts in Veloera (channels and tokens from 0; logs,
/// users and redemption codes from 1); `total` is the number of rows matching the filter, the same on every page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

impl<T> Page<T> {
    /// The same page with each row converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            page_size: self.page_size,
        }
    }
}

/// Veloera role numbers as the API's integer fields carry them (the UI compares them); the server uses [`Role`].
pub mod role {
    use super::Role;
    pub const GUEST: i32 = Role::Guest.as_i32();
    pub const COMMON: i32 = Role::Common.as_i32();
    pub const ADMIN: i32 = Role::Admin.as_i32();
    pub const ROOT: i32 = Role::Root.as_i32();
}

/// Veloera status numbers as the API's integer fields carry them (the UI compares them); the server uses
/// [`UserStatus`], [`TokenStatus`] and [`ChannelStatus`].
pub mod status {
    use super::{ChannelStatus, TokenStatus};
    pub const ENABLED: i32 = ChannelStatus::Enabled.as_i32();
    pub const DISABLED: i32 = ChannelStatus::Disabled.as_i32();
    pub const CHANNEL_AUTO_DISABLED: i32 = ChannelStatus::AutoDisabled.as_i32();
    pub const TOKEN_EXPIRED: i32 = TokenStatus::Expired.as_i32();
    pub const TOKEN_EXHAUSTED: i32 = TokenStatus::Exhausted.as_i32();
}

/// Veloera log types (note: 5 is check-in here, unlike new-api).
pub mod log_type {
    pub const UNKNOWN: i32 = 0;
    pub const TOPUP: i32 = 1;
    pub const CONSUME: i32 = 2;
    pub const MANAGE: i32 = 3;
    pub const SYSTEM: i32 = 4;
    pub const CHECK_IN: i32 = 5;
    pub const ERROR: i32 = 6;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// What `/api/user/login` and `/api/user/self` return about the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserSelf {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: i32,
    pub status: i32,
    pub email: String,
    pub group: String,
    pub quota: i64,
    /// Quota spent before `quota` (Veloera v0.5), set by administrators. What the user may spend is the sum.
    #[serde(default)]
    pub subscription_quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    /// Set for the default root account until its password is changed; nothing else works until then.
    pub must_change_password: bool,
    /// The user's own settings (`PUT /api/user/setting`), webhook secret left out; only `/api/user/self` sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<UserSetting>,
}

/// `PUT /api/user/self`: profile and password change. Quota fields are not accepted here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateSelf {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// New password (8–20 characters).
    #[serde(default)]
    pub password: Option<String>,
    /// Required when changing the password.
    #[serde(default)]
    pub original_password: Option<String>,
}

/// A channel as the admin API shows it. The key is never returned in full.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Channel {
    pub id: i64,
    #[serde(rename = "type")]
    pub channel_type: i32,
    pub name: String,
    /// Masked key(s), e.g. `sk-a…wxyz`; one per comma-separated key.
    pub key: String,
    pub base_url: String,
    pub models: String,
    pub group: String,
    pub model_mapping: String,
    pub status: i32,
    pub priority: i64,
    pub weight: i64,
    pub auto_ban: i32,
    pub test_model: String,
    pub openai_organization: String,
    pub tag: String,
    pub created_time: i64,
    pub used_quota: i64,
    /// Type-specific: the Azure OpenAI `api-version`.
    #[serde(default)]
    pub other: String,
    /// JSON object merged over the top-level keys of every request body sent to this channel.
    #[serde(default)]
    pub param_override: String,
    /// JSON object such as `{"400": "500"}`: upstream status → status shown to the client.
    #[serde(default)]
    pub status_code_mapping: String,
    /// Prepended to every conversation's system prompt.
    #[serde(default)]
    pub system_prompt: String,
    /// JSON object of extra headers sent upstream.
    #[serde(default)]
    pub headers: String,
    /// Veloera's `setting` JSON: `{"stream_support": "NON_STREAM_ONLY"}` calls the upstream without streaming
    /// and answers streaming clients with SSE.
    #[serde(default)]
    pub setting: String,
    /// Veloera's model prefix: this channel's models are also reachable as `<prefix><model>`.
    #[serde(default)]
    pub model_prefix: String,
    /// JSON `{"status_reason": …, "status_time": …}`: why and when the channel was last disabled.
    #[serde(default)]
    pub other_info: String,
    /// Latency of the last test in milliseconds, and when it ran (unix seconds).
    #[serde(default)]
    pub response_time: i64,
    #[serde(default)]
    pub test_time: i64,
    /// Upstream balance in USD as last read, and when.
    #[serde(default)]
    pub balance: f64,
    #[serde(default)]
    pub balance_updated_time: i64,
}

/// `POST /api/channel/` body (Veloera accepts the channel object; `mode` is tolerated).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelCreate {
    #[serde(rename = "type", default = "default_channel_type")]
    pub channel_type: i32,
    pub name: String,
    pub key: String,
    #[serde(default)]
    pub base_url: Option<String>,
    pub models: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub model_mapping: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub auto_ban: Option<i32>,
    #[serde(default)]
    pub test_model: Option<String>,
    #[serde(default)]
    pub openai_organization: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub status: Option<i32>,
    #[serde(default)]
    pub other: Option<String>,
    #[serde(default)]
    pub param_override: Option<String>,
    #[serde(default)]
    pub status_code_mapping: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub headers: Option<String>,
    #[serde(default)]
    pub setting: Option<String>,
    #[serde(default)]
    pub model_prefix: Option<String>,
}

fn default_channel_type() -> i32 {
    1
}

/// `PUT /api/channel/` body: `id` plus any channel fields to change (names as in [`ChannelCreate`]). An empty or
/// absent `key` keeps the stored keys; a non-empty one replaces them all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelUpdate {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub channel_type: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub models: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub model_mapping: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub auto_ban: Option<i32>,
    #[serde(default)]
    pub test_model: Option<String>,
    #[serde(default)]
    pub openai_organization: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// 1 re-enables (clearing the disable reason and the circuit breaker), 2 disables by hand.
    #[serde(default)]
    pub status: Option<i32>,
    #[serde(default)]
    pub other: Option<String>,
    #[serde(default)]
    pub param_override: Option<String>,
    #[serde(default)]
    pub status_code_mapping: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub headers: Option<String>,
    #[serde(default)]
    pub setting: Option<String>,
    #[serde(default)]
    pub model_prefix: Option<String>,
}

impl ChannelCreate {
    /// The same fields as a change of channel `id` (the form that creates a channel also edits one). An empty
    /// key keeps the stored keys.
    pub fn into_update(self, id: i64) -> ChannelUpdate {
        ChannelUpdate {
            id,
            channel_type: Some(self.channel_type),
            name: Some(self.name),
            key: Some(self.key).filter(|k| !k.is_empty()),
            base_url: self.base_url,
            models: Some(self.models),
            group: self.group,
            model_mapping: self.model_mapping,
            priority: self.priority,
            weight: self.weight,
            auto_ban: self.auto_ban,
            test_model: self.test_model,
            openai_organization: self.openai_organization,
            tag: self.tag,
            status: self.status,
            other: self.other,
            param_override: self.param_override,
            status_code_mapping: self.status_code_mapping,
            system_prompt: self.system_prompt,
            headers: self.headers,
            setting: self.setting,
            model_prefix: self.model_prefix,
        }
    }
}

/// `POST /api/channel/batch` body: the channels to delete.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelIds {
    #[serde(default)]
    pub ids: Vec<i64>,
}

/// `POST /api/channel/tag/disabled` and `/tag/enabled` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelTag {
    #[serde(default)]
    pub tag: String,
}

/// `PUT /api/channel/tag` body: edits every channel carrying `tag`; absent fields are left alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelTagEdit {
    #[serde(default)]
    pub tag: String,
    /// Renames the tag on all its channels.
    #[serde(default)]
    pub new_tag: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub weight: Option<i64>,
    /// Replaces the model list (comma-separated).
    #[serde(default)]
    pub models: Option<String>,
    /// Replaces the group list (comma-separated).
    #[serde(default)]
    pub groups: Option<String>,
    #[serde(default)]
    pub model_mapping: Option<String>,
}

/// `POST /api/channel/batch/tag` body: sets `tag` on the listed channels; an empty or absent tag removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelBatchTag {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub tag: Option<String>,
}

/// An API token as lists show it: the key is masked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Token {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// Masked (`sk-abcd…wxyz`) in lists; the full `sk-` key only in the create response.
    pub key: String,
    pub status: i32,
    pub created_time: i64,
    pub accessed_time: i64,
    pub expired_time: i64,
    pub remain_quota: i64,
    pub unlimited_quota: bool,
    pub used_quota: i64,
    pub model_limits_enabled: bool,
    pub model_limits: String,
    pub allow_ips: String,
    pub group: String,
    /// The token's own request limit (Veloera v0.5; the relay enforces it): at most `rate_limit_count`
    /// requests and `rate_limit_success` successful ones per `rate_limit_period` seconds; 0 means no limit of
    /// that kind.
    #[serde(default)]
    pub rate_limit_enabled: bool,
    #[serde(default)]
    pub rate_limit_period: i64,
    #[serde(default)]
    pub rate_limit_count: i64,
    #[serde(default)]
    pub rate_limit_success: i64,
}

/// `POST /api/token/` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenCreate {
    pub name: String,
    #[serde(default)]
    pub remain_quota: Option<i64>,
    #[serde(default)]
    pub unlimited_quota: Option<bool>,
    /// Unix seconds, or -1 for never (the default).
    #[serde(default)]
    pub expired_time: Option<i64>,
    #[serde(default)]
    pub model_limits_enabled: Option<bool>,
    #[serde(default)]
    pub model_limits: Option<String>,
    #[serde(default)]
    pub allow_ips: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Off by default; period 1..=86400 seconds (60), counts ≥ 0 (1000 requests, 10 successes).
    #[serde(default)]
    pub rate_limit_enabled: Option<bool>,
    #[serde(default)]
    pub rate_limit_period: Option<i64>,
    #[serde(default)]
    pub rate_limit_count: Option<i64>,
    #[serde(default)]
    pub rate_limit_success: Option<i64>,
}

/// A usage log row as the admin view shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    #[serde(rename = "type")]
    pub log_type: i32,
    pub content: String,
    pub username: String,
    pub token_name: String,
    pub token_id: i64,
    pub model_name: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub use_time: i64,
    pub is_stream: bool,
    pub channel: i64,
    pub group: String,
    pub request_id: String,
    /// JSON text: pricing used, first-response time and, for administrators, the retry trail
    /// (`admin_info.use_channel`).
    #[serde(default)]
    pub other: String,
    /// The channel's current name (administrators only; empty in `/api/log/self`).
    #[serde(default)]
    pub channel_name: String,
    /// The client's address, recorded only for users whose `show_ip_in_logs` setting is on.
    #[serde(default)]
    pub client_ip: String,
    /// The request's prompt and answer, present only for rows recorded while `LogChatContentEnabled` was on.
    /// Administrators see it on every row; a user only on their own rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_content: Option<ChatContent>,
}

/// What a request said and was answered, each cut at `LogContentMaxBytes` on a character boundary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatContent {
    /// The text fields of the client's body, one per line.
    pub prompt: String,
    /// The answer's text (streamed answers joined).
    pub answer: String,
}

/// One option of `GET /api/option/`: every registered key, `value` empty while unset (the built-in default
/// applies). Secrets (passwords, client secrets, keys) are write-only: their `value` is always empty and `set` says
/// whether one is stored; `set` is absent for other keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OptionItem {
    pub key: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<bool>,
}

/// `PUT /api/option/` body. `value` may be text, or a boolean or number (stored as its text), or a JSON object
/// (stored as compact JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionUpdate {
    pub key: String,
    pub value: serde_json::Value,
}

/// `GET /api/log/stat` and `/api/log/self/stat`: quota of the matching consume logs, and requests and tokens per
/// minute over the last 60 seconds (same filters).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogStat {
    pub quota: i64,
    pub rpm: i64,
    pub tpm: i64,
}

/// One row of the dashboard data (`/api/data/`, `/api/data/self`), Veloera's `quota_data`: requests, tokens and
/// quota in one time bucket (`created_at`, unix seconds at the bucket's start). `username` and `user_id` are set
/// for per-user rows, `model_name` for per-model rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QuotaData {
    #[serde(default)]
    pub user_id: i64,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub model_name: String,
    pub created_at: i64,
    pub count: i64,
    pub token_used: i64,
    pub quota: i64,
}

/// One channel's traffic in a window (`GET /api/data/channels`): answered requests, failed attempts (every
/// attempt that failed on it, including ones a retry recovered), `error_rate` = errors / (requests + errors).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChannelUsage {
    pub channel_id: i64,
    pub channel_name: String,
    pub count: i64,
    pub error_count: i64,
    pub error_rate: f64,
    pub token_used: i64,
    pub quota: i64,
}

/// `PUT /api/token/` body: `id` plus the fields to change (with `?status_only=1`, only `status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenUpdate {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<i32>,
    #[serde(default)]
    pub remain_quota: Option<i64>,
    #[serde(default)]
    pub unlimited_quota: Option<bool>,
    #[serde(default)]
    pub expired_time: Option<i64>,
    #[serde(default)]
    pub model_limits_enabled: Option<bool>,
    #[serde(default)]
    pub model_limits: Option<String>,
    #[serde(default)]
    pub allow_ips: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub rate_limit_enabled: Option<bool>,
    #[serde(default)]
    pub rate_limit_period: Option<i64>,
    #[serde(default)]
    pub rate_limit_count: Option<i64>,
    #[serde(default)]
    pub rate_limit_success: Option<i64>,
}

impl TokenCreate {
    /// The same fields as a change of token `id` (the form that creates a token also edits one).
    pub fn into_update(self, id: i64) -> TokenUpdate {
        TokenUpdate {
            id,
            name: Some(self.name),
            status: None,
            remain_quota: self.remain_quota,
            unlimited_quota: self.unlimited_quota,
            expired_time: self.expired_time,
            model_limits_enabled: self.model_limits_enabled,
            model_limits: self.model_limits,
            allow_ips: self.allow_ips,
            group: self.group,
            rate_limit_enabled: self.rate_limit_enabled,
            rate_limit_period: self.rate_limit_period,
            rate_limit_count: self.rate_limit_count,
            rate_limit_success: self.rate_limit_success,
        }
    }
}

/// `POST /api/user/register` body. `email` and `verification_code` are required when the site has
/// `EmailVerificationEnabled`; `aff_code` is the inviter's invitation code (an unknown code is ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub verification_code: Option<String>,
    #[serde(default)]
    pub aff_code: Option<String>,
}

/// `POST /api/user/reset` body: the address and the token from the reset mail. The answer's `data` is the new
/// password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PasswordReset {
    pub email: String,
    pub token: String,
}

/// `GET /api/setup` data.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SetupStatus {
    /// Whether the site is set up (an account exists).
    pub status: bool,
    /// Whether a root account exists.
    pub root_init: bool,
    /// `sqlite`, `postgres` or `mysql`.
    pub database_type: String,
}

/// `POST /api/setup` body (Veloera's field names): the root account and the site mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetupRequest {
    pub username: String,
    pub password: String,
    #[serde(rename = "confirmPassword")]
    pub confirm_password: String,
    #[serde(rename = "SelfUseModeEnabled", default)]
    pub self_use_mode_enabled: Option<bool>,
    #[serde(rename = "DemoSiteEnabled", default)]
    pub demo_site_enabled: Option<bool>,
}

/// Redemption code status numbers (Veloera): a gift code is "used" once all its `max_uses` are taken.
pub mod redemption_status {
    pub const ENABLED: i32 = 1;
    pub const DISABLED: i32 = 2;
    pub const USED: i32 = 3;
}

/// A redemption or gift code as administrators see it (the key in full: they hand it out).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Redemption {
    pub id: i64,
    /// The administrator who created it.
    pub user_id: i64,
    pub key: String,
    pub name: String,
    pub quota: i64,
    /// [`redemption_status`].
    pub status: i32,
    pub created_time: i64,
    /// When it was last redeemed (0 = never).
    pub redeemed_time: i64,
    /// Who redeemed an ordinary code (0 for gift codes: see their uses).
    pub used_user_id: i64,
    pub is_gift: bool,
    /// How many users may redeem a gift code (-1 = unlimited); 1 for an ordinary code.
    pub max_uses: i64,
    pub used_count: i64,
    /// Unix seconds; 0 = no bound.
    pub valid_from: i64,
    /// Unix seconds; 0 = no bound.
    pub valid_until: i64,
}

/// `POST /api/redemption/`: either `count` random keys (1–100, the default 1) or one custom `key`
/// (32–64 visible ASCII characters).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedemptionCreate {
    pub name: String,
    pub quota: i64,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub is_gift: Option<bool>,
    /// Gift codes only: at least 1, or -1 for unlimited (the default).
    #[serde(default)]
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub valid_from: Option<i64>,
    #[serde(default)]
    pub valid_until: Option<i64>,
}

/// `PUT /api/redemption/` body: `id` plus the fields to change (with `?status_only=1`, only `status`).
/// The kind (`is_gift`) and the key are fixed at creation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedemptionUpdate {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub quota: Option<i64>,
    /// 1 (enabled) or 2 (disabled).
    #[serde(default)]
    pub status: Option<i32>,
    #[serde(default)]
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub valid_from: Option<i64>,
    #[serde(default)]
    pub valid_until: Option<i64>,
}

/// `POST /api/redemption/batch-disable` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedemptionIds {
    pub ids: Vec<i64>,
}

/// `DELETE /api/redemption/delete-by-name` body (the name may come as `?name=` instead).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedemptionName {
    pub name: String,
}

/// `POST /api/user/topup` body: a redemption or gift code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopUpRequest {
    pub key: String,
}

/// What a redemption credited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopUpResult {
    pub quota: i64,
    pub is_gift: bool,
}

/// `GET /api/user/check_in_status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckInStatus {
    pub can_check_in: bool,
}

/// `POST /api/user/check_in`: the quota credited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckInResult {
    pub quota: i64,
}

/// `POST /api/user/aff_transfer` body: how much invitation quota to move into the balance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AffTransferRequest {
    pub quota: i64,
}

/// The balances after an invitation-quota transfer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AffTransferResult {
    pub quota: i64,
    pub aff_quota: i64,
}

/// `POST /api/user/` (administrators): a new account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserCreate {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// 1 (user) unless root creates an administrator (10).
    #[serde(default)]
    pub role: Option<i32>,
}

/// `PUT /api/user/` (administrators): `id` plus the fields to change. `quota` and `subscription_quota` set the
/// balances (each change is logged); `password` sets a new one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserUpdate {
    pub id: i64,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub quota: Option<i64>,
    /// Sets the subscription quota (spent before `quota`); logged like a quota change.
    #[serde(default)]
    pub subscription_quota: Option<i64>,
    #[serde(default)]
    pub password: Option<String>,
}

/// `POST /api/user/manage`: `action` is `disable`, `enable`, `delete`, `promote` or `demote`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserManage {
    pub id: i64,
    pub action: String,
}

/// `PUT /api/user/setting`: Veloera's user settings, stored in `users.setting` next to keys other features own.
/// `webhook_secret` is write-only: absent keeps the stored secret, `""` clears it, and it is never returned.
/// `record_ip_log` (new-api's name) is accepted for `show_ip_in_logs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserSetting {
    /// How notices arrive: `email` (also when empty, Veloera's default) or `webhook`.
    #[serde(default)]
    pub notify_type: String,
    /// Warn once when the remaining quota falls below this many quota units; 0 means the site's
    /// `QuotaRemindThreshold` (default 1000).
    #[serde(default)]
    pub quota_warning_threshold: f64,
    #[serde(default)]
    pub webhook_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Where warnings go instead of the account's email; empty for the account's.
    #[serde(default)]
    pub notification_email: String,
    /// Allow models that have no price; they are billed at model ratio 37.5 (Veloera's unset-model price).
    #[serde(default)]
    pub accept_unset_model_ratio_model: bool,
    /// Record the client address in this user's log rows.
    #[serde(default, alias = "record_ip_log")]
    pub show_ip_in_logs: bool,
}

/// One row of `GET /api/pricing` (Veloera's field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPricingRow {
    pub model_name: String,
    /// 0: billed by tokens (`model_ratio`), 1: a fixed price per call (`model_price`, USD).
    pub quota_type: i32,
    pub model_ratio: f64,
    pub model_price: f64,
    pub completion_ratio: f64,
    /// The groups whose channels serve the model.
    pub enable_groups: Vec<String>,
}

/// `GET /api/pricing`: Veloera puts the group ratios beside `data`, not inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricingReply {
    pub success: bool,
    #[serde(default)]
    pub message: String,
    pub data: Vec<ModelPricingRow>,
    /// Multiplier of each group the caller may use.
    pub group_ratio: std::collections::BTreeMap<String, f64>,
    /// Those groups with their descriptions.
    pub usable_group: std::collections::BTreeMap<String, String>,
}

/// One model of `GET /api/channel/models`, OpenAI's model-list shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub object: String,
    /// The channel type whose vendor publishes it, or `custom`.
    pub owned_by: String,
}

/// `POST /api/channel/fix`: enabled channels routable after the rebuild (`success`) and enabled channels left out
/// of routing because none of their keys may be used or decrypted (`fails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelFixResult {
    pub success: usize,
    pub fails: usize,
}

/// `GET /api/status`: what the UI needs before anyone signs in. Every field has a default so a UI keeps working
/// against a server that sends fewer (or more) of Veloera's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteStatus {
    #[serde(default)]
    pub system_name: String,
    /// URL of the site logo (option `Logo`); empty for none.
    #[serde(default)]
    pub logo: String,
    #[serde(default)]
    pub footer_html: String,
    #[serde(default)]
    pub version: String,
    /// Quota units per US dollar (`QuotaPerUnit`, 500 000 by default).
    #[serde(default = "default_quota_per_unit")]
    pub quota_per_unit: f64,
    /// `DisplayInCurrencyEnabled`: show quota as dollars (quota / `quota_per_unit`) instead of units.
    #[serde(default = "default_true")]
    pub display_in_currency: bool,
    /// False until an account exists: the UI sends everyone to the setup page.
    #[serde(default = "default_true")]
    pub setup: bool,
    #[serde(default)]
    pub email_verification: bool,
    #[serde(default)]
    pub github_oauth: bool,
    #[serde(default)]
    pub github_client_id: String,
    #[serde(default)]
    pub oidc_enabled: bool,
    #[serde(default)]
    pub oidc_client_id: String,
    #[serde(default)]
    pub oidc_authorization_endpoint: String,
    /// Prompts and answers are being recorded (`LogChatContentEnabled`): the UI warns its users.
    #[serde(default)]
    pub log_chat_content_enabled: bool,
    #[serde(default)]
    pub top_up_link: String,
    #[serde(default)]
    pub check_in_enabled: bool,
    /// The site's public address (`ServerAddress`), used in example calls; empty means the browser's origin.
    #[serde(default)]
    pub server_address: String,
}

fn default_quota_per_unit() -> f64 {
    500_000.0
}

fn default_true() -> bool {
    true
}

impl Default for SiteStatus {
    #[allow(
        clippy::expect_used,
        reason = "every field has a serde default; the unit test `site_status_defaults` would fail first"
    )]
    fn default() -> Self {
        serde_json::from_str("{}").expect("every SiteStatus field has a default")
    }
}

/// One key of a multi-key channel with its health (`GET /api/channel/{id}/keys`), the key itself masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelKey {
    /// Position in the channel's key list; what `PUT /api/channel/{id}/keys` names.
    pub slot: usize,
    pub key: String,
    /// 1 enabled, 2 disabled by an administrator, 3 disabled automatically.
    pub status: i64,
    pub status_reason: String,
    pub status_time: i64,
    pub last_error: String,
    pub last_error_time: i64,
    pub request_count: i64,
    pub error_count: i64,
}

/// `PUT /api/channel/{id}/keys` body: enables (1) or disables (2) the key at `slot` by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelKeyStatus {
    pub slot: usize,
    pub status: i64,
}
