//! Test kit (feature `test-util`): a Matomo stand-in and a recording transport.
//!
//! [`MockMatomo`] is a local HTTP server (wiremock) that answers exactly like a real Matomo 4
//! tracker (see `MATOMO_ANSWERS.md`), decodes every hit it receives for assertions, and produces
//! faults on demand. [`RecordingTransport`] keeps what it is asked to send, with scripted results.
//! [`CapturedLogs`] collects what `tracing` writes. [`judge_bulk`] is how the stand-in judges a
//! bulk request body, without the server. [`RecordingProxy`] is an HTTP proxy that records what it
//! is asked, for setups that reach Matomo through one. Every crate of this project tests against
//! these; use them to test your own integration too.

mod bulk;
mod logs;
mod matomo;
mod mock;
mod proxy;
mod recording;

pub use bulk::{judge_bulk, BulkJudgement};
pub use logs::CapturedLogs;
pub use matomo::{
    warnings, HitOutcome, ReceivedHit, Via, LOGIN_PAGE, TRACKER_NOTICE, TRANSPARENT_GIF,
};
pub use mock::{Fault, MockMatomo, MockMatomoBuilder};
pub use proxy::RecordingProxy;
pub use recording::RecordingTransport;
