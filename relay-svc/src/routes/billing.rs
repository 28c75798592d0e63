//! OpenAI's legacy billing endpoints, which old clients and dashboards still call:
//! `/dashboard/billing/subscription` and `/dashboard/billing/usage` (also under `/v1` and `/hf/v1`), answered
//! for the token, in US dollars, as Veloera answers them: the hard limit is what is left plus what was used,
//! and an unlimited token shows 100,000,000.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use veloera_proto::v1::EndpointKind;

use super::RelayState;
use super::inbound::Inbound;
use crate::auth;
use crate::control::Ask;
use crate::control::cache::CallerEntry;
use crate::error::RelayError;

const UNLIMITED_USD: f64 = 100_000_000.0;

async fn caller(state: &RelayState, inbound: &Inbound) -> Result<std::sync::Arc<CallerEntry>, RelayError> {
    let key = auth::from_headers(&inbound.headers)?;
    let ip = inbound.ip_text();
    let ask = Ask {
        digest: key.digest,
        session: None,
        model: "",
        client_ip: &ip,
        endpoint: EndpointKind::Models,
        pinned_channel: None,
        request_id: Some(inbound.request_id.as_str()),
    };
    Ok(state.link.authorize(&ask).await?.caller)
}

/// (used, left) in quota units, counting what this relay has spent since control's numbers were read.
fn used_and_left(entry: &CallerEntry) -> (i64, i64) {
    let spent = entry.spent.load(std::sync::atomic::Ordering::Relaxed);
    let c = &entry.caller;
    (c.token_used_quota + spent, c.token_remain_quota - spent)
}

fn usd(entry: &CallerEntry, quota: i64) -> f64 {
    quota as f64 / entry.caller.quota_per_unit.max(1) as f64
}

pub async fn subscription(State(state): State<RelayState>, inbound: Inbound) -> Result<Json<Value>, RelayError> {
    let entry = caller(&state, &inbound).await?;
    let (used, left) = used_and_left(&entry);
    let limit = if entry.caller.unlimited_quota { UNLIMITED_USD } else { usd(&entry, used + left.max(0)) };
    let expires = if entry.caller.expires_at == -1 { 0 } else { entry.caller.expires_at };
    Ok(Json(json!({
        "object": "billing_subscription",
        "has_payment_method": true,
        "soft_limit_usd": limit,
        "hard_limit_usd": limit,
        "system_hard_limit_usd": limit,
        "access_until": expires,
    })))
}

pub async fn usage(State(state): State<RelayState>, inbound: Inbound) -> Result<Json<Value>, RelayError> {
    let entry = caller(&state, &inbound).await?;
    let (used, _) = used_and_left(&entry);
    // OpenAI reports usage in cents.
    Ok(Json(json!({ "object": "list", "total_usage": usd(&entry, used) * 100.0 })))
}
