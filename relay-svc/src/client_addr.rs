//! The client's address behind reverse proxies. Behind a load balancer (docker-compose's HAProxy, a Hugging Face
//! Space's proxy) every connection comes from the proxy, so per-address limits, token IP allow-lists and logged
//! addresses would all see one address. With `TRUSTED_PROXY_HOPS=N` the relay takes the address the N-th proxy
//! from the right appended to `X-Forwarded-For` instead: entries further left were written by the client and
//! cannot be trusted. Only for deployments where the relay's port is reachable through those proxies alone.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// Replaces the connection's peer address, which every handler reads as `ConnectInfo`, with the client's.
pub async fn from_forwarded(hops: usize, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied()
        && let Some(client) = forwarded_client(request.headers(), hops)
    {
        request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    }
    next.run(request).await
}

/// The `hops`-th address from the right of every `X-Forwarded-For` line taken together; `None` (keep the peer)
/// when there are fewer entries than trusted proxies or that entry is not an address, so a request that did not
/// pass through them cannot choose its own address.
pub fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let entry = entries.len().checked_sub(hops).map(|i| entries[i])?;
    parse_entry(entry)
}

/// An address as proxies write it: bare, `[v6]`, `v4:port` or `[v6]:port`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).and_then(|e| e.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append("x-forwarded-for", line.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_entry_the_trusted_proxy_appended_wins_over_what_the_client_wrote() {
        let h = headers(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(forwarded_client(&h, 1), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(forwarded_client(&h, 2), Some("6.6.6.6".parse().unwrap()));
    }

    #[test]
    fn several_header_lines_count_as_one_list() {
        let h = headers(&["198.51.100.1", "10.0.0.2"]);
        assert_eq!(forwarded_client(&h, 1), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(forwarded_client(&h, 2), Some("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn too_few_entries_or_garbage_keep_the_peer() {
        assert_eq!(forwarded_client(&headers(&[]), 1), None);
        assert_eq!(forwarded_client(&headers(&["203.0.113.7"]), 2), None);
        assert_eq!(forwarded_client(&headers(&["not-an-address"]), 1), None);
        assert_eq!(forwarded_client(&headers(&["203.0.113.7"]), 0), None);
    }

    #[test]
    fn ports_and_brackets_are_understood() {
        assert_eq!(forwarded_client(&headers(&["203.0.113.7:5123"]), 1), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(forwarded_client(&headers(&["[2001:db8::1]:443"]), 1), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(forwarded_client(&headers(&["[2001:db8::1]"]), 1), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(forwarded_client(&headers(&["2001:db8::1"]), 1), Some("2001:db8::1".parse().unwrap()));
    }
}
