//! The proxy's single upstream, parsed once so each request only splices in its path and query.

use std::str::FromStr;

use hyper::Uri;
use hyper::http::uri::{Authority, PathAndQuery, Scheme};

/// An `http://host:port[/base]` upstream. Only plain HTTP: the yardstick never talks TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    authority: Authority,
    /// Prefix put before every request path, without a trailing slash; usually empty.
    base_path: String,
}

impl FromStr for Upstream {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let uri: Uri = text.parse().map_err(|e| format!("{e}"))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err("only http:// upstreams are supported".to_owned());
        }
        if uri.query().is_some() {
            return Err("an upstream cannot carry a query".to_owned());
        }
        let authority = uri.authority().ok_or("missing host")?.clone();
        Ok(Upstream { authority, base_path: uri.path().trim_end_matches('/').to_owned() })
    }
}

impl Upstream {
    /// The upstream URI for an inbound request's path and query.
    pub(super) fn uri_for(&self, path_and_query: Option<&PathAndQuery>) -> Result<Uri, hyper::http::Error> {
        let path_and_query = match (self.base_path.is_empty(), path_and_query) {
            (true, Some(pq)) => pq.clone(),
            (_, pq) => {
                let pq = pq.map_or("/", PathAndQuery::as_str);
                PathAndQuery::try_from(format!("{}{pq}", self.base_path))?
            }
        };
        Uri::builder().scheme(Scheme::HTTP).authority(self.authority.clone()).path_and_query(path_and_query).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_spliced_onto_the_upstream() {
        let upstream: Upstream = "http://127.0.0.1:9000".parse().unwrap();
        let pq = PathAndQuery::from_static("/v1/chat/completions?x=1");
        assert_eq!(upstream.uri_for(Some(&pq)).unwrap(), "http://127.0.0.1:9000/v1/chat/completions?x=1");
        let based: Upstream = "http://127.0.0.1:9000/openai/".parse().unwrap();
        assert_eq!(based.uri_for(Some(&pq)).unwrap(), "http://127.0.0.1:9000/openai/v1/chat/completions?x=1");
        assert_eq!(based.uri_for(None).unwrap(), "http://127.0.0.1:9000/openai/");
    }

    #[test]
    fn non_http_upstreams_are_rejected() {
        for bad in ["https://example.com", "127.0.0.1:9000", "http://h/x?q=1", "/path"] {
            assert!(bad.parse::<Upstream>().is_err(), "{bad} was accepted");
        }
    }
}
