//! Server-side Matomo tracking, framework-free.
//!
//! `matomo-core` models the [Matomo Tracking HTTP API](https://developer.matomo.org/api-reference/tracking-api)
//! and everything between a served request and a hit in Matomo:
//!
//! | item | what it is |
//! |---|---|
//! | [`TrackerConfig`] | every setting with its default; the Django seed's keys unchanged |
//! | [`TokenAuth`], [`Salt`] | secrets, printed as `***` |
//! | [`TrackingRequest`] | one typed hit, every parameter family; encode and decode |
//! | [`HttpExchange`] | the framework-neutral view of a served request |
//! | [`decide`] | track or skip, and why ([`SkipReason`]) |
//! | [`visitor_id_from_cookies`], [`client_ip`] | who the visitor is: Matomo's cookie, the IP behind trusted proxies |
//! | [`anonymize_ip`], [`UrlMask`], [`redact_query`] | privacy |
//! | [`HitBuilder`] | exchange + config → hit |
//! | [`Transport`], [`HyperTransport`] | delivery to Matomo, and how Matomo's answers are read |
//! | [`Tracker`] | the queue, batching, retries, flush and shutdown, [`Stats`] |
//! | [`testing`] | `MockMatomo` and `RecordingTransport` (feature `test-util`) |
//!
//! # From a served request to Matomo
//!
//! ```
//! use matomo_core::{decide, Decision, HitBuilder, HttpExchange, TrackerConfig};
//!
//! let config = TrackerConfig::from_toml_str(r#"
//!     url = "https://matomo.example.org/matomo.php"
//!     site_id = 1
//!     ignore_paths = ["/health"]
//! "#).unwrap();
//! let exchange = HttpExchange::builder("GET", "/blog/hello?utm_source=feed")
//!     .header("host", "example.org")
//!     .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
//!     .header("referer", "https://search.example/")
//!     .status(200)
//!     .build();
//! assert_eq!(decide(&config, &exchange), Decision::Track);
//! let hit = HitBuilder::new(&config).unwrap().build(&exchange).unwrap();
//! assert_eq!(hit.url(), Some("http://example.org/blog/hello?utm_source=feed"));
//! assert_eq!(hit.referrer(), Some("https://search.example/"));
//! // A transport sends it: `HyperTransport::new(&config)?.send(&[hit]).await`.
//! ```
//!
//! # Features
//! - `spool`: [`spool::Spool`], a durable on-disk queue (redb) so a crash or a long outage loses
//!   nothing; turn it on with the `spool` config key.
//! - `tower`: [`tower::TrackingLayer`], tracking for any tower service (hyper, axum, tonic) in
//!   one line.
//! - `test-util`: [`testing::MockMatomo`], a local stand-in that answers exactly like Matomo and
//!   decodes what it receives, and [`testing::RecordingTransport`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod dispatch;
mod exchange;
mod hit;
mod identity;
mod privacy;
mod request;
mod rules;
mod secret;
#[cfg(feature = "spool")]
pub mod spool;
#[cfg(feature = "test-util")]
pub mod testing;
mod title;
#[cfg(feature = "tower")]
pub mod tower;
mod transport;
mod unix_time;
mod visitor;

pub use config::{
    BotPolicy, ConfigError, PathPattern, Proxy, SpoolConfig, TrackerConfig, DEFAULT_REDACTED_PARAMS,
};
pub use dispatch::{DropReason, Enqueued, Report, Stats, Tracker, TrackerError};
pub use exchange::{ExchangeBuilder, Field, HttpExchange, Scheme};
pub use hit::{Extras, HitBuilder};
pub use identity::{client_ip, visitor_cookie, visitor_id_from_cookies};
pub use privacy::{anonymize_ip, mask_path, redact_query, UrlMask, REDACTED};
pub use request::{
    Action, BuildError, CartUpdate, Content, DecodeError, EcommerceItem, EcommerceOrder, Event,
    Geo, Goal, Performance, ProductView, RequestBuilder, SiteSearch, TrackingRequest,
    CDT_WITHOUT_TOKEN_MAX_AGE,
};
pub use rules::{decide, is_bot, is_html, Decision, SkipReason};
pub use secret::{Salt, TokenAuth, TokenError};
pub use title::html_title;
pub use transport::{
    looks_like_tracker, Accepted, HyperTransport, RawAnswer, RejectReason, TimeoutPhase, Transport,
    TransportError,
};
pub use visitor::{InvalidVisitorId, VisitorId};

/// The README's example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Entry points for this workspace's benches, fuzz targets and tests into internals: not part of
/// the public API, and may change in any release.
#[doc(hidden)]
pub mod internals {
    use crate::request::TrackingRequest;
    pub use crate::transport::BulkAnswer;

    /// The bulk request body the transport posts for `hits`, without a token.
    pub fn bulk_body(hits: &[TrackingRequest]) -> Vec<u8> {
        crate::transport::bulk_body(hits, None)
    }

    /// One spool record: when the hit was tracked (Unix milliseconds) and the hit.
    #[cfg(feature = "spool")]
    pub fn spool_record(tracked_at: u64, hit: &TrackingRequest) -> Vec<u8> {
        crate::spool::encode(tracked_at, hit)
    }

    /// A spool record read back, or `None` when it is corrupt.
    #[cfg(feature = "spool")]
    pub fn read_spool_record(record: &[u8]) -> Option<(u64, TrackingRequest)> {
        crate::spool::decode(record)
    }
}
