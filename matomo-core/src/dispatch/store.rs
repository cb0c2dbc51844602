//! Where hits wait for delivery: in memory, or in the on-disk spool (feature `spool`).

use super::stats::Counters;
#[cfg(feature = "spool")]
use super::stats::DropReason;
use crate::request::TrackingRequest;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A built hit waiting to be written to the spool.
#[cfg(feature = "spool")]
pub(crate) struct Pending {
    pub hit: TrackingRequest,
    /// Unix milliseconds when it was tracked.
    pub tracked_at: u64,
}

/// The hits of one batch, and what is known about each: the transport takes the hits as a slice.
#[derive(Default)]
pub(crate) struct Batch {
    pub hits: Vec<TrackingRequest>,
    /// Unix milliseconds when each was tracked.
    pub tracked_at: Vec<u64>,
    /// Each one's spool id, once it is on disk.
    pub ids: Vec<Option<u64>>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    pub fn push(&mut self, hit: TrackingRequest, tracked_at: u64, id: Option<u64>) {
        self.hits.push(hit);
        self.tracked_at.push(tracked_at);
        self.ids.push(id);
    }

    /// The oldest `limit` hits, taken out.
    fn take_front(&mut self, limit: usize) -> Batch {
        let limit = limit.min(self.len());
        Batch {
            hits: self.hits.drain(..limit).collect(),
            tracked_at: self.tracked_at.drain(..limit).collect(),
            ids: self.ids.drain(..limit).collect(),
        }
    }
}

pub(crate) enum Store {
    Memory(Batch),
    #[cfg(feature = "spool")]
    Disk {
        spool: Arc<std::sync::Mutex<crate::spool::Spool>>,
        unsynced: Vec<Pending>,
        on_disk: u64,
    },
}

impl Store {
    pub fn memory() -> Self {
        Store::Memory(Batch::default())
    }

    #[cfg(feature = "spool")]
    pub fn disk(spool: crate::spool::Spool) -> Self {
        let on_disk = spool.len();
        Store::Disk {
            spool: Arc::new(std::sync::Mutex::new(spool)),
            unsynced: Vec::new(),
            on_disk,
        }
    }

    pub fn is_durable(&self) -> bool {
        !matches!(self, Store::Memory(_))
    }

    pub fn len(&self) -> usize {
        match self {
            Store::Memory(batch) => batch.len(),
            #[cfg(feature = "spool")]
            Store::Disk {
                unsynced, on_disk, ..
            } => unsynced.len() + *on_disk as usize,
        }
    }

    /// Keeps a built hit, tracked at `tracked_at` (Unix milliseconds).
    pub fn push(&mut self, hit: TrackingRequest, tracked_at: u64) {
        match self {
            Store::Memory(batch) => batch.push(hit, tracked_at, None),
            #[cfg(feature = "spool")]
            Store::Disk { unsynced, .. } => unsynced.push(Pending { hit, tracked_at }),
        }
    }

    /// Writes what is not on disk yet, in one transaction (a no-op in memory).
    #[cfg_attr(not(feature = "spool"), allow(unused_variables))]
    pub async fn sync(&mut self, counters: &Arc<Counters>) {
        match self {
            Store::Memory(_) => {}
            #[cfg(feature = "spool")]
            Store::Disk {
                spool,
                unsynced,
                on_disk,
                ..
            } => {
                if unsynced.is_empty() {
                    return;
                }
                let batch = std::mem::take(unsynced);
                let count = batch.len() as u64;
                let spool = Arc::clone(spool);
                let result = tokio::task::spawn_blocking(move || {
                    let items: Vec<(u64, &TrackingRequest)> =
                        batch.iter().map(|p| (p.tracked_at, &p.hit)).collect();
                    let mut spool = spool.lock().unwrap_or_else(|p| p.into_inner());
                    let evicted = spool.append(&items)?;
                    Ok::<_, crate::spool::SpoolError>((evicted, spool.len()))
                })
                .await;
                match result {
                    Ok(Ok((evicted, len))) => {
                        *on_disk = len;
                        if evicted > 0 {
                            tracing::warn!(
                                evicted,
                                "matomo: the spool is full; its oldest hits were dropped"
                            );
                            counters.drop_hits(DropReason::SpoolFull, evicted);
                            counters.done(evicted);
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, hits = count, "matomo: hits could not be written to the spool and are dropped");
                        counters.drop_hits(DropReason::SpoolError, count);
                        counters.done(count);
                    }
                    Err(join) => {
                        tracing::error!(error = %join, hits = count, "matomo: the spool writer failed; hits dropped");
                        counters.drop_hits(DropReason::SpoolError, count);
                        counters.done(count);
                    }
                }
            }
        }
    }

    /// The oldest `limit` hits, still held until [`Store::finish`].
    #[cfg_attr(not(feature = "spool"), allow(unused_variables))]
    pub async fn take(&mut self, limit: usize, counters: &Arc<Counters>) -> Batch {
        match self {
            Store::Memory(batch) => batch.take_front(limit),
            #[cfg(feature = "spool")]
            Store::Disk { .. } => {
                self.sync(counters).await;
                let Store::Disk { spool, on_disk, .. } = self else {
                    return Batch::default();
                };
                let spool = Arc::clone(spool);
                let result = tokio::task::spawn_blocking(move || {
                    let mut spool = spool.lock().unwrap_or_else(|p| p.into_inner());
                    let taken = spool.oldest(limit)?;
                    Ok::<_, crate::spool::SpoolError>((taken, spool.len()))
                })
                .await;
                match result {
                    Ok(Ok(((hits, corrupt), len))) => {
                        *on_disk = len;
                        if corrupt > 0 {
                            counters.drop_hits(DropReason::Corrupt, corrupt);
                            counters.done(corrupt);
                        }
                        let mut batch = Batch::default();
                        for h in hits {
                            batch.push(h.hit, h.tracked_at, Some(h.id));
                        }
                        batch
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, "matomo: the spool could not be read");
                        Batch::default()
                    }
                    Err(join) => {
                        tracing::error!(error = %join, "matomo: the spool reader failed");
                        Batch::default()
                    }
                }
            }
        }
    }

    /// Forgets delivered (or dropped) hits, by their spool ids.
    #[cfg_attr(not(feature = "spool"), allow(unused_variables))]
    pub async fn finish(&mut self, done: &[Option<u64>]) {
        match self {
            Store::Memory(_) => {}
            #[cfg(feature = "spool")]
            Store::Disk { spool, on_disk, .. } => {
                let ids: Vec<u64> = done.iter().flatten().copied().collect();
                if ids.is_empty() {
                    return;
                }
                let spool = Arc::clone(spool);
                let result = tokio::task::spawn_blocking(move || {
                    let mut spool = spool.lock().unwrap_or_else(|p| p.into_inner());
                    spool.remove(&ids).map(|()| spool.len())
                })
                .await;
                match result {
                    Ok(Ok(len)) => *on_disk = len,
                    Ok(Err(error)) => {
                        tracing::error!(%error, "matomo: delivered hits could not be removed from the spool; they may be sent again")
                    }
                    Err(join) => tracing::error!(error = %join, "matomo: the spool failed"),
                }
            }
        }
    }

    pub fn oldest_tracked_at(&self) -> Option<u64> {
        match self {
            Store::Memory(batch) => batch.tracked_at.first().copied(),
            #[cfg(feature = "spool")]
            Store::Disk { unsynced, .. } => unsynced.first().map(|p| p.tracked_at),
        }
    }

    pub fn note_oldest(&self, counters: &Counters) {
        let oldest = self.oldest_tracked_at().map_or(0, |t| t.max(1));
        counters.oldest_pending_ms.store(oldest, Ordering::Relaxed);
    }
}
