//! Tracking must not cost the app: a Rocket hello-world with the fairing against the same app
//! without it, side by side, in three states of Matomo (healthy stand-in, black-holed, answering
//! 500). Needs `wrk` and `hey` (Debian packages); everything runs on 127.0.0.1.
//!
//! `cargo bench -p matomo-rocket --bench load` prints, per target, the median with min and max of
//! five alternating rounds, and PASS or FAIL:
//! 1. throughput: tracked/bare requests per second at saturation (wrk) >= 0.85 with Matomo
//!    healthy, >= 0.90 with Matomo black-holed or answering 500;
//! 2. latency: at half the bare saturation rate (hey), tracked p99 / bare p99 <= 1.20 in every
//!    state;
//! 3. memory, measured first, from an idle start: 60 s at saturation with Matomo black-holed; the
//!    process's peak RSS grows by no more than the bound the queue capacity implies, and every
//!    request is counted. The queue it fills is then delivered before the other rounds.
//!
//! `LOAD_SECONDS` (default 5) sets the length of each throughput and latency run, `MEMORY_SECONDS`
//! (default 60; 0 skips it) the memory run, `LOAD_STATES` (e.g. `healthy`) which states of Matomo
//! are measured, `LOAD_BATCH_SIZE` the tracked app's `batch_size` (default the tracker's, 50).

#[macro_use]
extern crate rocket;

use matomo_core::testing::{Fault, MockMatomo};
use matomo_core::Tracker;
use matomo_rocket::MatomoFairing;
use rocket::figment::Figment;
use std::process::Command;
use std::time::Duration;

#[get("/")]
fn hello() -> &'static str {
    "Hello, world!"
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The tracked app's queue capacity, which bounds its memory with Matomo down.
const QUEUE_CAPACITY: usize = 10_000;

/// The tracked app's `batch_size`: the tracker's own default unless `LOAD_BATCH_SIZE` says
/// otherwise.
fn batch_size() -> usize {
    std::env::var("LOAD_BATCH_SIZE")
        .ok()
        .and_then(|b| b.parse::<usize>().ok())
        .unwrap_or(
            matomo_core::TrackerConfig::new("http://127.0.0.1/matomo.php", 1)
                .unwrap()
                .batch_size,
        )
}

/// Starts a Rocket app on its own thread and runtime; returns its port and, when tracked (with
/// `QUEUE_CAPACITY` and `batch_size`), its Tracker.
fn start(matomo_url: Option<&str>, batch_size: usize) -> (u16, Option<Tracker>) {
    let port = free_port();
    let mut figment = Figment::from(rocket::Config::release_default())
        .merge(("port", port))
        .merge(("address", "127.0.0.1"))
        .merge(("log_level", "off"))
        .merge(("workers", 2));
    let tracked = matomo_url.is_some();
    if let Some(url) = matomo_url {
        figment = figment.merge((
            "matomo",
            serde_json::json!({
                "url": url,
                "site_id": 1,
                "proxy": "none",
                "timeout": 30,
                "queue_capacity": QUEUE_CAPACITY,
                "batch_size": batch_size,
            }),
        ));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        rocket::execute(async move {
            let mut app = rocket::custom(figment).mount("/", routes![hello]);
            if tracked {
                app = app.attach(MatomoFairing::new());
            }
            let ignited = app.ignite().await.expect("ignites");
            let _ = tx.send(ignited.state::<Tracker>().cloned());
            let _ = ignited.launch().await;
        })
    });
    let tracker = rx.recv().expect("the app starts");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (port, tracker)
}

fn wrk(port: u16, seconds: u64) -> f64 {
    let output = Command::new("wrk")
        .args([
            "-t1",
            "-c32",
            &format!("-d{seconds}s"),
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// p99 latency in milliseconds at `rate` requests per second, from the time of every response
/// (`hey -o csv`).
fn hey(port: u16, rate: f64, seconds: u64) -> f64 {
    let workers = 16.0;
    let per_worker = (rate / workers).max(1.0);
    let output = Command::new("hey")
        .args([
            "-z",
            &format!("{seconds}s"),
            "-c",
            &format!("{workers}"),
            "-q",
            &format!("{per_worker:.0}"),
            "-o",
            "csv",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("hey is installed (apt-get install hey)");
    let text = String::from_utf8_lossy(&output.stdout);
    // `response-time,DNS+dialup,...` then one line per response, in seconds.
    let mut millis: Vec<f64> = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').next()?.parse::<f64>().ok())
        .map(|secs| secs * 1000.0)
        .collect();
    p99(&mut millis)
}

/// The 99th percentile of latencies that hey rounds to 0.1 ms (about a tenth of a p99 here), read
/// between the roundings: the samples rounded to the value the percentile falls on are taken as
/// spread evenly over the 0.1 ms they stand for, as histogram quantiles are read. A ratio of two
/// p99s then moves with the latencies instead of in steps of about 0.1.
fn p99(millis: &mut [f64]) -> f64 {
    const STEP: f64 = 0.1;
    if millis.is_empty() {
        return f64::NAN;
    }
    millis.sort_by(|a, b| a.total_cmp(b));
    // How many samples lie below the percentile.
    let rank = 0.99 * millis.len() as f64;
    let value = millis[(rank as usize).min(millis.len() - 1)];
    let first = millis.partition_point(|&m| m < value - STEP / 2.0);
    let past = millis.partition_point(|&m| m < value + STEP / 2.0);
    let within = (rank - first as f64) / (past - first) as f64;
    value - STEP / 2.0 + STEP * within.clamp(0.0, 1.0)
}

/// `measure` of the bare and the tracked app, side by side in five rounds that alternate which goes
/// first: (bare, tracked) per round. Five, not three: on this shared machine one round's ratio
/// moves by several percent (latency at a fixed rate the most), and the median of five is steadier.
fn side_by_side(mut measure: impl FnMut(u16) -> f64, bare: u16, tracked: u16) -> Vec<(f64, f64)> {
    (0..5)
        .map(|round| {
            if round % 2 == 0 {
                let b = measure(bare);
                (b, measure(tracked))
            } else {
                let t = measure(tracked);
                (measure(bare), t)
            }
        })
        .collect()
}

fn stats(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    (
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
    )
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn set_state(matomo: &MockMatomo, state: &str) {
    matomo.heal();
    match state {
        "black-holed" => matomo.fail_always(Fault::BlackHole),
        "answering 500" => matomo.fail_always(Fault::Status(500)),
        _ => {}
    }
}

/// 60 s (`seconds`) at saturation with Matomo black-holed, from an idle start: the process's peak
/// RSS must not grow past what the queue capacity implies, and every request must be counted. Run
/// before the other measurements: the stand-in (wiremock) keeps a copy of every request it
/// answers, so the process's memory after the healthy rounds says nothing about the tracker's.
fn memory(matomo: &MockMatomo, tracker: &Tracker, tracked: u16, batch_size: usize, seconds: u64) {
    set_state(matomo, "black-holed");
    let before = vm_hwm_kib();
    let stats_before = tracker.stats();
    let requests = wrk(tracked, seconds) * seconds as f64;
    let after = vm_hwm_kib();
    let stats_after = tracker.stats();
    // Each queued hit holds one HttpExchange (about 0.5 KiB with its text) plus one batch in flight.
    let bound_kib = ((QUEUE_CAPACITY * 1024 + batch_size * 4096) / 1024 + 16 * 1024) as u64;
    let grown = after.saturating_sub(before);
    // Every request the tracker saw: queued, dropped or skipped.
    let seen = |stats: &matomo_core::Stats| {
        stats.queued + stats.dropped_total() + stats.skipped.values().sum::<u64>()
    };
    let counted = seen(&stats_after).saturating_sub(seen(&stats_before));
    println!(
        "memory, {seconds} s at saturation with Matomo black-holed: peak RSS {before} -> {after} KiB, grew {grown} KiB (bound {bound_kib} KiB: queue of {QUEUE_CAPACITY} hits + one batch of {batch_size} + 16 MiB slack) {}",
        verdict(grown <= bound_kib)
    );
    let queue_full = |stats: &matomo_core::Stats| {
        stats
            .dropped
            .get(&matomo_core::DropReason::QueueFull)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "  ~{requests:.0} requests served (wrk's rate x seconds); {counted} counted by the tracker in the run (queued, or dropped: queue_full {})",
        queue_full(&stats_after) - queue_full(&stats_before)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` asks; the benchmark runs only under `cargo bench`.
    }
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let matomo = runtime.block_on(MockMatomo::builder().keep_hits(false).start());
    let batch_size = batch_size();
    let (bare, _) = start(None, batch_size);
    let (tracked, tracker) = start(Some(&matomo.url()), batch_size);
    let tracker = tracker.expect("the tracked app manages a Tracker");
    println!(
        "machine: {} cores; rounds alternate bare/tracked; {seconds} s per run",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let memory_seconds: u64 = std::env::var("MEMORY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // `MEMORY_SECONDS=0` skips the memory run.
    if memory_seconds > 0 {
        memory(&matomo, &tracker, tracked, batch_size, memory_seconds);
        // The queue the run filled is delivered before the rounds, so none of them pays for it.
        matomo.heal();
        let flushed = runtime.block_on(tracker.flush(Duration::from_secs(120)));
        println!(
            "  then delivered to the healed stand-in: {} (pending {})",
            if flushed.completed { "all" } else { "not all" },
            flushed.pending
        );
    }

    // `LOAD_STATES=healthy,answering 500` runs a subset (e.g. while profiling one state).
    let only = std::env::var("LOAD_STATES").ok();
    let states: Vec<&str> = ["healthy", "black-holed", "answering 500"]
        .into_iter()
        .filter(|state| {
            only.as_deref()
                .is_none_or(|only| only.split(',').any(|s| s.trim() == *state))
        })
        .collect();
    let mut bare_saturation = Vec::new();
    for &state in &states {
        set_state(&matomo, state);
        let rounds = side_by_side(|port| wrk(port, seconds), bare, tracked);
        bare_saturation.extend(rounds.iter().map(|&(b, _)| b));
        let (median, min, max) = stats(rounds.iter().map(|&(b, t)| t / b).collect());
        let target = if state == "healthy" { 0.85 } else { 0.90 };
        println!(
            "throughput tracked/bare, Matomo {state}: {median:.3} (min {min:.3}, max {max:.3}; target >= {target:.2}) {}",
            verdict(median >= target)
        );
    }

    let (saturation, _, _) = stats(bare_saturation);
    let rate = saturation / 2.0;
    for &state in &states {
        set_state(&matomo, state);
        let rounds = side_by_side(|port| hey(port, rate, seconds), bare, tracked);
        let (median, min, max) = stats(rounds.iter().map(|&(b, t)| t / b).collect());
        println!(
            "p99 latency tracked/bare at {rate:.0} req/s, Matomo {state}: {median:.3} (min {min:.3}, max {max:.3}; target <= 1.20) {}",
            verdict(median <= 1.20)
        );
    }

    matomo.heal();
}
