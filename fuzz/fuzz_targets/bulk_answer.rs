//! Any bulk answer body: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::internals::BulkAnswer;
use matomo_core::looks_like_tracker;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = BulkAnswer::parse(data) {
        let _ = answer.invalid_indices.as_ref().map(|i| i.len());
    }
    let _ = looks_like_tracker(data);
});
