//! Decoding any query string never panics; whatever decodes encodes and decodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::TrackingRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(request) = TrackingRequest::from_query(text) {
        let encoded = request.to_query();
        assert!(!encoded.contains(['\r', '\n']), "control characters escaped");
        let again = TrackingRequest::from_query(&encoded).expect("an encoded request decodes");
        assert_eq!(again, request);
    }
});
