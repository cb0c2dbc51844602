//! Any Forwarded / X-Forwarded-For / X-Real-IP values: never a panic, and the client is the peer
//! unless the peer is trusted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::{client_ip, HttpExchange};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let (forwarded, xff, real) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    for peer in ["10.1.2.3", "198.51.100.1"] {
        let exchange = HttpExchange::builder("GET", "/")
            .peer(peer.parse().unwrap())
            .header("forwarded", forwarded)
            .header("x-forwarded-for", xff)
            .header("x-real-ip", real)
            .build();
        let ip = client_ip(&exchange, &trusted);
        assert!(ip.is_some());
        if peer.starts_with("198.") {
            assert_eq!(ip, Some(peer.parse().unwrap()));
        }
    }
});
