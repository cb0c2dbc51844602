//! Retry delays: exponential backoff with full jitter, capped, and `Retry-After` honoured.

use rand::Rng;
use std::time::Duration;

/// The delay before attempt `attempt + 1` (the first retry has `attempt == 1`): a random duration
/// between 0 and `min(cap, base * 2^(attempt-1))`, but never less than `retry_after` when Matomo gave
/// one (which is itself capped at an hour).
pub(crate) fn delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(cap);
    let jittered = if ceiling.is_zero() {
        Duration::ZERO
    } else {
        rand::rng().random_range(Duration::ZERO..=ceiling)
    };
    match retry_after {
        Some(wait) => jittered.max(wait.min(Duration::from_secs(3600))),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_respects_the_cap_and_retry_after() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 1..12u32 {
            let ceiling = (base * 2u32.pow(attempt - 1)).min(cap);
            let samples: Vec<Duration> =
                (0..200).map(|_| delay(attempt, base, cap, None)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: the samples spread over the range rather than sitting at its top.
            let distinct: std::collections::BTreeSet<_> = samples.iter().collect();
            assert!(
                distinct.len() > 50,
                "attempt {attempt}: {} distinct",
                distinct.len()
            );
            assert!(samples.iter().any(|d| *d < ceiling / 2));
        }
        let waited = delay(1, base, cap, Some(Duration::from_secs(30)));
        assert!(waited >= Duration::from_secs(30));
    }
}
