//! `/healthz` (the process answers) and `/readyz` (it can serve: the link to control, and Redis when
//! configured) on the public port, where platforms and load balancers probe. Readiness tells the truth during
//! an outage: a relay serving from its caches because control is away says so, and is still ready until its
//! grace runs out. Details stay generic, since anyone can reach the public port.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::RelayState;
use crate::control::cache::LinkState;

/// `GET /healthz`: always 200 while the process serves HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// One dependency's verdict.
enum Check {
    Ok,
    /// Serving, but not as usual.
    Degraded(String),
    /// Not serving what depends on it.
    Failing(String),
}

/// `GET /readyz`: 200 `ready` or `degraded`, 503 `unavailable` with the failing dependencies named.
pub async fn readyz(State(state): State<RelayState>) -> Response {
    let mut checks = vec![("control", control_check(state.link.cache.link_state()))];
    let (store, fail_open) = state.limiter.store_health().await;
    if let Some(answer) = store {
        checks.push(("redis", redis_check(answer, fail_open)));
    }
    report(&checks)
}

fn control_check(link: LinkState) -> Check {
    match link {
        LinkState::Connected => Check::Ok,
        LinkState::ServingFromCaches { away, left } => Check::Degraded(format!(
            "control is unreachable since {} s; serving from caches for {} s more",
            away.as_secs(),
            left.as_secs()
        )),
        LinkState::Lost { away } => Check::Failing(format!(
            "control is unreachable since {} s, longer than the caches may be used",
            away.as_secs()
        )),
        LinkState::NeverConnected => Check::Failing("not connected to control yet".into()),
    }
}

fn redis_check(answer: Result<(), String>, fail_open: bool) -> Check {
    match answer {
        Ok(()) => Check::Ok,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: Redis does not answer");
            if fail_open {
                Check::Degraded("Redis does not answer; requests are admitted without rate limits".into())
            } else {
                Check::Failing("Redis does not answer; rate-limited requests are refused".into())
            }
        }
    }
}

fn report(checks: &[(&str, Check)]) -> Response {
    let mut details = Map::new();
    let mut failing = Vec::new();
    let mut degraded = false;
    for (name, check) in checks {
        let detail = match check {
            Check::Ok => json!({ "status": "ok" }),
            Check::Degraded(why) => {
                degraded = true;
                json!({ "status": "degraded", "detail": why })
            }
            Check::Failing(why) => {
                failing.push(*name);
                json!({ "status": "failing", "detail": why })
            }
        };
        details.insert((*name).to_string(), detail);
    }
    if !failing.is_empty() {
        let body = json!({ "status": "unavailable", "failing": failing, "checks": details });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let status = if degraded { "degraded" } else { "ready" };
    Json(json!({ "status": status, "checks": details })).into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn body(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn serving_from_caches_is_ready_but_degraded() {
        let away = LinkState::ServingFromCaches { away: Duration::from_secs(5), left: Duration::from_secs(115) };
        let (status, v) = body(report(&[("control", control_check(away))])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["status"], "degraded");
        assert!(v["checks"]["control"]["detail"].as_str().unwrap().contains("serving from caches for 115 s"));
    }

    #[tokio::test]
    async fn a_lost_control_or_a_closed_redis_is_named_with_503() {
        let lost = control_check(LinkState::Lost { away: Duration::from_secs(300) });
        let redis = redis_check(Err("connection refused".into()), false);
        let (status, v) = body(report(&[("control", lost), ("redis", redis)])).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(v["failing"], json!(["control", "redis"]));
        assert!(!v.to_string().contains("connection refused"), "internals stay in the log: {v}");
    }

    #[tokio::test]
    async fn an_open_redis_outage_degrades_and_a_healthy_relay_is_ready() {
        let (status, v) = body(report(&[("redis", redis_check(Err("down".into()), true))])).await;
        assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("degraded")));
        let (status, v) = body(report(&[("control", Check::Ok)])).await;
        assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("ready")));
    }
}
