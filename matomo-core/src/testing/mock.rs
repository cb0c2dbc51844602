//! `MockMatomo`: a local Matomo tracker stand-in on wiremock.

use super::bulk::judge_bulk;
use super::matomo::{
    judge, last_param, warnings, HitOutcome, ReceivedHit, Via, LOGIN_PAGE, TRACKER_NOTICE,
    TRANSPARENT_GIF,
};
use crate::config::TrackerConfig;
use crate::request::TrackingRequest;
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A fault the stand-in produces instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and an empty body; nothing is tracked.
    Status(u16),
    /// 429 Too Many Requests with `Retry-After: seconds`; nothing is tracked.
    RateLimited {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// 503 Service Unavailable with `Retry-After: seconds`; nothing is tracked.
    Unavailable {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// Accept the request and never answer (an hour); nothing is tracked.
    BlackHole,
    /// Track normally but answer only after this delay.
    Slow(Duration),
    /// Close the connection without an answer; nothing is tracked.
    Reset,
    /// Answer every path with the login page (a `url` that points at Matomo's UI, not the tracker).
    LoginPage,
}

struct State {
    keep_hits: bool,
    sites: BTreeSet<u32>,
    token: Option<String>,
    path: String,
    hits: Vec<ReceivedHit>,
    requests: usize,
    next: VecDeque<Fault>,
    always: Option<Fault>,
}

struct Shared {
    state: Mutex<State>,
    changed: Notify,
    events: broadcast::Sender<ReceivedHit>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide the stand-in's data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A local Matomo tracker that answers exactly like Matomo 4 and records what it receives.
///
/// - `matomo.php` (GET or form POST): 204 for a tracked hit with `send_image=0`, the 43-byte GIF
///   without it, 204 and nothing recorded without `rec=1`, 400 with the tracker's notice for an
///   unknown site id or a token-only parameter without a valid token, 200 with the notice when no
///   parameters come.
/// - Bulk POST: 200 with `{"status":"success","tracked":N,"invalid":M}`, plus `invalid_indices` only
///   when the token is valid; malformed JSON gets `tracked: 0, invalid: 0`; with `send_image` 0 in
///   the body, 204 without one. The body is read as [`judge_bulk`](super::judge_bulk) says.
/// - Any other path: 200 with a login page.
///
/// Memory grows with the requests it serves, even with [`MockMatomoBuilder::keep_hits`] off:
/// wiremock keeps a copy of every request a mock matches (its body included: ~20 KiB for a bulk
/// request of 50 hits), whether or not request recording is on. That is nothing for a test or a
/// diagnostic session; under the load benchmark's saturation it is about 15 MiB a second.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use matomo_core::testing::MockMatomo;
/// use matomo_core::{HyperTransport, TrackerConfig, TrackingRequest, Transport};
/// let matomo = MockMatomo::start().await;
/// let transport = HyperTransport::new(&matomo.config()).unwrap();
/// let hit = TrackingRequest::builder(1).url("https://example.org/").build().unwrap();
/// transport.send(&[hit.clone()]).await.unwrap();
/// assert_eq!(matomo.tracked(), vec![hit]);
/// # }
/// ```
pub struct MockMatomo {
    server: MockServer,
    shared: Arc<Shared>,
}

/// Configures a [`MockMatomo`] before it starts.
#[derive(Debug)]
#[must_use]
pub struct MockMatomoBuilder {
    keep_hits: bool,
    sites: BTreeSet<u32>,
    token: Option<String>,
    path: String,
    listener: Option<std::net::TcpListener>,
}

impl MockMatomo {
    /// A stand-in on a free port of 127.0.0.1 that knows site 1 and no token.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Configure sites, token, path and address first.
    pub fn builder() -> MockMatomoBuilder {
        MockMatomoBuilder {
            keep_hits: true,
            sites: BTreeSet::new(),
            token: None,
            path: "/matomo.php".to_owned(),
            listener: None,
        }
    }

    /// A config that sends to this stand-in for site 1, connecting directly (`proxy = "none"`),
    /// so a proxy set in the environment never carries test traffic.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use matomo_core::testing::MockMatomo;
    /// let matomo = MockMatomo::start().await;
    /// let config = matomo.config();
    /// assert_eq!(config.url.unwrap().as_str(), matomo.url());
    /// assert_eq!(config.proxy, Some(matomo_core::Proxy::Direct));
    /// # }
    /// ```
    pub fn config(&self) -> TrackerConfig {
        let mut config =
            TrackerConfig::new(self.url(), 1).expect("the stand-in's URL is an http:// URL");
        config.proxy = Some(crate::config::Proxy::Direct);
        config
    }

    /// The tracker URL, e.g. `http://127.0.0.1:41234/matomo.php`.
    pub fn url(&self) -> String {
        format!("{}{}", self.server.uri(), self.shared.lock().path)
    }

    /// The server's root, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// The site ids it knows.
    pub fn sites(&self) -> BTreeSet<u32> {
        self.shared.lock().sites.clone()
    }

    /// Every hit received so far, tracked or not, in arrival order.
    pub fn hits(&self) -> Vec<ReceivedHit> {
        self.shared.lock().hits.clone()
    }

    /// The hits tracked so far, decoded.
    pub fn tracked(&self) -> Vec<TrackingRequest> {
        self.shared
            .lock()
            .hits
            .iter()
            .filter(|h| h.outcome == HitOutcome::Tracked)
            .filter_map(|h| h.request.clone().ok())
            .collect()
    }

    /// How many HTTP requests arrived (a bulk counts once).
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests
    }

    /// Waits until at least `count` hits are tracked, or `timeout` passes; returns the tracked hits.
    pub async fn wait_for_tracked(&self, count: usize, timeout: Duration) -> Vec<TrackingRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            let tracked = self.tracked();
            if tracked.len() >= count {
                return tracked;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.tracked();
            }
        }
    }

    /// Receives each hit as it arrives (for printing them live).
    pub fn subscribe(&self) -> broadcast::Receiver<ReceivedHit> {
        self.shared.events.subscribe()
    }

    /// What real Matomo would refuse or misread in `hit`, in plain words.
    pub fn warnings(&self, hit: &ReceivedHit) -> Vec<String> {
        warnings(hit, &self.shared.lock().sites)
    }

    /// The next `count` requests get `fault`, then answers return to normal.
    pub fn fail_next(&self, count: usize, fault: Fault) {
        let mut state = self.shared.lock();
        state.next.extend(std::iter::repeat_n(fault, count));
    }

    /// Every request gets `fault` until [`MockMatomo::heal`].
    pub fn fail_always(&self, fault: Fault) {
        self.shared.lock().always = Some(fault);
    }

    /// Ends every fault.
    pub fn heal(&self) {
        let mut state = self.shared.lock();
        state.always = None;
        state.next.clear();
    }

    /// Forgets the hits received so far.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.hits.clear();
        state.requests = 0;
    }
}

impl std::fmt::Debug for MockMatomo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockMatomo")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl MockMatomoBuilder {
    /// Adds a known site id (without any, site 1 is known).
    pub fn site(mut self, site_id: u32) -> Self {
        self.sites.insert(site_id);
        self
    }

    /// The token Matomo accepts (without one, every token is wrong).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The tracker's path (default `/matomo.php`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Whether received hits are kept for [`MockMatomo::hits`] (default `true`). Off for long load
    /// runs, where only the answers and the request count matter.
    pub fn keep_hits(mut self, keep: bool) -> Self {
        self.keep_hits = keep;
        self
    }

    /// Serve on this listener (e.g. a fixed port) instead of a free port of 127.0.0.1.
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Starts the server.
    pub async fn start(self) -> MockMatomo {
        let sites = if self.sites.is_empty() {
            BTreeSet::from([1])
        } else {
            self.sites
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                keep_hits: self.keep_hits,
                sites,
                token: self.token,
                path: self.path,
                hits: Vec::new(),
                requests: 0,
                next: VecDeque::new(),
                always: None,
            }),
            changed: Notify::new(),
            events: broadcast::channel(1024).0,
        });
        // Hits are kept (or not) by the stand-in itself: no second list of every request. (The
        // matched mock still keeps its copy of each; see the type's documentation.)
        let mut builder = MockServer::builder().disable_request_recording();
        if let Some(listener) = self.listener {
            builder = builder.listener(listener);
        }
        let server = builder.start().await;
        let responder = Responder(Arc::clone(&shared));
        let resetter = Resetter(Arc::clone(&shared));
        Mock::given(ResetMatcher(Arc::clone(&shared)))
            .respond_with_err(move |request: &Request| resetter.reset(request))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(wiremock::matchers::any())
            .respond_with(responder)
            .with_priority(2)
            .mount(&server)
            .await;
        MockMatomo { server, shared }
    }
}

/// Matches the requests that must be answered with a closed connection.
struct ResetMatcher(Arc<Shared>);

impl wiremock::Match for ResetMatcher {
    fn matches(&self, _request: &Request) -> bool {
        let state = self.0.lock();
        state.next.front() == Some(&Fault::Reset)
            || (state.next.is_empty() && state.always == Some(Fault::Reset))
    }
}

struct Resetter(Arc<Shared>);

impl Resetter {
    fn reset(&self, _request: &Request) -> std::io::Error {
        let mut state = self.0.lock();
        state.requests += 1;
        if state.next.front() == Some(&Fault::Reset) {
            state.next.pop_front();
        }
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: reset")
    }
}

struct Responder(Arc<Shared>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (template, received) = {
            let mut state = self.0.lock();
            state.requests += 1;
            let fault = state.next.pop_front().or_else(|| state.always.clone());
            let keep = state.keep_hits || self.0.events.receiver_count() > 0;
            answer(&mut state, request, fault, keep)
        };
        if self.0.events.receiver_count() > 0 {
            for hit in received {
                // A receiver that went away in between is fine.
                let _ = self.0.events.send(hit);
            }
        }
        self.0.changed.notify_waiters();
        template
    }
}

fn html(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "text/html; charset=utf-8")
}

/// The stand-in's answer to `request`, and the hits it received (only when `keep`: someone keeps
/// or watches them).
fn answer(
    state: &mut State,
    request: &Request,
    fault: Option<Fault>,
    keep: bool,
) -> (ResponseTemplate, Vec<ReceivedHit>) {
    let mut delay = None;
    match fault {
        None | Some(Fault::Reset) => {}
        Some(Fault::Status(status)) => return (ResponseTemplate::new(status), Vec::new()),
        Some(Fault::RateLimited { retry_after }) => {
            return (
                ResponseTemplate::new(429)
                    .insert_header("retry-after", retry_after.to_string().as_str()),
                Vec::new(),
            )
        }
        Some(Fault::Unavailable { retry_after }) => {
            return (
                ResponseTemplate::new(503)
                    .insert_header("retry-after", retry_after.to_string().as_str()),
                Vec::new(),
            )
        }
        Some(Fault::BlackHole) => {
            return (
                ResponseTemplate::new(204).set_delay(Duration::from_secs(3600)),
                Vec::new(),
            )
        }
        Some(Fault::LoginPage) => return (html(200, LOGIN_PAGE), Vec::new()),
        Some(Fault::Slow(after)) => delay = Some(after),
    }
    let (template, received) = if request.url.path() != state.path {
        (html(200, LOGIN_PAGE), Vec::new())
    } else {
        tracker(state, request, keep)
    };
    if state.keep_hits {
        state.hits.extend(received.iter().cloned());
    }
    match delay {
        Some(after) => (template.set_delay(after), received),
        None => (template, received),
    }
}

fn tracker(state: &State, request: &Request, keep: bool) -> (ResponseTemplate, Vec<ReceivedHit>) {
    let valid_token = state.token.as_deref();
    let is_json = request.body.first() == Some(&b'{')
        || request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
    if request.method.as_str() == "POST" && is_json {
        return bulk(state, request, valid_token, keep);
    }
    let mut params: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let via = if request.method.as_str() == "POST" {
        params.extend(
            form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
        Via::Post
    } else {
        Via::Get
    };
    if params.is_empty() {
        return (html(200, TRACKER_NOTICE), Vec::new());
    }
    let hit = judge(
        via,
        &params,
        true,
        last_param(&params, "token_auth"),
        valid_token,
        &state.sites,
        std::time::SystemTime::now(),
    );
    let template = match hit.outcome {
        HitOutcome::Tracked | HitOutcome::NotRecorded => {
            if hit.param("send_image") == Some("0") || hit.outcome == HitOutcome::NotRecorded {
                ResponseTemplate::new(204)
            } else {
                ResponseTemplate::new(200).set_body_raw(TRANSPARENT_GIF.to_vec(), "image/gif")
            }
        }
        _ => html(400, TRACKER_NOTICE),
    };
    (template, if keep { vec![hit] } else { Vec::new() })
}

fn bulk(
    state: &State,
    request: &Request,
    valid_token: Option<&str>,
    keep: bool,
) -> (ResponseTemplate, Vec<ReceivedHit>) {
    let judged = judge_bulk(
        &request.body,
        &state.sites,
        valid_token,
        keep,
        std::time::SystemTime::now(),
    );
    let template = if judged.answered {
        bulk_json(judged.answer)
    } else {
        ResponseTemplate::new(204)
    };
    (template, judged.hits)
}

fn bulk_json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        body.to_string().into_bytes(),
        "application/json; charset=utf-8",
    )
}
