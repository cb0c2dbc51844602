//! Any TOML or JSON config: never a panic; an error names a key or the source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::TrackerConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for result in [TrackerConfig::from_toml_str(text), TrackerConfig::from_json_str(text)] {
        match result {
            Ok(config) => assert!(config.validate().is_ok()),
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
});
