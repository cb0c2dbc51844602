//! Any spool record bytes: never a panic; what decodes re-encodes to something that decodes alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::internals::{read_spool_record as decode, spool_record as encode};

fuzz_target!(|data: &[u8]| {
    if let Some((at, hit)) = decode(data) {
        let again = decode(&encode(at, &hit)).expect("an encoded record decodes");
        assert_eq!(again, (at, hit));
    }
});
