//! Rocket 0.5 integration for [`matomo_core`]: track every request server-side in Matomo.
//!
//! This crate is a workspace member from the start so that its API grows against the core's; the
//! fairing, request guards and examples arrive with the `matomo-rocket` issue. Until then, a Rocket
//! application can use [`matomo_core`] directly, which this crate re-exports.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use matomo_core as core;
