//! The one HTTP client for requests to addresses users choose (webhooks). It refuses every address that is not
//! plainly on the public internet: loopback, private, link-local, CGNAT, multicast, unspecified, reserved and
//! cloud-metadata addresses. The check is made on the address the name RESOLVES to (a custom DNS resolver, so a
//! public name pointing at 10.0.0.1 is refused too) and again on every redirect, so a user cannot aim it at the
//! gateway's own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::ControlError;

/// Redirects followed at most (each target checked like the first).
const MAX_REDIRECTS: usize = 3;

/// Which addresses the client may reach besides public ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Test-only: loopback (127.0.0.0/8, ::1) is allowed, so tests can run a local receiver. Never set outside
    /// tests (`Config::from_env` leaves it off); everything else stays refused.
    pub allow_loopback: bool,
}

impl EgressPolicy {
    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        match classify(ip) {
            Some("loopback") if self.allow_loopback => None,
            other => other,
        }
    }

    /// Checks a URL before it is requested (or followed): http(s) only, and a literal IP host must be allowed
    /// (a name is checked when it is resolved).
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("only http and https URLs may be called, not {}:", url.scheme()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(name)) => {
                // `localhost` never reaches the resolver's check in some stacks; say no up front.
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if (name == "localhost" || name.ends_with(".localhost")) && !self.allow_loopback {
                    return Err("the address is a loopback address".into());
                }
                return Ok(());
            }
            None => return Err("the URL has no host".into()),
        };
        match self.refusal(ip) {
            Some(kind) => Err(format!("the address is a {kind} address")),
            None => Ok(()),
        }
    }
}

/// The kind of a non-public address, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => "reserved",
        // Azure's wire server and metadata endpoint sits on a public address.
        _ if ip == Ipv4Addr::new(168, 63, 129, 16) => "cloud-metadata",
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4 carried in IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) reaches the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(match s[0] {
        x if x & 0xff00 == 0xff00 => "multicast",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "private (site-local)",
        // Unique local addresses, AWS's IPv6 metadata endpoint (fd00:ec2::254) among them.
        x if x & 0xfe00 == 0xfc00 => "private",
        0x2001 if s[1] == 0x0db8 => "reserved",
        // The rest of ::/8 (IPv4-compatible and other deprecated forms).
        x if x & 0xff00 == 0 => "reserved",
        _ => return None,
    })
}

/// Resolves with the system resolver, then keeps only allowed addresses; a name with none left is refused.
struct CheckedResolver {
    policy: EgressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.refusal(a.ip()).is_none()).collect();
            if allowed.is_empty() {
                let kind = found.first().and_then(|a| policy.refusal(a.ip())).unwrap_or("unresolvable");
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to a {kind} address, which may not be called").into();
                return Err(refused);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The client for user-chosen URLs, and the policy it enforces.
#[derive(Clone)]
pub struct EgressClient {
    client: reqwest::Client,
    policy: EgressPolicy,
}

impl EgressClient {
    pub fn new(policy: EgressPolicy) -> Result<Self, ControlError> {
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(format!("redirect refused: {why}")),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { policy }))
            .redirect(redirects)
            // A proxy would resolve the name itself, past the check.
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("Veloera-Webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ControlError::Internal(format!("cannot build the webhook client: {e}")))?;
        Ok(EgressClient { client, policy })
    }

    pub fn policy(&self) -> EgressPolicy {
        self.policy
    }

    /// Posts a JSON body to `url` with extra headers, after checking the URL itself.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, EgressError> {
        let parsed = url::Url::parse(url).map_err(|e| EgressError::Refused(format!("not a URL: {e}")))?;
        self.policy.check_url(&parsed).map_err(EgressError::Refused)?;
        let mut request = self.client.post(parsed).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.map_err(|e| {
            // The resolver's and the redirect policy's refusals come back wrapped; find them in the chain.
            let text = error_chain(&e);
            if text.contains("may not be called") || text.contains("redirect refused") {
                EgressError::Refused(text)
            } else {
                EgressError::Failed(text)
            }
        })
    }
}

/// Why a request was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressError {
    /// The policy refused the address: retrying cannot help.
    Refused(String),
    /// Connecting, sending or waiting failed.
    Failed(String),
}

impl std::fmt::Display for EgressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EgressError::Refused(why) => write!(f, "refused: {why}"),
            EgressError::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// An error with its sources, as one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<&'static str> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn private_and_special_ipv4_addresses_are_classified() {
        for (ip, kind) in [
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.100.100.200", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("168.63.129.16", "cloud-metadata"),
            ("198.18.0.1", "reserved"),
        ] {
            assert_eq!(v4(ip), Some(kind), "{ip}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "169.253.1.1"] {
            assert_eq!(v4(public), None, "{public}");
        }
    }

    #[test]
    fn private_and_special_ipv6_addresses_are_classified_with_embedded_ipv4() {
        for (ip, kind) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fc00::1", "private"),
            ("fd00:ec2::254", "private"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("::127.0.0.1", "reserved"),
            ("2001:db8::1", "reserved"),
        ] {
            assert_eq!(v4(ip), Some(kind), "{ip}");
        }
        assert_eq!(v4("2606:4700:4700::1111"), None);
        assert_eq!(v4("::ffff:8.8.8.8"), None);
    }

    #[test]
    fn loopback_is_allowed_only_by_the_test_setting_and_nothing_else_is() {
        let strict = EgressPolicy::default();
        let testing = EgressPolicy { allow_loopback: true };
        assert!(strict.refusal("127.0.0.1".parse().unwrap()).is_some());
        assert!(testing.refusal("127.0.0.1".parse().unwrap()).is_none());
        assert!(testing.refusal("::1".parse().unwrap()).is_none());
        assert!(testing.refusal("10.0.0.1".parse().unwrap()).is_some());
        assert!(testing.refusal("169.254.169.254".parse().unwrap()).is_some());
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        let p = EgressPolicy::default();
        let check = |u: &str| p.check_url(&url::Url::parse(u).unwrap());
        assert!(check("https://hooks.example.com/x").is_ok());
        assert!(check("ftp://hooks.example.com/x").unwrap_err().contains("http"));
        assert!(check("http://169.254.169.254/latest/meta-data").unwrap_err().contains("link-local"));
        assert!(check("http://[::ffff:7f00:1]/").unwrap_err().contains("loopback"));
        assert!(check("http://localhost:8080/").unwrap_err().contains("loopback"));
        // Decimal and hex spellings of 127.0.0.1 are normalised by the URL parser.
        assert!(check("http://2130706433/").unwrap_err().contains("loopback"));
        assert!(check("http://0x7f.1/").unwrap_err().contains("loopback"));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        let client = EgressClient::new(EgressPolicy::default()).unwrap();
        // The resolver refuses on its own, without the URL check's `localhost` shortcut.
        let resolver = CheckedResolver { policy: EgressPolicy::default() };
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved to an allowed address"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("may not be called"), "{err}");
        let refused = client.post_json("http://127.0.0.1:9/", &[], b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(refused, EgressError::Refused(_)), "{refused:?}");
    }
}
