//! Delivery: the [`Tracker`] handle and its background dispatcher.
//!
//! The request path only decides and enqueues: [`Tracker::track_exchange`] and [`Tracker::track`]
//! return at once, never await and never block; a full queue drops the hit and counts it. A
//! background task builds the hits (identity, privacy, masks, title), batches them by size and by
//! delay, sends one hit as a single request and several as one bulk request, and retries with
//! exponential backoff and full jitter, honouring `Retry-After`. Hits Matomo refused are never sent
//! again; a batch that got no answer is (at least once). Batches go out one at a time, in order, so
//! each visitor's hits reach Matomo in the order they were tracked, retries included. While a batch
//! is on the wire, the next one (at most one batch in memory) is already being built. The
//! dispatcher takes every job queued at once each time it wakes.

mod backoff;
mod stats;
mod store;
mod worker;

pub use stats::{DropReason, Stats};

use crate::config::{ConfigError, TrackerConfig};
use crate::exchange::HttpExchange;
use crate::hit::{Extras, HitBuilder};
use crate::request::TrackingRequest;
use crate::rules::{decide, Decision, SkipReason};
use crate::transport::{HyperTransport, Transport};
use stats::Counters;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use worker::{Control, Job, Worker};

/// Why a tracker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The spool could not be opened.
    #[cfg(feature = "spool")]
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    /// There is no tokio runtime to run the dispatcher on.
    #[error("a Tracker needs a tokio runtime: create it inside one (e.g. in #[tokio::main] or Rocket's ignite)")]
    NoRuntime,
}

/// What became of a request or hit handed to the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// Queued for delivery.
    Queued,
    /// Not tracked, by rule.
    Skipped(SkipReason),
    /// Dropped before queueing.
    Dropped(DropReason),
}

/// What [`Tracker::flush`] and [`Tracker::shutdown`] report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Whether everything queued before the call was dealt with (delivered, rejected or dropped)
    /// within the timeout.
    pub completed: bool,
    /// Hits still queued or in delivery when the call returned.
    pub pending: u64,
    /// The counters when the call returned.
    pub stats: Stats,
}

/// A cheap, cloneable handle that tracks requests in Matomo from a background task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use matomo_core::testing::RecordingTransport;
/// use matomo_core::{HttpExchange, Tracker, TrackerConfig};
/// use std::time::Duration;
/// let transport = RecordingTransport::new();
/// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
/// let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
/// tracker.track_exchange(HttpExchange::builder("GET", "/").header("user-agent", "Firefox").build());
/// let report = tracker.shutdown(Duration::from_secs(5)).await;
/// assert!(report.completed);
/// assert_eq!(transport.hits().len(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: mpsc::Sender<Job>,
    control: mpsc::UnboundedSender<Control>,
    config: Arc<TrackerConfig>,
    counters: Arc<Counters>,
    closed: AtomicBool,
    warned: [AtomicU64; DropReason::ALL.len()],
    started: Instant,
    /// The same identity rules as the dispatcher's, for `visitor_id`.
    visitor: HitBuilder,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How often one kind of drop is logged at most.
const WARN_INTERVAL: Duration = Duration::from_secs(60);

impl Tracker {
    /// A tracker that sends over HTTP(S) with [`HyperTransport`]. Call it inside a tokio runtime.
    pub fn new(config: &TrackerConfig) -> Result<Self, TrackerError> {
        let transport = HyperTransport::new(config)?;
        Self::with_transport(config, transport)
    }

    /// A tracker that sends through `transport`. Call it inside a tokio runtime.
    pub fn with_transport(
        config: &TrackerConfig,
        transport: impl Transport,
    ) -> Result<Self, TrackerError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TrackerError::NoRuntime)?;
        let builder = HitBuilder::new(config)?;
        let visitor = builder.clone();
        let config = Arc::new(config.clone());
        let counters = Arc::new(Counters::default());
        let store = open_store(&config, &counters)?;
        let (jobs, jobs_rx) = mpsc::channel(config.queue_capacity);
        let (control, control_rx) = mpsc::unbounded_channel();
        let worker = Worker::new(
            builder,
            Arc::new(transport),
            Arc::clone(&config),
            Arc::clone(&counters),
            store,
            jobs_rx,
            control_rx,
        );
        let task = runtime.spawn(worker.run());
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                control,
                config,
                counters,
                closed: AtomicBool::new(false),
                warned: Default::default(),
                started: Instant::now(),
                visitor,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Decides whether `exchange` is tracked and, if so, queues it. Returns at once.
    pub fn track_exchange(&self, exchange: HttpExchange) -> Enqueued {
        self.decide_and_enqueue(exchange, None)
    }

    /// Like [`Tracker::track_exchange`], with dimensions and more hits for the same visitor (see
    /// [`Extras`]). When the rules skip the request, its extras are skipped too.
    pub fn track_exchange_with(&self, exchange: HttpExchange, extras: Extras) -> Enqueued {
        let extras = (!extras.is_empty()).then(|| Box::new(extras));
        self.decide_and_enqueue(exchange, extras)
    }

    fn decide_and_enqueue(&self, exchange: HttpExchange, extras: Option<Box<Extras>>) -> Enqueued {
        match decide(&self.inner.config, &exchange) {
            Decision::Skip(reason) => {
                self.inner.counters.skip(reason);
                Enqueued::Skipped(reason)
            }
            Decision::Track => self.enqueue(Job::Exchange(exchange, extras)),
        }
    }

    /// The visitor id hits of this exchange carry (from the `_pk_id` cookie, else derived).
    pub fn visitor_id(&self, exchange: &HttpExchange) -> crate::VisitorId {
        self.inner.visitor.visitor_id(exchange)
    }

    /// Queues a hit the application built (an event, a goal, ...). Returns at once.
    pub fn track(&self, request: TrackingRequest) -> Enqueued {
        if !self.inner.config.enabled {
            self.inner.counters.skip(SkipReason::Disabled);
            return Enqueued::Skipped(SkipReason::Disabled);
        }
        self.enqueue(Job::Request(Box::new(request)))
    }

    /// A tracker that tracks nothing (every call counts as skipped: disabled), for applications
    /// whose config says `enabled = false` but whose code still holds a `Tracker`. Call it inside a
    /// tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use matomo_core::{Enqueued, HttpExchange, SkipReason, Tracker};
    /// let tracker = Tracker::disabled().unwrap();
    /// let outcome = tracker.track_exchange(HttpExchange::builder("GET", "/").build());
    /// assert_eq!(outcome, Enqueued::Skipped(SkipReason::Disabled));
    /// # }
    /// ```
    pub fn disabled() -> Result<Self, TrackerError> {
        let mut config = TrackerConfig::new("http://disabled.invalid/matomo.php", 1)?;
        config.enabled = false;
        Self::with_transport(&config, Discard)
    }

    fn enqueue(&self, job: Job) -> Enqueued {
        let counters = &self.inner.counters;
        counters.tracked.fetch_add(1, Ordering::Relaxed);
        if self.inner.closed.load(Ordering::Acquire) {
            return self.dropped(DropReason::ShuttingDown);
        }
        counters.pending.fetch_add(1, Ordering::Relaxed);
        match self.inner.jobs.try_send(job) {
            Ok(()) => {
                counters.queued.fetch_add(1, Ordering::Relaxed);
                Enqueued::Queued
            }
            Err(error) => {
                counters.done(1);
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => DropReason::QueueFull,
                    mpsc::error::TrySendError::Closed(_) => DropReason::ShuttingDown,
                };
                self.dropped(reason)
            }
        }
    }

    fn dropped(&self, reason: DropReason) -> Enqueued {
        self.inner.counters.drop_hits(reason, 1);
        let now = self.inner.started.elapsed().as_millis() as u64 + 1;
        let last = &self.inner.warned[reason as usize];
        let previous = last.load(Ordering::Relaxed);
        if (previous == 0 || now.saturating_sub(previous) >= WARN_INTERVAL.as_millis() as u64)
            && last
                .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let total = self
                .inner
                .counters
                .snapshot()
                .dropped
                .get(&reason)
                .copied()
                .unwrap_or(0);
            tracing::warn!(reason = %reason, total, "matomo: dropping hits ({reason}); {total} dropped so far for this reason");
        }
        Enqueued::Dropped(reason)
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Delivers everything queued so far, waiting at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Report {
        let (done, wait) = oneshot::channel();
        let completed = self.inner.control.send(Control::Flush(done)).is_ok()
            && tokio::time::timeout(timeout, wait)
                .await
                .is_ok_and(|r| r.is_ok());
        self.report(completed)
    }

    /// Stops taking hits, delivers what is queued within `timeout`, and stops the dispatcher.
    /// Later calls to `track` count their hits as dropped (shutting down).
    pub async fn shutdown(&self, timeout: Duration) -> Report {
        self.inner.closed.store(true, Ordering::Release);
        let (done, wait) = oneshot::channel();
        let sent = self.inner.control.send(Control::Shutdown(done)).is_ok();
        let completed = sent
            && tokio::time::timeout(timeout, wait)
                .await
                .is_ok_and(|r| r.is_ok());
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            if !completed {
                task.abort();
                // Wait for the task to be gone, so its spool is closed when shutdown returns.
                let _ = task.await;
                let left = self.inner.counters.pending.swap(0, Ordering::Relaxed);
                self.inner
                    .counters
                    .drop_hits(DropReason::ShuttingDown, left);
            }
        }
        let report = self.report(completed);
        let dropped = report.stats.dropped_total();
        if dropped > 0 || !completed {
            tracing::warn!(
                sent = report.stats.sent,
                dropped,
                rejected = report.stats.rejected,
                "matomo: shut down; {} hits delivered, {dropped} dropped, {} rejected",
                report.stats.sent,
                report.stats.rejected
            );
        }
        report
    }

    fn report(&self, completed: bool) -> Report {
        let stats = self.stats();
        Report {
            completed,
            pending: stats.pending,
            stats,
        }
    }

    /// The config this tracker follows.
    pub fn config(&self) -> &TrackerConfig {
        &self.inner.config
    }
}

/// The transport of a disabled tracker: nothing ever reaches it.
struct Discard;

#[async_trait::async_trait]
impl Transport for Discard {
    async fn send(
        &self,
        hits: &[TrackingRequest],
    ) -> Result<crate::Accepted, crate::TransportError> {
        Ok(crate::Accepted::new(hits.len()))
    }
}

#[cfg(feature = "spool")]
fn open_store(config: &TrackerConfig, counters: &Counters) -> Result<store::Store, TrackerError> {
    let Some(spool) = &config.spool else {
        return Ok(store::Store::memory());
    };
    let (spool, report) = crate::spool::Spool::open(&spool.path, spool.max_bytes)?;
    if report.recovered > 0 {
        tracing::info!(
            hits = report.recovered,
            "matomo: delivering hits spooled by an earlier run first"
        );
    }
    counters
        .recovered
        .store(report.recovered as u64, Ordering::Relaxed);
    counters
        .pending
        .fetch_add(report.recovered as u64, Ordering::Relaxed);
    if report.moved_aside.is_some() {
        counters.drop_hits(DropReason::Corrupt, 1);
    }
    Ok(store::Store::disk(spool))
}

#[cfg(not(feature = "spool"))]
fn open_store(_config: &TrackerConfig, _counters: &Counters) -> Result<store::Store, TrackerError> {
    Ok(store::Store::memory())
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field(
                "url",
                &self.inner.config.url.as_ref().map(|url| url.as_str()),
            )
            .field("site_id", &self.inner.config.site_id)
            .field("stats", &self.stats())
            .finish()
    }
}
