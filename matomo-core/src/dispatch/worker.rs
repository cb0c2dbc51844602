//! The background dispatcher: builds, batches, sends and retries.

use super::backoff;
use super::stats::{Counters, DropReason};
use crate::config::TrackerConfig;
use crate::exchange::HttpExchange;
use crate::hit::HitBuilder;
use crate::request::TrackingRequest;
use crate::transport::{Transport, TransportError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

// The exchange is the hot path: kept inline to save an allocation per served request; hits built
// by the application are rare and boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    Exchange(HttpExchange),
    Request(Box<TrackingRequest>),
}

pub(crate) enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// A built hit waiting for delivery.
struct Pending {
    hit: TrackingRequest,
    /// Unix milliseconds when it was tracked.
    tracked_at: u64,
}

pub(crate) struct Worker {
    builder: HitBuilder,
    transport: Arc<dyn Transport>,
    config: Arc<TrackerConfig>,
    counters: Arc<Counters>,
    pending: VecDeque<Pending>,
    /// When the oldest pending hit arrived (for the batch delay).
    first_pending: Option<Instant>,
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Worker {
    pub fn new(
        builder: HitBuilder,
        transport: Arc<dyn Transport>,
        config: Arc<TrackerConfig>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            builder,
            transport,
            config,
            counters,
            pending: VecDeque::new(),
            first_pending: None,
        }
    }

    pub async fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut jobs_open = true;
        let mut control_open = true;
        loop {
            if !jobs_open && self.pending.is_empty() {
                break;
            }
            let deadline = self
                .first_pending
                .map(|first| first + self.config.batch_delay);
            let full = self.pending.len() >= self.config.batch_size;
            if full || (!jobs_open && !self.pending.is_empty()) {
                self.send_one_batch().await;
                continue;
            }
            tokio::select! {
                biased;
                command = control.recv(), if control_open => match command {
                    Some(Control::Flush(done)) => {
                        self.drain(&mut jobs);
                        self.send_everything().await;
                        let _ = done.send(());
                    }
                    Some(Control::Shutdown(done)) => {
                        jobs.close();
                        self.drain(&mut jobs);
                        self.send_everything().await;
                        let _ = done.send(());
                        return;
                    }
                    None => control_open = false,
                },
                job = jobs.recv(), if jobs_open => match job {
                    Some(job) => self.accept(job),
                    None => jobs_open = false,
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.send_one_batch().await;
                }
            }
        }
    }

    /// Takes every job already queued.
    fn drain(&mut self, jobs: &mut mpsc::Receiver<Job>) {
        while let Ok(job) = jobs.try_recv() {
            self.accept(job);
        }
    }

    fn accept(&mut self, job: Job) {
        let (built, tracked_at) = match job {
            Job::Exchange(exchange) => {
                let at = unix_ms(exchange.served_at());
                (self.builder.build(&exchange), at)
            }
            Job::Request(request) => {
                let at = request
                    .time()
                    .map_or_else(|| unix_ms(SystemTime::now()), |s| s * 1000);
                (Ok(*request), at)
            }
        };
        match built {
            Ok(hit) => {
                if self.pending.is_empty() {
                    self.first_pending = Some(Instant::now());
                    self.counters
                        .oldest_pending_ms
                        .store(tracked_at.max(1), Ordering::Relaxed);
                }
                self.pending.push_back(Pending { hit, tracked_at });
            }
            Err(error) => {
                tracing::warn!(%error, "matomo: a hit could not be built and is dropped");
                self.counters.drop_hits(DropReason::Invalid, 1);
                self.counters.done(1);
            }
        }
    }

    async fn send_everything(&mut self) {
        while !self.pending.is_empty() {
            self.send_one_batch().await;
        }
    }

    /// Sends the oldest `batch_size` hits until they are delivered, rejected or dropped.
    async fn send_one_batch(&mut self) {
        let take = self.pending.len().min(self.config.batch_size);
        let mut batch: Vec<Pending> = self.pending.drain(..take).collect();
        self.first_pending = (!self.pending.is_empty()).then(Instant::now);
        let span = tracing::debug_span!("matomo.batch", hits = batch.len());
        let _enter = span.enter();
        let mut attempt = 0u32;
        loop {
            self.drop_too_old(&mut batch);
            if batch.is_empty() {
                break;
            }
            attempt += 1;
            let hits: Vec<TrackingRequest> = batch.iter().map(|p| p.hit.clone()).collect();
            match self.transport.send(&hits).await {
                Ok(accepted) => {
                    self.counters
                        .sent
                        .fetch_add(accepted.tracked as u64, Ordering::Relaxed);
                    self.counters.done(batch.len() as u64);
                    break;
                }
                Err(TransportError::Rejected {
                    tracked,
                    invalid,
                    ref reason,
                    ..
                }) => {
                    tracing::warn!(tracked, invalid, ?reason, "matomo: hits rejected");
                    self.counters
                        .sent
                        .fetch_add(tracked as u64, Ordering::Relaxed);
                    self.counters
                        .rejected
                        .fetch_add(invalid as u64, Ordering::Relaxed);
                    self.counters.done(batch.len() as u64);
                    break;
                }
                Err(error) if error.is_retryable() && attempt < self.config.max_attempts => {
                    let wait = backoff::delay(
                        attempt,
                        self.config.retry_base,
                        self.config.retry_cap,
                        error.retry_after(),
                    );
                    tracing::debug!(%error, attempt, ?wait, "matomo: delivery failed; retrying");
                    self.counters
                        .retried
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    let reason = if error.is_retryable() {
                        DropReason::RetriesExhausted
                    } else {
                        DropReason::Permanent
                    };
                    tracing::warn!(%error, hits = batch.len(), "matomo: delivery failed; hits dropped ({reason})");
                    self.counters.drop_hits(reason, batch.len() as u64);
                    self.counters.done(batch.len() as u64);
                    break;
                }
            }
        }
        let oldest = self.pending.front().map_or(0, |p| p.tracked_at.max(1));
        self.counters
            .oldest_pending_ms
            .store(oldest, Ordering::Relaxed);
    }

    fn drop_too_old(&self, batch: &mut Vec<Pending>) {
        let now = unix_ms(SystemTime::now());
        let limit = self.config.max_hit_age.as_millis() as u64;
        let before = batch.len();
        batch.retain(|p| now.saturating_sub(p.tracked_at) <= limit);
        let dropped = (before - batch.len()) as u64;
        if dropped > 0 {
            tracing::warn!(dropped, "matomo: hits older than max_hit_age dropped");
            self.counters.drop_hits(DropReason::TooOld, dropped);
            self.counters.done(dropped);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
