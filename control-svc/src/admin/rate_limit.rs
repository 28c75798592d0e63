//! Per-client-address request limits on `/api` (Veloera's `GLOBAL_API_RATE_LIMIT` and the stricter "critical"
//! limit on sign-in, sign-up, OAuth, mail and setup), answered with 429, `Retry-After` and the envelope.
//!
//! The client address is the relay front door's `x-veloera-client-ip` (the front door replaces whatever a client
//! sent) and the TCP peer otherwise. Counting is governor's GCRA: `count` requests at once, then one more every
//! `period / count`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimit;
use crate::error::ControlError;

/// The header the relay's front door sets to the address its client connected from.
pub const CLIENT_IP_HEADER: &str = "x-veloera-client-ip";

/// The two limits of the admin API; a switched-off limit is `None`.
pub struct ApiLimits {
    global: Option<Limiter>,
    critical: Option<Limiter>,
}

impl ApiLimits {
    pub fn new(global: RateLimit, critical: RateLimit) -> Arc<Self> {
        Arc::new(ApiLimits { global: Limiter::new(global), critical: Limiter::new(critical) })
    }
}

struct Limiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
}

/// Forget addresses whose allowance has fully refilled this often (in checks), so the map stays small.
const PRUNE_EVERY: u64 = 4096;

impl Limiter {
    fn new(limit: RateLimit) -> Option<Limiter> {
        if !limit.enabled {
            return None;
        }
        let count = NonZeroU32::new(limit.count.max(1)).unwrap_or(NonZeroU32::MIN);
        let refill = (limit.period / count.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(refill)?.allow_burst(count);
        Some(Limiter {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        })
    }

    /// `Err(wait)` when `ip` has used its allowance.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Veloera's critical routes (path under `/api`): everything that signs in, signs up, sends mail or sets up.
fn is_critical(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => matches!(path, "/user/login" | "/user/register" | "/user/reset" | "/setup"),
        Method::GET => matches!(path, "/verification" | "/reset_password") || path.starts_with("/oauth/"),
        _ => false,
    }
}

/// The address limits are counted against.
fn client_ip(request: &Request) -> IpAddr {
    let forwarded = request.headers().get(CLIENT_IP_HEADER).and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let peer = || request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    forwarded.or_else(peer).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Middleware on `/api`: the global limit for every request, then the critical one for critical routes.
pub async fn enforce(State(limits): State<Arc<ApiLimits>>, request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    let path = request.uri().path();
    let path = path.strip_prefix("/api").filter(|p| p.starts_with('/')).unwrap_or(path);
    let critical = is_critical(request.method(), path);
    let verdict = limits.global.as_ref().map_or(Ok(()), |l| l.check(ip)).and_then(|()| match &limits.critical {
        Some(l) if critical => l.check(ip),
        _ => Ok(()),
    });
    match verdict {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many(wait),
    }
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response =
        ControlError::RateLimited(format!("too many requests from this address; try again in {seconds} s"))
            .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn the_allowance_is_per_address_and_the_wait_is_reported() {
        let limiter =
            Limiter::new(RateLimit { enabled: true, count: 3, period: Duration::from_secs(60) }).expect("enabled");
        for _ in 0..3 {
            assert!(limiter.check(ip(1)).is_ok());
        }
        let wait = limiter.check(ip(1)).unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limiter.check(ip(2)).is_ok());
    }

    #[test]
    fn a_switched_off_limit_has_no_limiter() {
        assert!(Limiter::new(RateLimit::OFF).is_none());
    }

    #[test]
    fn critical_routes_are_the_sign_in_sign_up_mail_and_setup_ones() {
        assert!(is_critical(&Method::POST, "/user/login"));
        assert!(is_critical(&Method::POST, "/setup"));
        assert!(is_critical(&Method::GET, "/oauth/github"));
        assert!(is_critical(&Method::GET, "/verification"));
        assert!(!is_critical(&Method::GET, "/setup"));
        assert!(!is_critical(&Method::GET, "/user/self"));
        assert!(!is_critical(&Method::GET, "/user/login"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let response = too_many(Duration::from_millis(1500));
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(too_many(Duration::ZERO).headers()[header::RETRY_AFTER], "1");
    }
}
