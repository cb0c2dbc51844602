//! Delivery throughput: hits per second to the same local stand-in with automatic bulk batching
//! against one HTTP request per hit (the seed's way), side by side in five alternating rounds.
//!
//! `cargo bench -p matomo-core --bench delivery --features test-util`. Target: >= 20x.

use matomo_core::testing::MockMatomo;
use matomo_core::{Tracker, TrackerConfig, TrackingRequest};
use std::time::{Duration, Instant};

const HITS: usize = 20_000;

async fn deliver(url: &str, batch_size: usize) -> f64 {
    let mut config = TrackerConfig::new(url, 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    config.batch_size = batch_size;
    config.batch_delay = Duration::from_millis(5);
    config.queue_capacity = HITS * 2;
    let tracker = Tracker::new(&config).unwrap();
    let hits: Vec<TrackingRequest> = (0..HITS)
        .map(|n| {
            TrackingRequest::builder(1)
                .url(format!("https://shop.example/item/{n}"))
                .action_name("Item")
                .user_agent(
                    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                )
                .build()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    for hit in hits {
        tracker.track(hit);
    }
    let report = tracker.shutdown(Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    assert!(
        report.completed && report.stats.sent as usize == HITS,
        "{report:?}"
    );
    HITS as f64 / elapsed.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let matomo = MockMatomo::builder().keep_hits(false).start().await;
        let url = matomo.url();
        // For profiling the bulk side alone (e.g. under callgrind).
        if std::env::var("BULK_ONLY").is_ok() {
            deliver(&url, 50).await;
            return;
        }
        // Unmeasured: the first run of each way warms the allocator and the connections' code.
        deliver(&url, 50).await;
        deliver(&url, 1).await;
        matomo.clear();
        let mut ratios = Vec::new();
        // Five rounds: on a shared machine one slow round moves a median of three.
        for round in 0..5 {
            let (bulk, single) = if round % 2 == 0 {
                let bulk = deliver(&url, 50).await;
                (bulk, deliver(&url, 1).await)
            } else {
                let single = deliver(&url, 1).await;
                (deliver(&url, 50).await, single)
            };
            println!("round {round}: bulk {bulk:.0} hits/s, one request per hit {single:.0} hits/s");
            ratios.push(bulk / single);
            matomo.clear();
        }
        ratios.sort_by(|a, b| a.total_cmp(b));
        let (median, min, max) = (ratios[ratios.len() / 2], ratios[0], ratios[ratios.len() - 1]);
        println!(
            "delivery, bulk batching vs one request per hit: {median:.1}x (min {min:.1}x, max {max:.1}x; target >= 20x) {}",
            if median >= 20.0 { "PASS" } else { "FAIL" }
        );
    });
}
