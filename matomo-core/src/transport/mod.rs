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

/// The bulk request body: `{"requests": ["?...", ...], "token_auth": "..."}`.
pub(crate) fn bulk_body(hits: &[TrackingRequest], token: Option<&TokenAuth>) -> Vec<u8> {
    let requests: Vec<String> = hits
        .iter()
        .map(|hit| format!("?{}", hit.to_query()))
        .collect();
    let body = match token {
        Some(token) => serde_json::json!({"requests": requests, "token_auth": token.expose()}),
        None => serde_json::json!({ "requests": requests }),
    };
    body.to_string().into_bytes()
}

/// The form body of a single hit sent with a token: the query plus `token_auth`.
pub(crate) fn single_form_body(hit: &TrackingRequest, token: &TokenAuth) -> String {
    let mut body = hit.to_query();
    body.push_str("&token_auth=");
    body.extend(form_urlencoded::byte_serialize(token.expose().as_bytes()));
    body
}
