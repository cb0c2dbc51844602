//! Reading Matomo's answers (what each answer means is in the [`transport`](super) module docs).

use super::{Accepted, RejectReason, TransportError};
use serde::Deserialize;

/// The words of the notice `matomo.php` shows when called without a hit, and with a refused one
/// (HTTP 400): a tracker's fingerprint.
pub(crate) const TRACKER_FINGERPRINT: &str = "This resource is part of Matomo";

/// Whether a body is the tracker's own notice (so the URL does point at `matomo.php`).
///
/// ```
/// use matomo_core::looks_like_tracker;
/// assert!(looks_like_tracker(b"<html>This resource is part of Matomo. ... tracking API</html>"));
/// assert!(!looks_like_tracker(b"<html><title>Sign in - Matomo</title></html>"));
/// ```
pub fn looks_like_tracker(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    text.contains(TRACKER_FINGERPRINT) || text.contains("This resource is part of Piwik")
}

/// The JSON a bulk request answers with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BulkAnswer {
    /// `success` or `error`.
    pub status: String,
    /// Hits tracked.
    #[serde(default)]
    pub tracked: usize,
    /// Hits refused.
    #[serde(default)]
    pub invalid: usize,
    /// Which hits were refused; Matomo only says with a valid token.
    #[serde(default)]
    pub invalid_indices: Option<Vec<usize>>,
    /// An error message (`status: error`).
    #[serde(default)]
    pub message: Option<String>,
}

impl BulkAnswer {
    /// Parses a bulk answer body.
    ///
    /// ```
    /// use matomo_core::internals::BulkAnswer;
    /// let answer = BulkAnswer::parse(br#"{"status":"success","tracked":2,"invalid":1,"invalid_indices":[1]}"#).unwrap();
    /// assert_eq!((answer.tracked, answer.invalid), (2, 1));
    /// assert_eq!(answer.invalid_indices, Some(vec![1]));
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// The parts of an HTTP answer the readers look at.
pub(crate) struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub retry_after: Option<std::time::Duration>,
    pub body: &'a [u8],
}

impl Answer<'_> {
    fn is(&self, mime: &str) -> bool {
        self.content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(mime))
    }

    pub(crate) fn describe(&self) -> String {
        if self.is("text/html") {
            let title = crate::title::html_title(self.body);
            match title {
                Some(title) => format!("an HTML page titled \"{title}\""),
                None => "an HTML page".to_owned(),
            }
        } else {
            match self.content_type {
                Some(ct) => format!("{} bytes of {ct}", self.body.len()),
                None => format!("{} bytes", self.body.len()),
            }
        }
    }

    fn status_error(&self, endpoint: &str) -> TransportError {
        TransportError::Status {
            status: self.status,
            retry_after: self.retry_after,
            endpoint: endpoint.to_owned(),
        }
    }
}

/// Reads the answer to a single hit.
pub(crate) fn read_single(answer: &Answer<'_>, endpoint: &str) -> Result<Accepted, TransportError> {
    match answer.status {
        204 => Ok(Accepted::new(1)),
        200 if answer.is("image/gif") => Ok(Accepted::new(1)),
        200 if looks_like_tracker(answer.body) => Err(TransportError::Protocol {
            endpoint: endpoint.to_owned(),
            message: "the tracker answered with its notice page: the hit's parameters did not reach it (a proxy or redirect dropping the query?)".to_owned(),
        }),
        200..=299 => Err(not_matomo(answer, endpoint)),
        400 if looks_like_tracker(answer.body) => Err(TransportError::Rejected {
            tracked: 0,
            invalid: 1,
            indices: Some(vec![0]),
            reason: RejectReason::SiteIdOrToken,
        }),
        404 | 405 => Err(not_matomo(answer, endpoint)),
        300..=399 => Err(TransportError::NotMatomo {
            endpoint: endpoint.to_owned(),
            status: answer.status,
            what: "a redirect (write the final URL, e.g. https:// instead of http://)".to_owned(),
        }),
        _ => Err(answer.status_error(endpoint)),
    }
}

/// Reads the answer to a bulk of `sent` hits; `all_cip` tells whether every hit carried `cip`.
pub(crate) fn read_bulk(
    answer: &Answer<'_>,
    endpoint: &str,
    sent: usize,
    all_cip: bool,
) -> Result<Accepted, TransportError> {
    let parsed = BulkAnswer::parse(answer.body);
    let bulk = match (answer.status, parsed) {
        (_, Ok(bulk)) => bulk,
        (200..=299, Err(_)) if answer.is("text/html") || answer.body.is_empty() => {
            return Err(not_matomo(answer, endpoint))
        }
        (200..=299, Err(e)) => {
            return Err(TransportError::Protocol {
                endpoint: endpoint.to_owned(),
                message: format!("the bulk answer is not Matomo's JSON ({e})"),
            })
        }
        (404 | 405 | 300..=399, Err(_)) => return Err(not_matomo(answer, endpoint)),
        (_, Err(_)) => return Err(answer.status_error(endpoint)),
    };
    if bulk.status != "success" {
        if !(200..=299).contains(&answer.status) && answer.status != 400 {
            return Err(answer.status_error(endpoint));
        }
        return Err(TransportError::Rejected {
            tracked: bulk.tracked,
            invalid: sent.saturating_sub(bulk.tracked),
            indices: None,
            reason: RejectReason::Error(bulk.message.unwrap_or_else(|| bulk.status.clone())),
        });
    }
    if bulk.invalid > 0 {
        let reason = if bulk.tracked == 0 && bulk.invalid == sent && all_cip {
            RejectReason::LikelyBadToken
        } else if bulk.invalid_indices.is_some() {
            RejectReason::SiteIdOrToken
        } else {
            RejectReason::Unspecified
        };
        return Err(TransportError::Rejected {
            tracked: bulk.tracked,
            invalid: bulk.invalid,
            indices: bulk.invalid_indices,
            reason,
        });
    }
    if bulk.tracked != sent {
        return Err(TransportError::Protocol {
            endpoint: endpoint.to_owned(),
            message: format!(
                "Matomo counted {} of {sent} hits and called none invalid: it did not read the bulk body",
                bulk.tracked
            ),
        });
    }
    Ok(Accepted::new(bulk.tracked))
}

fn not_matomo(answer: &Answer<'_>, endpoint: &str) -> TransportError {
    TransportError::NotMatomo {
        endpoint: endpoint.to_owned(),
        status: answer.status,
        what: answer.describe(),
    }
}
