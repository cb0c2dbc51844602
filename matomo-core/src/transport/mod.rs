//! Delivery to Matomo: the [`Transport`] trait, its errors, and how Matomo's answers are read.
//!
//! A transport sends a batch of hits: one as a single request (GET without a token, a form POST with
//! one, so the token never sits in a URL), several as one bulk POST
//! `{"requests": ["?idsite=...", ...], "token_auth": "..."}`. It reads the answer as a real Matomo
//! gives it (see the table below): a 200 is not proof of tracking, the bulk JSON says what was
//! tracked, an HTML page is either the tracker's own notice or not Matomo at all. Every failure is a
//! [`TransportError`] that knows whether retrying can help.
//!
//! How a real Matomo 4 and 5 `matomo.php` answers (observed on 4.12.3
//! and 5.0.2; the code is `core/Tracker/Response.php` and `plugins/BulkTracking/Tracker/Response.php`
//! in matomo-org/matomo):
//!
//! | request | answer |
//! |---|---|
//! | a valid single hit with `send_image=0` (GET or form POST) | 204, empty |
//! | a valid single hit without `send_image` | 200, a 43-byte `image/gif` |
//! | a hit without `rec=1` | 204, and nothing is tracked |
//! | a single hit with an unknown `idsite`, or one that needs a token (`cip`, a `cdt` older than a day) without a valid one | 400, the tracker's HTML notice ("This resource is part of Matomo ...") |
//! | `matomo.php` without parameters | 200, the same notice: the tracker's fingerprint |
//! | another page of the server (`index.php`) | 200, an HTML login or installer page: not a tracker |
//! | a bulk POST | 200, `{"status":"success","tracked":N,"invalid":M}`, with `invalid_indices` only when the token authenticates; a bad token or a body that is not JSON is no HTTP error |
//! | a bulk POST that failed in Matomo's database transaction | 500, possibly still with `tracked`: it was rolled back, so the whole bulk is sent again |
//!
//! So a 200 is no proof of tracking: the bulk JSON says what was tracked. A single hit's 400 is
//! permanent and never retried. Matomo gives no reason for a refusal: that is only in its own log.

mod answer;
mod connect;
mod error;
mod hyper_transport;

pub use answer::{looks_like_tracker, BulkAnswer};
pub use error::{RejectReason, TimeoutPhase, TransportError};
pub use hyper_transport::{HyperTransport, RawAnswer};

use crate::request::TrackingRequest;
use crate::secret::TokenAuth;
use async_trait::async_trait;

/// What Matomo confirmed for a batch that went through whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// Hits Matomo says it tracked.
    pub tracked: usize,
}

impl Accepted {
    /// `tracked` hits accepted.
    pub fn new(tracked: usize) -> Self {
        Self { tracked }
    }
}

/// Sends hits to Matomo. Implement it to deliver some other way (a queue, a test double).
///
/// ```
/// use async_trait::async_trait;
/// use matomo_core::{Accepted, TrackingRequest, Transport, TransportError};
///
/// /// Prints hits instead of sending them.
/// struct Print;
///
/// #[async_trait]
/// impl Transport for Print {
///     async fn send(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError> {
///         for hit in hits {
///             println!("?{}", hit.to_query());
///         }
///         Ok(Accepted::new(hits.len()))
///     }
/// }
/// ```
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends `hits` (one or more) and reports what Matomo made of them.
    async fn send(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn send(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError> {
        (**self).send(hits).await
    }
}

/// The bulk request body: `{"requests":["?...",...],"token_auth":"..."}`.
pub(crate) fn bulk_body(hits: &[TrackingRequest], token: Option<&TokenAuth>) -> Vec<u8> {
    let mut body = String::with_capacity(32 + hits.len() * 640);
    body.push_str(r#"{"requests":["#);
    for (i, hit) in hits.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        // A query is ASCII with `"`, `\` and every control byte percent-encoded, so it is a JSON
        // string as it stands (a test checks it against serde_json's reading).
        body.push_str("\"?");
        body.push_str(&hit.to_query());
        body.push('"');
    }
    body.push(']');
    if let Some(token) = token {
        body.push_str(r#","token_auth":"#);
        body.push_str(&serde_json::Value::from(token.expose()).to_string());
    }
    body.push('}');
    body.into_bytes()
}

/// The form body of a single hit sent with a token: the query plus `token_auth`.
pub(crate) fn single_form_body(hit: &TrackingRequest, token: &TokenAuth) -> String {
    let mut body = hit.to_query();
    body.push_str("&token_auth=");
    body.extend(form_urlencoded::byte_serialize(token.expose().as_bytes()));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the hits hold, the bulk body is JSON that reads back as their queries.
        #[test]
        fn the_bulk_body_is_json_of_the_queries(
            texts in proptest::collection::vec(("\\PC{0,40}", "[\\x00-\\x7f]{0,40}"), 1..4),
            token in proptest::option::of("[A-Za-z0-9_-]{1,40}"),
        ) {
            let hits: Vec<TrackingRequest> = texts
                .iter()
                .map(|(unicode, ascii)| {
                    TrackingRequest::builder(1)
                        .url(unicode.clone())
                        .action_name(ascii.clone())
                        .param("x\"\\", format!("{ascii}{unicode}"))
                        .build()
                        .unwrap()
                })
                .collect();
            let token = token.map(|t| TokenAuth::new(t).unwrap());
            let body: serde_json::Value = serde_json::from_slice(&bulk_body(&hits, token.as_ref())).unwrap();
            let queries: Vec<String> = hits.iter().map(|hit| format!("?{}", hit.to_query())).collect();
            prop_assert_eq!(&body["requests"], &serde_json::json!(queries));
            prop_assert_eq!(body.get("token_auth").and_then(|t| t.as_str()), token.as_ref().map(|t| t.expose()));
        }
    }
}
