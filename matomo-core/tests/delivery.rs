//! The Tracker and its dispatcher: queueing that never blocks, batching, retry and backoff,
//! rejection handling, order, flush and shutdown.

use matomo_core::testing::{Fault, MockMatomo, RecordingTransport};
use matomo_core::{
    DropReason, Enqueued, HttpExchange, RejectReason, Tracker, TrackerConfig, TrackerError,
    TrackingRequest, TransportError,
};
use std::time::{Duration, Instant};

fn config(url: &str) -> TrackerConfig {
    let mut config = TrackerConfig::new(url, 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    config.retry_base = Duration::from_millis(10);
    config.retry_cap = Duration::from_millis(100);
    config.batch_delay = Duration::from_millis(20);
    config
}

/// Hit `n` of visitor `visitor`, numbered in dimension 1 so order can be checked.
fn numbered(visitor: u8, n: usize) -> TrackingRequest {
    TrackingRequest::builder(1)
        .url(format!("https://shop.example/{n}"))
        .forced_visitor_id(matomo_core::VisitorId::from_bytes([visitor; 8]))
        .dimension(1, n.to_string())
        .build()
        .unwrap()
}

fn numbers(hits: &[TrackingRequest], visitor: u8) -> Vec<usize> {
    hits.iter()
        .filter(|h| h.forced_visitor_id() == Some(matomo_core::VisitorId::from_bytes([visitor; 8])))
        .map(|h| h.dimensions()[&1].parse().unwrap())
        .collect()
}

#[test]
fn a_tracker_outside_a_runtime_is_a_clear_error() {
    let err = Tracker::with_transport(
        &config("http://127.0.0.1:9/matomo.php"),
        RecordingTransport::new(),
    )
    .unwrap_err();
    assert!(matches!(err, TrackerError::NoRuntime));
    assert!(err.to_string().contains("tokio runtime"));
}

#[tokio::test]
async fn shutdown_delivers_what_was_queued_and_reports_it() {
    let matomo = MockMatomo::start().await;
    let tracker = Tracker::new(&config(&matomo.url())).unwrap();
    for n in 0..5 {
        assert_eq!(tracker.track(numbered(1, n)), Enqueued::Queued);
    }
    let report = tracker.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed);
    assert_eq!(report.pending, 0);
    assert_eq!(report.stats.sent, 5);
    assert_eq!(numbers(&matomo.tracked(), 1), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn after_shutdown_hits_are_dropped_as_shutting_down() {
    let tracker = Tracker::with_transport(
        &config("http://m.example/matomo.php"),
        RecordingTransport::new(),
    )
    .unwrap();
    tracker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        tracker.track(numbered(1, 0)),
        Enqueued::Dropped(DropReason::ShuttingDown)
    );
    assert_eq!(tracker.stats().dropped[&DropReason::ShuttingDown], 1);
}

#[tokio::test]
async fn exchanges_are_decided_then_built_on_the_dispatcher() {
    let transport = RecordingTransport::new();
    let mut config = config("http://m.example/matomo.php");
    config.ignore_paths = vec![matomo_core::PathPattern::new("/health").unwrap()];
    let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
    let page = HttpExchange::builder("GET", "/about")
        .header("host", "shop.example")
        .header("user-agent", "Firefox")
        .build();
    let health = HttpExchange::builder("GET", "/health").build();
    assert_eq!(tracker.track_exchange(page), Enqueued::Queued);
    assert!(matches!(
        tracker.track_exchange(health),
        Enqueued::Skipped(_)
    ));
    tracker.flush(Duration::from_secs(5)).await;
    let hits = transport.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].url(), Some("http://shop.example/about"));
    assert_eq!(tracker.stats().skipped.values().sum::<u64>(), 1);
}

#[tokio::test]
async fn hits_are_batched_by_size_into_bulk_requests() {
    let matomo = MockMatomo::start().await;
    let mut config = config(&matomo.url());
    config.batch_size = 50;
    config.batch_delay = Duration::from_secs(30);
    let tracker = Tracker::new(&config).unwrap();
    for n in 0..120 {
        tracker.track(numbered(1, n));
    }
    let report = tracker.flush(Duration::from_secs(10)).await;
    assert!(report.completed);
    assert_eq!(report.stats.sent, 120);
    assert_eq!(matomo.request_count(), 3, "50 + 50 + 20");
}

#[tokio::test(start_paused = true)]
async fn a_lone_hit_waits_for_the_batch_delay_and_no_longer() {
    let transport = RecordingTransport::new();
    let mut config = config("http://m.example/matomo.php");
    config.batch_delay = Duration::from_secs(2);
    let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
    let start = tokio::time::Instant::now();
    tracker.track(numbered(1, 0));
    tokio::time::sleep(Duration::from_millis(1900)).await;
    assert!(transport.batches().is_empty(), "sent before the delay");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_at = transport.sent_at();
    assert_eq!(sent_at.len(), 1);
    assert!(sent_at[0] - start >= Duration::from_secs(2));
}

fn status(code: u16, retry_after: Option<u64>) -> TransportError {
    TransportError::Status {
        status: code,
        retry_after: retry_after.map(Duration::from_secs),
        endpoint: "test".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_grows_is_capped_and_jittered() {
    let transport = RecordingTransport::new();
    for _ in 0..7 {
        transport.push_result(Err(status(500, None)));
    }
    let mut config = config("http://m.example/matomo.php");
    config.retry_base = Duration::from_millis(100);
    config.retry_cap = Duration::from_millis(800);
    config.max_attempts = 20;
    config.batch_delay = Duration::ZERO;
    let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
    tracker.track(numbered(1, 0));
    let report = tracker.flush(Duration::from_secs(60)).await;
    assert!(report.completed);
    let at = transport.sent_at();
    assert_eq!(at.len(), 8, "7 failures then success");
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let ceiling =
            (Duration::from_millis(100) * 2u32.pow(i as u32)).min(Duration::from_millis(800));
        assert!(
            *gap <= ceiling + Duration::from_millis(1),
            "retry {i}: {gap:?} > {ceiling:?}"
        );
    }
    assert_eq!(report.stats.retried, 7);
    assert_eq!(report.stats.sent, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_and_503_is_honoured() {
    let transport = RecordingTransport::new();
    transport.push_result(Err(status(429, Some(30))));
    transport.push_result(Err(status(503, Some(12))));
    let tracker =
        Tracker::with_transport(&config("http://m.example/matomo.php"), transport.clone()).unwrap();
    tracker.track(numbered(1, 0));
    assert!(tracker.flush(Duration::from_secs(120)).await.completed);
    let at = transport.sent_at();
    assert_eq!(at.len(), 3);
    assert!(at[1] - at[0] >= Duration::from_secs(30));
    assert!(at[2] - at[1] >= Duration::from_secs(12));
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_max_attempts_and_the_hits_are_counted() {
    let transport = RecordingTransport::new();
    for _ in 0..3 {
        transport.push_result(Err(status(502, None)));
    }
    let mut config = config("http://m.example/matomo.php");
    config.max_attempts = 3;
    let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
    tracker.track(numbered(1, 0));
    tracker.track(numbered(1, 1));
    let report = tracker.flush(Duration::from_secs(60)).await;
    assert_eq!(transport.batches().len(), 3);
    assert_eq!(report.stats.dropped[&DropReason::RetriesExhausted], 2);
    assert_eq!(report.pending, 0);
}

#[tokio::test]
async fn permanent_failures_are_not_retried() {
    let matomo = MockMatomo::start().await;
    let url = format!("{}/index.php", matomo.base_url());
    let tracker = Tracker::new(&config(&url)).unwrap();
    tracker.track(numbered(1, 0));
    let report = tracker.flush(Duration::from_secs(5)).await;
    assert_eq!(matomo.request_count(), 1);
    assert_eq!(report.stats.dropped[&DropReason::Permanent], 1);
    assert_eq!(report.stats.retried, 0);
}

#[tokio::test]
async fn rejected_hits_in_a_bulk_are_dropped_and_the_bulk_is_never_resent() {
    let matomo = MockMatomo::builder().token("t0ken").start().await;
    let mut config = config(&matomo.url());
    config.token_auth = Some(matomo_core::TokenAuth::new("t0ken").unwrap());
    let tracker = Tracker::new(&config).unwrap();
    tracker.track(numbered(1, 0));
    tracker.track(
        TrackingRequest::builder(99)
            .url("https://x.example/")
            .build()
            .unwrap(),
    );
    tracker.track(numbered(1, 2));
    let report = tracker.flush(Duration::from_secs(5)).await;
    assert_eq!(matomo.request_count(), 1);
    assert_eq!(report.stats.sent, 2);
    assert_eq!(report.stats.rejected, 1);
    assert_eq!(report.stats.retried, 0);
}

#[tokio::test]
async fn a_bulk_rejection_without_indices_is_not_resent_either() {
    let transport = RecordingTransport::new();
    transport.push_result(Err(TransportError::Rejected {
        tracked: 1,
        invalid: 1,
        indices: None,
        reason: RejectReason::Unspecified,
    }));
    let tracker =
        Tracker::with_transport(&config("http://m.example/matomo.php"), transport.clone()).unwrap();
    tracker.track(numbered(1, 0));
    tracker.track(numbered(1, 1));
    let report = tracker.flush(Duration::from_secs(5)).await;
    assert_eq!(transport.batches().len(), 1);
    assert_eq!((report.stats.sent, report.stats.rejected), (1, 1));
}

#[tokio::test]
async fn with_matomo_black_holed_track_returns_at_once_and_drops_are_counted() {
    let matomo = MockMatomo::start().await;
    matomo.fail_always(Fault::BlackHole);
    let mut config = config(&matomo.url());
    config.queue_capacity = 100;
    config.batch_size = 10;
    config.timeout = Duration::from_secs(30);
    let tracker = Tracker::new(&config).unwrap();
    let start = Instant::now();
    let mut outcomes = Vec::new();
    for n in 0..5_000 {
        outcomes.push(tracker.track(numbered(1, n)));
    }
    let elapsed = start.elapsed();
    // A generous bound: 5,000 calls that never wait on the network.
    assert!(elapsed < Duration::from_secs(2), "track took {elapsed:?}");
    let stats = tracker.stats();
    let full = outcomes
        .iter()
        .filter(|o| **o == Enqueued::Dropped(DropReason::QueueFull))
        .count() as u64;
    assert!(full >= 5_000 - 100 - 10, "dropped {full}");
    assert_eq!(stats.dropped[&DropReason::QueueFull], full);
    assert!(
        stats.pending <= 100 + 10,
        "pending {} exceeds the queue bound",
        stats.pending
    );

    let started = Instant::now();
    let report = tracker.shutdown(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown overran its timeout"
    );
    assert!(!report.completed);
    assert_eq!(report.pending, 0);
    assert_eq!(
        report.stats.dropped_total() + report.stats.sent,
        5_000,
        "every hit accounted for: {report:?}"
    );
}

#[tokio::test]
async fn through_errors_rate_limits_black_holes_and_resets_no_hit_is_lost_and_order_is_kept() {
    let matomo = MockMatomo::start().await;
    for fault in [
        Fault::Status(500),
        Fault::Status(500),
        Fault::RateLimited { retry_after: 1 },
        Fault::BlackHole,
        Fault::Reset,
        Fault::Reset,
        Fault::Status(503),
    ] {
        matomo.fail_next(1, fault);
    }
    let mut config = config(&matomo.url());
    config.timeout = Duration::from_millis(300);
    config.batch_size = 100;
    config.max_attempts = 50;
    let tracker = Tracker::new(&config).unwrap();
    let count = 10_000;
    for n in 0..count {
        assert_eq!(tracker.track(numbered((n % 4) as u8, n)), Enqueued::Queued);
    }
    let report = tracker.shutdown(Duration::from_secs(60)).await;
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.sent as usize, count);
    assert!(report.stats.retried > 0);
    let tracked = matomo.tracked();
    assert_eq!(
        tracked.len(),
        count,
        "a hit was sent twice although its earlier attempt got an answer"
    );
    for visitor in 0..4u8 {
        let seen = numbers(&tracked, visitor);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(seen, sorted, "visitor {visitor} out of order");
        assert_eq!(seen.len(), count / 4);
    }
}

#[tokio::test]
async fn dropping_the_last_handle_still_delivers_what_was_queued() {
    let matomo = MockMatomo::start().await;
    let tracker = Tracker::new(&config(&matomo.url())).unwrap();
    tracker.track(numbered(1, 0));
    drop(tracker);
    assert_eq!(
        matomo
            .wait_for_tracked(1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_bot_is_answered_skipped_and_counted_once_where_it_is_decided() {
    let transport = RecordingTransport::new();
    let tracker =
        Tracker::with_transport(&config("http://m.example/matomo.php"), transport.clone()).unwrap();
    let bot = HttpExchange::builder("GET", "/")
        .header(
            "user-agent",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        )
        .build();
    assert_eq!(
        tracker.track_exchange(bot),
        Enqueued::Skipped(matomo_core::SkipReason::Bot)
    );
    // Never tracked or queued, so no counter has to go back down.
    let before = tracker.stats();
    assert_eq!(before.skipped[&matomo_core::SkipReason::Bot], 1);
    assert_eq!((before.tracked, before.queued, before.pending), (0, 0, 0));
    let report = tracker.flush(Duration::from_secs(5)).await;
    assert!(transport.hits().is_empty());
    assert_eq!(report.stats, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_only_grow() {
    let transport = RecordingTransport::new();
    let tracker =
        Tracker::with_transport(&config("http://m.example/matomo.php"), transport.clone()).unwrap();
    let agents = [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ];
    let mut last = tracker.stats();
    for i in 0..200 {
        let exchange = HttpExchange::builder("GET", &format!("/{i}"))
            .header("user-agent", agents[i % 2])
            .build();
        tracker.track_exchange(exchange);
        tokio::task::yield_now().await;
        let now = tracker.stats();
        for (name, was, is) in [
            ("tracked", last.tracked, now.tracked),
            ("queued", last.queued, now.queued),
            ("sent", last.sent, now.sent),
            (
                "skipped",
                last.skipped.values().sum(),
                now.skipped.values().sum(),
            ),
        ] {
            assert!(is >= was, "{name} went from {was} to {is}");
        }
        last = now;
    }
    let report = tracker.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.sent, 100);
    assert_eq!(report.stats.skipped[&matomo_core::SkipReason::Bot], 100);
    assert_eq!(report.stats.tracked, 100);
}

/// The dispatcher panicked ("all branches are disabled") when the last handle went away.
#[test]
fn dropping_trackers_never_panics_the_dispatcher() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&panics);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        eprintln!("{info}");
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for round in 0..100 {
            let transport = RecordingTransport::new();
            let tracker =
                Tracker::with_transport(&config("http://m.example/matomo.php"), transport.clone())
                    .unwrap();
            match round % 3 {
                // Empty.
                0 => {}
                // After a flush.
                1 => {
                    tracker.track(numbered(1, round));
                    tracker.flush(Duration::from_secs(5)).await;
                }
                // With hits queued.
                _ => {
                    for seq in 0..5 {
                        tracker.track(numbered(1, seq));
                    }
                }
            }
            drop(tracker);
            tokio::task::yield_now().await;
        }
        // Let every dispatcher see its queue close.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    drop(runtime);
    std::panic::set_hook(previous);
    assert_eq!(panics.load(Ordering::SeqCst), 0);
}
