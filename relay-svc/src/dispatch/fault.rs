//! What went wrong with one upstream call, typed: no connection, a bound that ran out (and which), an error
//! status with the upstream's own code, an answer we could not read, a body or stream that broke off. Retry
//! (`failover::verdict`), health (the attempt sent to control) and the usage record decide on this, never on
//! message text.

/// Which time bound of an upstream call ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No response headers within the first-byte bound.
    Headers,
    /// Headers came, but no first event (streams) or whole body (JSON) within the bound.
    FirstByte,
}

/// One upstream call's failure, as decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamFault {
    /// No usable connection or request: refused, DNS, TLS, the proxy, a base URL that is no URI, a token
    /// that could not be had.
    Connect,
    /// A time bound ran out before the answer's first byte.
    Timeout(Phase),
    /// The upstream answered with this non-2xx status, naming `code` when its error body had one.
    Status { status: u16, code: Option<String> },
    /// An answer we cannot use: an empty body, a stream that began with an error event, a reply that is not
    /// the format it claims.
    Malformed,
    /// The body or stream broke off before it was complete.
    StreamCut,
}

impl UpstreamFault {
    /// The upstream's HTTP status, when it answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamFault::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The status as the gRPC contract's `Attempt.status_code` carries it: 0 there means no status came.
    pub fn wire_status(&self) -> u16 {
        self.status().unwrap_or(0)
    }

    /// The error code the upstream named, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            UpstreamFault::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_status_carries_a_status_and_code() {
        let limited = UpstreamFault::Status { status: 429, code: Some("rate_limit_exceeded".into()) };
        assert_eq!(
            (limited.status(), limited.code(), limited.wire_status()),
            (Some(429), Some("rate_limit_exceeded"), 429)
        );
        for fault in [UpstreamFault::Connect, UpstreamFault::Timeout(Phase::Headers), UpstreamFault::StreamCut] {
            assert_eq!((fault.status(), fault.code(), fault.wire_status()), (None, None, 0), "{fault:?}");
        }
    }
}
