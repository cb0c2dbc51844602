//! Any line `matomo-cli send --bulk` reads: never a panic; a parsed hit survives encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::TrackingRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(hit)) = matomo_cli::bulk::parse_line(line, 1) {
        let encoded = hit.to_query();
        assert!(!encoded.contains(['\r', '\n']));
        assert_eq!(TrackingRequest::from_query(&encoded).expect("decodes"), hit);
    }
});
