//! Delivery counters: what was tracked, skipped, sent, retried, rejected and dropped, and why.

use crate::rules::SkipReason;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why a hit was dropped without reaching Matomo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full (Matomo slow or down for long, or traffic above what it takes).
    QueueFull,
    /// The tracker was shutting down or shut down.
    ShuttingDown,
    /// The hit grew older than `max_hit_age` before it could be delivered.
    TooOld,
    /// Every attempt failed (`max_attempts`).
    RetriesExhausted,
    /// Delivery failed for a reason retrying cannot fix (TLS, not a Matomo tracker, HTTP 4xx).
    Permanent,
    /// The hit could not be built (e.g. a `cdt` older than 24 hours without a token).
    Invalid,
    /// The spool reached `spool.max_bytes`; its oldest hits made room.
    SpoolFull,
    /// A spool record was corrupt (bad bytes, a torn write) and was skipped.
    Corrupt,
    /// The spool could not be written (disk full, permissions).
    SpoolError,
}

impl DropReason {
    /// Every reason, in declaration order (a reason's counter is at `reason as usize`).
    pub const ALL: [DropReason; 9] = [
        DropReason::QueueFull,
        DropReason::ShuttingDown,
        DropReason::TooOld,
        DropReason::RetriesExhausted,
        DropReason::Permanent,
        DropReason::Invalid,
        DropReason::SpoolFull,
        DropReason::Corrupt,
        DropReason::SpoolError,
    ];

    /// A short stable name, e.g. `queue_full`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ShuttingDown => "shutting_down",
            DropReason::TooOld => "too_old",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Permanent => "permanent_failure",
            DropReason::Invalid => "invalid",
            DropReason::SpoolFull => "spool_full",
            DropReason::Corrupt => "corrupt",
            DropReason::SpoolError => "spool_error",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of a tracker's counters, for export to metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests and hits accepted for tracking (queued or dropped afterwards).
    pub tracked: u64,
    /// Requests not tracked, by rule.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Hits put in the queue.
    pub queued: u64,
    /// Hits Matomo confirmed as tracked.
    pub sent: u64,
    /// Hits sent again after a failed attempt.
    pub retried: u64,
    /// Hits Matomo refused (never resent).
    pub rejected: u64,
    /// Hits dropped, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
    /// Hits queued or being delivered now.
    pub pending: u64,
    /// How long the oldest hit the dispatcher holds has waited.
    pub oldest_pending_age: Option<Duration>,
    /// Hits found in the spool at start-up (from an earlier run).
    pub recovered: u64,
}

impl Stats {
    /// All dropped hits.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub tracked: AtomicU64,
    pub skipped: [AtomicU64; SkipReason::ALL.len()],
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub rejected: AtomicU64,
    pub dropped: [AtomicU64; DropReason::ALL.len()],
    pub pending: AtomicU64,
    /// Unix milliseconds of the oldest hit the dispatcher holds; 0 when none.
    pub oldest_pending_ms: AtomicU64,
    pub recovered: AtomicU64,
}

impl Counters {
    pub fn skip(&self, reason: SkipReason) {
        self.skipped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn drop_hits(&self, reason: DropReason, count: u64) {
        self.dropped[reason as usize].fetch_add(count, Ordering::Relaxed);
    }

    pub fn done(&self, count: u64) {
        // Saturating: never wrap below zero if a caller miscounts.
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(count))
            });
    }

    pub fn snapshot(&self) -> Stats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let oldest = load(&self.oldest_pending_ms);
        let now_ms = crate::unix_time::unix_ms(std::time::SystemTime::now());
        Stats {
            tracked: load(&self.tracked),
            skipped: SkipReason::ALL
                .iter()
                .zip(&self.skipped)
                .map(|(r, c)| (*r, load(c)))
                .filter(|(_, c)| *c > 0)
                .collect(),
            queued: load(&self.queued),
            sent: load(&self.sent),
            retried: load(&self.retried),
            rejected: load(&self.rejected),
            dropped: DropReason::ALL
                .iter()
                .zip(&self.dropped)
                .map(|(r, c)| (*r, load(c)))
                .filter(|(_, c)| *c > 0)
                .collect(),
            pending: load(&self.pending),
            oldest_pending_age: (oldest > 0)
                .then(|| Duration::from_millis(now_ms.saturating_sub(oldest))),
            recovered: load(&self.recovered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_in_its_counters_place() {
        // Exhaustive: a new reason stops this compiling until it is added to `ALL`.
        let listed = |reason: DropReason| match reason {
            DropReason::QueueFull
            | DropReason::ShuttingDown
            | DropReason::TooOld
            | DropReason::RetriesExhausted
            | DropReason::Permanent
            | DropReason::Invalid
            | DropReason::SpoolFull
            | DropReason::Corrupt
            | DropReason::SpoolError => DropReason::ALL.contains(&reason),
        };
        for (index, reason) in DropReason::ALL.into_iter().enumerate() {
            assert!(listed(reason));
            assert_eq!(reason as usize, index);
        }
        let skipped = |reason: SkipReason| match reason {
            SkipReason::Disabled
            | SkipReason::Method
            | SkipReason::IgnoredPath
            | SkipReason::IgnoredStatus
            | SkipReason::DoNotTrack
            | SkipReason::GlobalPrivacyControl
            | SkipReason::Html
            | SkipReason::Bot => SkipReason::ALL.contains(&reason),
        };
        for (index, reason) in SkipReason::ALL.into_iter().enumerate() {
            assert!(skipped(reason));
            assert_eq!(reason as usize, index);
        }
    }

    #[test]
    fn each_reason_counts_in_its_own_place() {
        let counters = Counters::default();
        for (n, reason) in DropReason::ALL.into_iter().enumerate() {
            counters.drop_hits(reason, n as u64 + 1);
        }
        for (n, reason) in SkipReason::ALL.into_iter().enumerate() {
            for _ in 0..=n {
                counters.skip(reason);
            }
        }
        let stats = counters.snapshot();
        for (n, reason) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(stats.dropped[&reason], n as u64 + 1);
        }
        for (n, reason) in SkipReason::ALL.into_iter().enumerate() {
            assert_eq!(stats.skipped[&reason], n as u64 + 1);
        }
    }
}
