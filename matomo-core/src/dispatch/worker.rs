//! The background dispatcher: builds, stores, batches, sends and retries.

use super::backoff;
use super::stats::{Counters, DropReason};
use super::store::{Batch, Store};
use crate::client_memory::{ClientMemory, Recalled};
use crate::config::{BotPolicy, TrackerConfig};
use crate::exchange::HttpExchange;
use crate::hit::{Extras, HitBuilder};
use crate::request::{SpareBuffers, TrackingRequest};
use crate::transport::{Accepted, Transport, TransportError};
use crate::unix_time::unix_ms;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

// The exchange is the hot path: kept inline to save an allocation per served request; hits built
// by the application are rare and boxed.
#[allow(clippy::large_enum_variant)]
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
    /// The user agents (with the bot rule's verdict) and languages seen: each user agent is
    /// scanned once, and hits share their texts.
    clients: ClientMemory,
    /// The text buffers of sent hits, which the next hits are built in.
    spares: SpareBuffers,
    transport: Arc<dyn Transport>,
    config: Arc<TrackerConfig>,
    counters: Arc<Counters>,
    store: Store,
    jobs: mpsc::Receiver<Job>,
    jobs_open: bool,
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

/// How often the dispatcher looks at the queue while hits are pending or a batch is on the wire,
/// instead of being woken for each job.
const GATHER_INTERVAL: Duration = Duration::from_millis(2);

/// How many queued jobs the dispatcher builds before it lets other tasks on its thread run.
const ACCEPT_BURST: usize = 8;

impl Worker {
    #[allow(clippy::too_many_arguments)]
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
            clients: ClientMemory::new(),
            spares: SpareBuffers::new(),
            transport,
            config,
            counters,
            store,
            jobs,
            jobs_open: true,
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
            // Take what is queued already, up to a batch, without waiting for it; a few at a time,
            // letting the requests that share this thread run in between.
            let limit = self.config.batch_size.min(self.store.len() + ACCEPT_BURST);
            if self.take_queued(limit) {
                tokio::task::yield_now().await;
                continue;
            }
            let deadline = self
                .first_pending
                .map(|first| first + self.config.batch_delay);
            // With hits pending, look at the queue again shortly rather than be woken for every
            // job: a wake-up per tracked request costs the app more than the hit itself.
            let gather = (queued > 0).then(|| Instant::now() + GATHER_INTERVAL);
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
                job = self.jobs.recv(), if self.jobs_open && queued == 0 => match job {
                    Some(job) => self.accept(job),
                    None => self.jobs_open = false,
                },
                _ = sleep_until(gather), if self.jobs_open && gather.is_some() => {}
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
                self.jobs.close();
                self.drain();
                // With a spool, everything is safe on disk before the first network attempt.
                self.store.sync(&self.counters).await;
                self.send_everything().await;
                let _ = done.send(());
                true
            }
        }
    }

    /// Takes jobs already queued until the store holds `limit` hits or the queue is empty;
    /// whether it took any.
    fn take_queued(&mut self, limit: usize) -> bool {
        let mut took = false;
        while self.store.len() < limit {
            match self.jobs.try_recv() {
                Ok(job) => {
                    self.accept(job);
                    took = true;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.jobs_open = false;
                    break;
                }
            }
        }
        took
    }

    /// Takes every job already queued.
    fn drain(&mut self) {
        self.take_queued(usize::MAX);
    }

    fn accept(&mut self, job: Job) {
        let mut recalled = Recalled::default();
        if let Job::Exchange(exchange, _) = &job {
            recalled = self.clients.recall(exchange);
            if recalled.bot && self.config.bots == BotPolicy::Skip {
                // Counted as skipped, not as tracked: the request path counted it as queued.
                self.counters.skip(crate::rules::SkipReason::Bot);
                self.counters.done(1);
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                self.counters.tracked.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
        match job {
            // One job, one hit: the common case, without a list of one.
            Job::Exchange(exchange, None) => {
                let at = unix_ms(exchange.served_at());
                let (builder, spares) = (&self.builder, &mut self.spares);
                let kept = self.store.push_built(at, |hits| {
                    builder.build_recalled_into(&exchange, recalled, spares, hits)
                });
                self.kept(kept);
            }
            Job::Exchange(exchange, Some(extras)) => {
                let at = unix_ms(exchange.served_at());
                let built = self
                    .builder
                    .build_all_recalled(&exchange, &extras, recalled);
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
    fn keep(&mut self, built: Result<TrackingRequest, crate::BuildError>, tracked_at: u64) {
        let kept = built.map(|hit| self.store.push(hit, tracked_at));
        self.kept(kept);
    }

    /// Notes a hit stored for sending, or counts why it could not be built.
    fn kept(&mut self, kept: Result<(), crate::BuildError>) {
        match kept {
            Ok(()) => {
                if self.first_pending.is_none() {
                    self.first_pending = Some(Instant::now());
                }
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
            self.drain_while_stopping();
        }
    }

    fn drain_while_stopping(&mut self) {
        if !self.jobs_open {
            self.drain();
        }
    }

    /// Runs `work` while still taking in new hits and noting control messages for later. With a
    /// spool, every hit is taken in (and spooled); in memory, up to one batch, so the next batch is
    /// built while this one is on the wire, and memory stays within the queue plus one batch.
    async fn wait<F: Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        let durable = self.store.is_durable();
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                command = self.control.recv(), if self.control_open => match command {
                    Some(Control::Shutdown(done)) => {
                        self.jobs.close();
                        self.drain();
                        self.store.sync(&self.counters).await;
                        self.deferred.push_back(Control::Shutdown(done));
                    }
                    Some(flush) => self.deferred.push_back(flush),
                    None => self.control_open = false,
                },
                _ = tokio::time::sleep(GATHER_INTERVAL),
                    if self.jobs_open && (durable || self.store.len() < self.config.batch_size) =>
                {
                    let limit = if durable { usize::MAX } else { self.config.batch_size };
                    self.take_queued(limit);
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
        let _enter = span.enter();
        let mut attempt = 0u32;
        loop {
            self.drop_too_old(&mut batch).await;
            if batch.is_empty() {
                break;
            }
            attempt += 1;
            let transport = Arc::clone(&self.transport);
            let hits = &batch.hits;
            let result: Result<Accepted, TransportError> =
                self.wait(async move { transport.send(hits).await }).await;
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
                    tracing::warn!(tracked, invalid, ?reason, "matomo: hits rejected");
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
                    tracing::debug!(%error, attempt, ?wait, "matomo: delivery failed; retrying");
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
                    tracing::warn!(%error, hits = batch.len(), "matomo: delivery failed; hits dropped ({reason})");
                    self.counters.drop_hits(reason, batch.len() as u64);
                    break;
                }
            }
        }
        self.counters.done(batch.len() as u64);
        self.store.finish(&batch.ids).await;
        self.store.note_oldest(&self.counters);
        self.spares.reclaim(&mut batch.hits);
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
                kept.hits.push(hit);
                kept.tracked_at.push(at);
                kept.ids.push(id);
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
