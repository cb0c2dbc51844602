//! `TransportError`: why a delivery failed, in words an operator can act on. Never holds the token.

use std::time::Duration;

/// Which part of a delivery ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Opening the TCP connection.
    Connect,
    /// Waiting for Matomo's answer.
    Response,
}

/// Why Matomo refused hits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// A single hit got 400 with the tracker's notice: the site id is unknown, or the token is wrong
    /// or lacks write access (for `cip`, `cdt`, geo).
    SiteIdOrToken,
    /// Every hit of a bulk was invalid and every one carried `cip`: the token is most likely wrong.
    LikelyBadToken,
    /// Matomo counted invalid hits without saying which (bulk without a valid token): send with a
    /// token to learn which.
    Unspecified,
    /// Matomo reported an error for the bulk, with this message.
    Error(String),
}

/// Why a batch was not (wholly) delivered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The host name did not resolve.
    #[error("DNS: could not resolve `{host}`: {message}; {}", if *proxy {
        "it is the proxy's host: check the `proxy` setting or HTTPS_PROXY/HTTP_PROXY, and the DNS of this machine"
    } else {
        "check the host name in `url` and the DNS of this machine"
    })]
    Dns {
        /// The host that did not resolve.
        host: String,
        /// The resolver's words.
        message: String,
        /// Whether it is the proxy's host (hits go through a proxy, which resolves Matomo's).
        proxy: bool,
    },
    /// No TCP connection (refused, reset, unreachable, or the proxy failed).
    #[error("connect: {endpoint}: {message}")]
    Connect {
        /// Where the connection went (`host:port`).
        endpoint: String,
        /// Whether the peer actively refused (nothing listens on that port).
        refused: bool,
        /// What happened.
        message: String,
    },
    /// The TLS handshake failed (certificate not trusted, wrong host name, protocol mismatch).
    #[error(
        "TLS with {host}: {message}; if Matomo uses an internal CA, add it with `tls_ca_file`"
    )]
    Tls {
        /// The host.
        host: String,
        /// What the TLS library said.
        message: String,
    },
    /// A timeout ran out.
    #[error("timeout: no {} within {after:?} from {endpoint}", match phase { TimeoutPhase::Connect => "connection", TimeoutPhase::Response => "answer" })]
    Timeout {
        /// Which phase.
        phase: TimeoutPhase,
        /// The limit that ran out.
        after: Duration,
        /// The endpoint.
        endpoint: String,
    },
    /// Matomo (or something in front of it) answered with an HTTP error status.
    #[error("HTTP {status} from {endpoint}{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
        /// The endpoint.
        endpoint: String,
    },
    /// What answered is not Matomo's tracker (a login page, a 404, another application).
    #[error(
        "not a Matomo tracker at {endpoint} (HTTP {status}, {what}); {}",
        not_a_tracker_advice(endpoint)
    )]
    NotMatomo {
        /// The endpoint.
        endpoint: String,
        /// The status code.
        status: u16,
        /// What came back instead.
        what: String,
    },
    /// Matomo refused some or all hits. Hits it tracked are tracked: never resend the batch.
    #[error("Matomo rejected {invalid} hit(s) and tracked {tracked}: {}", describe(reason, indices.as_deref()))]
    Rejected {
        /// Hits tracked in the same batch.
        tracked: usize,
        /// Hits refused.
        invalid: usize,
        /// Which hits (0-based), when Matomo said.
        indices: Option<Vec<usize>>,
        /// Why, as far as can be told.
        reason: RejectReason,
    },
    /// Matomo's answer could not be read.
    #[error("unexpected answer from {endpoint}: {message}")]
    Protocol {
        /// The endpoint.
        endpoint: String,
        /// What was wrong.
        message: String,
    },
}

/// What to do when `endpoint` does not answer as Matomo's tracker: point `url` at the tracker,
/// or, when it does already, look at what serves that path.
fn not_a_tracker_advice(endpoint: &str) -> &'static str {
    let path = endpoint.split(" via the proxy ").next().unwrap_or(endpoint);
    if path.ends_with("/matomo.php") || path.ends_with("/piwik.php") {
        "the path is the tracker's, so the server there is not Matomo: check the host and port, and any web server or proxy rule in front of Matomo"
    } else {
        "`url` must point at the tracker, e.g. https://matomo.example.org/matomo.php"
    }
}

fn describe(reason: &RejectReason, indices: Option<&[usize]>) -> String {
    let which = indices
        .map(|i| format!(" (hits {i:?})"))
        .unwrap_or_default();
    let why = match reason {
        RejectReason::SiteIdOrToken => {
            "the site id is unknown to Matomo, or the token is wrong or lacks write access".to_owned()
        }
        RejectReason::LikelyBadToken => {
            "every hit carried cip and none was accepted: the token is most likely wrong or lacks write access".to_owned()
        }
        RejectReason::Unspecified => {
            "Matomo does not say which without a valid token; configure token_auth to find out".to_owned()
        }
        RejectReason::Error(message) => format!("Matomo said: {message}"),
    };
    format!("{why}{which}")
}

impl TransportError {
    /// Whether sending the same hits again later can succeed: network failures, timeouts, 408, 429
    /// and 5xx. Never for rejected hits, 4xx, TLS or a URL that is not Matomo.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Dns { .. }
            | TransportError::Connect { .. }
            | TransportError::Timeout { .. } => true,
            TransportError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..=599).contains(status)
            }
            TransportError::Tls { .. }
            | TransportError::NotMatomo { .. }
            | TransportError::Rejected { .. }
            | TransportError::Protocol { .. } => false,
        }
    }

    /// How long Matomo asked to wait (`Retry-After` on 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransportError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether Matomo may have received and tracked the hits although no answer came (a response
    /// timeout): resending them may count them twice.
    pub fn may_have_arrived(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout {
                phase: TimeoutPhase::Response,
                ..
            }
        )
    }
}

#[cfg(test)]
mod advice_tests {
    use super::not_a_tracker_advice;

    #[test]
    fn the_advice_for_a_wrong_answer_depends_on_whether_the_path_is_the_trackers() {
        for endpoint in [
            "https://m.example:443/matomo.php",
            "http://m.example:80/analytics/piwik.php via the proxy http://p:3128",
        ] {
            assert!(not_a_tracker_advice(endpoint).contains("the server there is not Matomo"));
        }
        for endpoint in ["https://m.example:443/index.php", "https://m.example:443/"] {
            assert!(not_a_tracker_advice(endpoint).contains("must point at the tracker"));
        }
    }
}
