//! Usage settlement: what the relays report about finished requests (`UsageReport`), and the pure plan of what
//! one batch of them charges and logs (`plan`). The database side (`db::usage`) reads the few facts the plan
//! needs, then applies the plan and the health deltas (`health::assess`) in one transaction.

pub mod plan;

pub use plan::{Known, LeaseState, LogRow, LogSwitches, LogUser, SettleOptions, Settlement, Spend, UserCharge, plan};

/// One finished request as the relay reported it.
#[derive(Debug, Clone, Default)]
pub struct UsageReport {
    pub request_id: String,
    pub user_id: i64,
    pub token_id: i64,
    pub token_name: String,
    pub channel_id: i64,
    pub model: String,
    pub upstream_model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    /// Prompt tokens written to the upstream's prompt cache (billed at the cache-creation ratio).
    pub cache_creation_tokens: i64,
    /// Answers the request asked for (at least 1): a price per call is charged once per answer.
    pub answers: i64,
    pub latency_ms: i64,
    pub first_byte_ms: i64,
    pub stream: bool,
    /// How the request ended: it decides whether it is charged and which log row it gets.
    pub outcome: Outcome,
    pub group: String,
    pub client_ip: String,
    pub created_at_secs: i64,
    /// The key used on `channel_id`.
    pub key_slot: i32,
    /// Every attempt that failed, in order (the last one is the request's own failure when it failed).
    pub failed_attempts: Vec<FailedAttempt>,
    /// The quota lease the request was admitted against (its cost comes out of the lease); empty for none.
    pub lease_id: String,
    /// The prompt and answer, when the relay recorded them (`LogChatContentEnabled`).
    pub content: Option<ChatContent>,
}

/// How a reported request ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered: charged, with a consume log row.
    Answered,
    /// The client hung up: it still pays for what the upstream produced (as far as it was reported).
    Cancelled,
    /// The upstream failed: nothing is charged; an error log row when `LogErrorEnabled`.
    Failed,
    /// A relay that did not say (an older or broken sender): neither charged nor logged.
    #[default]
    Unknown,
}

impl Outcome {
    /// Whether the request is charged.
    pub fn is_billable(self) -> bool {
        matches!(self, Outcome::Answered | Outcome::Cancelled)
    }
}

/// What a request said and was answered, as the relay recorded it (already cut to `LogContentMaxBytes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatContent {
    pub prompt: String,
    pub answer: String,
}

/// One attempt that failed, as the relay reported it.
#[derive(Debug, Clone, Default)]
pub struct FailedAttempt {
    pub channel_id: i64,
    pub key_slot: i32,
    /// 0 when no answer came.
    pub status_code: i32,
    pub error: String,
    /// Where the relay placed the fault; `None` from a relay that did not say (health then classifies).
    pub fault: Option<veloera_proto::fault::Fault>,
}
