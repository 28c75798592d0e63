//! Admitting a request, the step every relayed route shares: authorize (from cache when warm), check the
//! prompt, take rate limits and the quota reservation, start metering. Chat routes then go on to `answer`.

use axum::response::Response;
use veloera_proto::v1::{DenialReason, EndpointKind};

use super::RelayState;
use super::request_id::RequestId;
use crate::auth::PresentedKey;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;
use crate::guard::AnswerCheck;
use crate::providers::{self, Format};
use crate::usage::{self, CostHint, Metering, RequestFacts};

/// An authorized request with its candidates and its metering started.
pub struct Admitted {
    pub auth: Authorized,
    pub meter: Metering,
    /// Reads the answer for blocked words, when answers are checked for this caller.
    pub answers: Option<AnswerCheck>,
}

/// What the request is, for authorization and its usage record.
pub struct Asking<'a> {
    pub key: &'a PresentedKey,
    pub model: &'a str,
    pub client_ip: &'a str,
    pub endpoint: EndpointKind,
    pub request_id: &'a RequestId,
    pub stream: bool,
    /// For the quota reserved before the upstream call.
    pub cost: CostHint,
    /// The client's body, for the blocked-word check and content logging (empty when it carries no prompt text).
    pub body: &'a [u8],
}

pub async fn admit(state: &RelayState, asking: Asking<'_>) -> Result<Admitted, RelayError> {
    try_admit(state, asking).await.inspect_err(|e| state.link.metrics.refused(e))
}

async fn try_admit(state: &RelayState, asking: Asking<'_>) -> Result<Admitted, RelayError> {
    super::request_id::record_model(asking.model);
    let ask = Ask {
        digest: asking.key.digest,
        session: asking.key.session.as_deref(),
        model: asking.model,
        client_ip: asking.client_ip,
        endpoint: asking.endpoint,
        pinned_channel: asking.key.pinned_channel,
        request_id: Some(asking.request_id.as_str()),
    };
    let auth = state.link.authorize(&ask).await?;
    let (false, Some(pricing)) = (auth.candidates().is_empty(), auth.pricing()) else {
        return Err(RelayError::Denied {
            reason: DenialReason::NoChannel,
            message: format!("no available channel for model {}", asking.model),
        });
    };
    // Before anything is reserved or sent: a refused prompt costs nothing.
    state.link.guard.check_prompt(&auth.caller.caller.group, asking.body, asking.request_id.as_str())?;
    let facts = RequestFacts {
        request_id: asking.request_id.as_str(),
        model: asking.model,
        client_ip: asking.client_ip,
        endpoint: asking.endpoint,
        stream: asking.stream,
    };
    // Rate limits come before quota: a refused request reserves nothing and is not billed.
    let limited = if state.limiter.applies(&auth.caller.caller) {
        state.limiter.admit(&auth.caller.caller, asking.model).await?
    } else {
        None
    };
    // The estimate is reserved before anything is sent; a request the balance cannot cover goes no further.
    let reservation = state
        .link
        .leases
        .reserve(&auth.caller.caller, usage::estimate(pricing, asking.cost), asking.request_id.as_str())
        .await?;
    let mut meter = Metering::start(state.outbox.clone(), auth.caller.clone(), *pricing, facts);
    meter.measured_by(state.link.metrics.clone());
    if let Some(recording) = state.link.content.record(asking.body) {
        meter.record_content(recording);
    }
    meter.reserved(reservation);
    if let Some(admission) = limited {
        meter.limited(admission);
    }
    meter.expect(asking.cost);
    let answers = state.link.guard.answer_check(&auth.caller.caller.group, asking.request_id.as_str());
    Ok(Admitted { auth, meter, answers })
}

/// An error in the shape `client`'s SDK parses, with the right status.
pub fn error_response(client: Format, error: RelayError) -> Response {
    error.respond_with(providers::error_body(client, &error))
}
