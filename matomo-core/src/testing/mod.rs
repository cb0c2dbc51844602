//! Test kit (feature `test-util`): a Matomo stand-in and a recording transport.
//!
//! [`MockMatomo`] is a local HTTP server (wiremock) that answers exactly like a real Matomo 4 or 5
//! `matomo.php` (as observed on 4.12.3 and 5.0.2), decodes every hit it receives for assertions,
//! and produces faults on demand:
//! - a valid hit: 204 with `send_image=0`, else the 43-byte GIF; a hit without `rec=1`: 204,
//!   nothing tracked;
//! - an unknown site id, or a hit that needs a token (`cip`, a `cdt` older than 24 hours, a
//!   location) without a valid one: 400 with the tracker's notice (`core/Tracker/Request.php`);
//! - no parameters: 200 with the notice; another path (`index.php`): 200 with a login page;
//! - a bulk POST: always 200 with `{"status":"success","tracked":N,"invalid":M}`, and
//!   `invalid_indices` only with a valid token; a body that is not JSON tracks nothing
//!   (`plugins/BulkTracking/Tracker/Requests.php` and `Response.php`).
//!
//! [`RecordingTransport`] keeps what it is asked to send, with scripted results.
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
