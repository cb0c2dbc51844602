//! Any Cookie header: never a panic, and a visitor id only ever as 16 hex digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::{parse_pk_id, visitor_id_from_cookies};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for site in [1, 7] {
        if let Some(id) = visitor_id_from_cookies(header, site) {
            let text = id.to_string();
            assert_eq!(text.len(), 16);
            assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    if let Some(id) = parse_pk_id(header) {
        assert!(header.starts_with(&id.to_string()) || header[..16].eq_ignore_ascii_case(&id.to_string()));
    }
});
