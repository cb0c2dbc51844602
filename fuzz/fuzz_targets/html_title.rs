//! Any body: never a panic; a title is non-empty, trimmed, single-spaced and at most 250 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::{html_title, is_html};

fuzz_target!(|data: &[u8]| {
    let _ = is_html(None, Some(data));
    if let Some(title) = html_title(data) {
        assert!(!title.is_empty());
        assert!(title.chars().count() <= 250);
        assert_eq!(title.trim(), title);
        assert!(!title.contains("  "));
    }
});
