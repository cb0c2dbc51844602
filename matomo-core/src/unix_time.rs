//! Times as counts since the Unix epoch: seconds for Matomo's `cdt` and the spool's stamps,
//! milliseconds for the dispatcher's ages of hits.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` in whole seconds since the Unix epoch; 0 before it.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `time` in whole milliseconds since the Unix epoch; 0 before it.
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::{unix_ms, unix_seconds};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn whole_seconds_and_milliseconds_and_zero_before_the_epoch() {
        let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_999);
        assert_eq!(unix_seconds(time), 1_700_000_000);
        assert_eq!(unix_ms(time), 1_700_000_000_999);
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!((unix_seconds(before), unix_ms(before)), (0, 0));
    }
}
