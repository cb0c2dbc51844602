//! Any Cookie header: never a panic, and a visitor id only ever as 16 hex digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::visitor_id_from_cookies;

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
    // The text as one `_pk_id` cookie's value: an id only where the value starts with one.
    if header.contains(';') {
        return;
    }
    if let Some(id) = visitor_id_from_cookies(&format!("_pk_id.1.x={header}"), 1) {
        let value = header.trim_ascii_start();
        let value = value.strip_prefix('"').unwrap_or(value);
        assert!(value.len() >= 16 && value[..16].eq_ignore_ascii_case(&id.to_string()));
    }
});
