//! The background dispatcher: builds, stores, batches, sends and retries.

use super::backoff;
use super::stats::{Counters, DropReason};
use super::store::{Batch, Store};
use crate::config::TrackerConfig;
use crate::exchange::HttpExchange;
use crate::hit::{Extras, HitBuilder};
use crate::request::{BuildError, TrackingRequest};
use crate::transport::{Transport, TransportError};
use crate::unix_time::unix_ms;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

/// What the request path queues: a served request (with what the application added to its page
/// view), or a hit the application built.
pub(crate) enum Job {
    Exchange(HttpExchange, Option<Box<Extras>>),
    Request(Box<TrackingRequest>),
}

pub(crate) enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

pub(crate) struct Worker {
    builder: HitBuilder,
    transport: Arc<dyn Transport>,
    config: Arc<TrackerConfig>,
    counters: Arc<Counters>,
    store: Store,
    jobs: mpsc::Receiver<Job>,
    jobs_open: bool,
    /// Where `recv_many` puts the jobs of one wake-up.
    received: Vec<Job>,
    control: mpsc::UnboundedReceiver<Control>,
    control_open: bool,
    /// Control messages that arrived while a batch was in flight.
    deferred: VecDeque<Control>,
    /// When the oldest hit not yet in a batch arrived (for the batch delay).
    first_pending: Option<Instant>,
    /// When to write to the spool next; one clock for the main loop and for waits, so short waits
    /// never postpone a write.
    sync: tokio::time::Interval,
}

impl Worker {
    pub fn new(
        builder: HitBuilder,
        transport: Arc<dyn Transport>,
        config: Arc<TrackerConfig>,
        counters: Arc<Counters>,
        store: Store,
        jobs: mpsc::Receiver<Job>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        // Writing every half interval keeps the promise (a hit tracked one interval before a crash
        // is on disk) even when a write itself takes a while.
        let sync_interval = config
            .spool
            .as_ref()
            .map_or(Duration::from_millis(200), |s| s.sync_interval)
            / 2;
        let first_pending = (store.len() > 0).then(Instant::now);
        let mut sync = tokio::time::interval_at(Instant::now() + sync_interval, sync_interval);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            builder,
            transport,
            config,
            counters,
            store,
            jobs,
            jobs_open: true,
            received: Vec::new(),
            control,
            control_open: true,
            deferred: VecDeque::new(),
            first_pending,
            sync,
        }
    }

    pub async fn run(mut self) {
        loop {
            if let Some(command) = self.deferred.pop_front() {
                if self.handle(command).await {
                    return;
                }
                continue;
            }
            let queued = self.store.len();
            if !self.jobs_open && queued == 0 {
                self.store.sync(&self.counters).await;
                return;
            }
            if queued >= self.config.batch_size || (!self.jobs_open && queued > 0) {
                self.send_one_batch().await;
                continue;
            }
            let deadline = self
                .first_pending
                .map(|first| first + self.config.batch_delay);
            let room = self.config.batch_size - queued;
            let durable = self.store.is_durable();
            tokio::select! {
                biased;
                command = self.control.recv(), if self.control_open => match command {
                    Some(command) => {
                        if self.handle(command).await {
                            return;
                        }
                    }
                    None => self.control_open = false,
                },
                taken = self.jobs.recv_many(&mut self.received, room), if self.jobs_open => {
                    self.accept_received(taken);
                }
                _ = self.sync.tick(), if durable => self.store.sync(&self.counters).await,
                _ = sleep_until(deadline), if deadline.is_some() => self.send_one_batch().await,
            }
        }
    }

    /// Handles a control message; `true` when the dispatcher must stop.
    async fn handle(&mut self, command: Control) -> bool {
        match command {
            Control::Flush(done) => {
                self.drain();
                self.send_everything().await;
                let _ = done.send(());
                false
            }
            Control::Shutdown(done) => {
                self.stop_taking();
                // With a spool, everything is safe on disk before the first network attempt.
                self.store.sync(&self.counters).await;
                self.send_everything().await;
                let _ = done.send(());
                true
            }
        }
    }

    /// Builds the `taken` jobs `recv_many` just received; none means the queue is closed.
    fn accept_received(&mut self, taken: usize) {
        if taken == 0 {
            self.jobs_open = false;
        }
        for job in std::mem::take(&mut self.received) {
            self.accept(job);
        }
    }

    /// Takes every job already queued.
    fn drain(&mut self) {
        loop {
            match self.jobs.try_recv() {
                Ok(job) => self.accept(job),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.jobs_open = false;
                    return;
                }
            }
        }
    }

    /// Closes the queue and takes what is in it.
    fn stop_taking(&mut self) {
        self.jobs.close();
        self.drain();
        self.jobs_open = false;
    }

    fn accept(&mut self, job: Job) {
        match job {
            Job::Exchange(exchange, extras) => {
                let at = unix_ms(exchange.served_at());
                let built = match extras {
                    None => vec![self.builder.build(&exchange)],
                    Some(extras) => self.builder.build_all(&exchange, &extras),
                };
                // One job was counted as pending; it may have become several hits, or none.
                match built.len() {
                    0 => self.counters.done(1),
                    n => {
                        self.counters
                            .pending
                            .fetch_add(n as u64 - 1, Ordering::Relaxed);
                    }
                }
                for result in built {
                    self.keep(result, at);
                }
            }
            Job::Request(request) => {
                let at = request
                    .time()
                    .map_or_else(|| unix_ms(SystemTime::now()), |s| s * 1000);
                self.keep(Ok(*request), at);
            }
        }
        self.store.note_oldest(&self.counters);
    }

    /// Stores a built hit for sending, or counts why it cannot be sent.
    fn keep(&mut self, built: Result<TrackingRequest, BuildError>, tracked_at: u64) {
        match built {
            Ok(hit) => {
                self.store.push(hit, tracked_at);
                self.first_pending.get_or_insert_with(Instant::now);
            }
            Err(error) => {
                tracing::warn!(%error, "matomo: a hit could not be built and is dropped");
                self.counters.drop_hits(DropReason::Invalid, 1);
                self.counters.done(1);
            }
        }
    }

    async fn send_everything(&mut self) {
        while self.store.len() > 0 {
            self.send_one_batch().await;
            if !self.jobs_open {
                self.drain();
            }
        }
    }

    /// Runs `work` while still taking in new hits and noting control messages for later. With a
    /// spool, every hit is taken in (and spooled); in memory, up to one batch, so the next batch is
    /// built while this one is on the wire, and memory stays within the queue plus two batches.
    async fn wait<F: Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        let durable = self.store.is_durable();
        loop {
            let room = if durable {
                self.config.batch_size
            } else {
                self.config.batch_size.saturating_sub(self.store.len())
            };
            tokio::select! {
                biased;
                out = &mut work => return out,
                command = self.control.recv(), if self.control_open => match command {
                    Some(Control::Shutdown(done)) => {
                        self.stop_taking();
                        self.store.sync(&self.counters).await;
                        self.deferred.push_back(Control::Shutdown(done));
                    }
                    Some(flush) => self.deferred.push_back(flush),
                    None => self.control_open = false,
                },
                taken = self.jobs.recv_many(&mut self.received, room), if self.jobs_open && room > 0 => {
                    self.accept_received(taken);
                }
                _ = self.sync.tick(), if durable => self.store.sync(&self.counters).await,
            }
        }
    }

    /// Sends the oldest `batch_size` hits until they are delivered, rejected or dropped.
    async fn send_one_batch(&mut self) {
        let mut batch = self
            .store
            .take(self.config.batch_size, &self.counters)
            .await;
        self.first_pending = (self.store.len() > 0).then(Instant::now);
        if batch.is_empty() {
            return;
        }
        let span = tracing::debug_span!("matomo.batch", hits = batch.len());
        let mut attempt = 0u32;
        loop {
            self.drop_too_old(&mut batch).await;
            if batch.is_empty() {
                break;
            }
            attempt += 1;
            let transport = Arc::clone(&self.transport);
            let hits = &batch.hits;
            let result = self
                .wait(async move { transport.send(hits).await }.instrument(span.clone()))
                .await;
            match result {
                Ok(accepted) => {
                    self.counters
                        .sent
                        .fetch_add(accepted.tracked as u64, Ordering::Relaxed);
                    break;
                }
                Err(TransportError::Rejected {
                    tracked,
                    invalid,
                    ref reason,
                    ..
                }) => {
                    tracing::warn!(parent: &span, tracked, invalid, ?reason, "matomo: hits rejected");
                    self.counters
                        .sent
                        .fetch_add(tracked as u64, Ordering::Relaxed);
                    self.counters
                        .rejected
                        .fetch_add(invalid as u64, Ordering::Relaxed);
                    break;
                }
                Err(error) if error.is_retryable() && attempt < self.config.max_attempts => {
                    let wait = backoff::delay(
                        attempt,
                        self.config.retry_base,
                        self.config.retry_cap,
                        error.retry_after(),
                    );
                    tracing::debug!(parent: &span, %error, attempt, ?wait, "matomo: delivery failed; retrying");
                    self.counters
                        .retried
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.wait(tokio::time::sleep(wait)).await;
                }
                Err(error) => {
                    let reason = if error.is_retryable() {
                        DropReason::RetriesExhausted
                    } else {
                        DropReason::Permanent
                    };
                    tracing::warn!(parent: &span, %error, hits = batch.len(), "matomo: delivery failed; hits dropped ({reason})");
                    self.counters.drop_hits(reason, batch.len() as u64);
                    break;
                }
            }
        }
        self.counters.done(batch.len() as u64);
        self.store.finish(&batch.ids).await;
        self.store.note_oldest(&self.counters);
    }

    async fn drop_too_old(&mut self, batch: &mut Batch) {
        let now = unix_ms(SystemTime::now());
        let limit = self.config.max_hit_age.as_millis() as u64;
        if batch
            .tracked_at
            .iter()
            .all(|&at| now.saturating_sub(at) <= limit)
        {
            return;
        }
        let mut kept = Batch::default();
        let mut old = Vec::new();
        let rows = batch.hits.drain(..).zip(&batch.tracked_at).zip(&batch.ids);
        for ((hit, &at), &id) in rows {
            if now.saturating_sub(at) <= limit {
                kept.push(hit, at, id);
            } else {
                old.push(id);
            }
        }
        *batch = kept;
        if !old.is_empty() {
            tracing::warn!(
                dropped = old.len(),
                "matomo: hits older than max_hit_age dropped"
            );
            self.counters
                .drop_hits(DropReason::TooOld, old.len() as u64);
            self.counters.done(old.len() as u64);
            self.store.finish(&old).await;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
