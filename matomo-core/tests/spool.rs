//! The spool: hits survive a restart, a crash (`kill -9`), a corrupt file and corrupt records, and
//! the spool stays within its size.
#![cfg(feature = "spool")]

use matomo_core::internals::{read_spool_record, spool_record};
use matomo_core::spool::Spool;
use matomo_core::testing::{Fault, MockMatomo};
use matomo_core::{DropReason, SpoolConfig, Tracker, TrackerConfig, TrackingRequest};
use proptest::prelude::*;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "matomo-spool-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/matomo.php")
}

fn config(url: &str, spool_path: &std::path::Path) -> TrackerConfig {
    let mut config = TrackerConfig::new(url, 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    config.retry_base = Duration::from_millis(20);
    config.retry_cap = Duration::from_millis(200);
    config.max_attempts = 1000;
    config.batch_delay = Duration::from_millis(20);
    let mut spool = SpoolConfig::new(spool_path);
    spool.sync_interval = Duration::from_millis(50);
    config.spool = Some(spool);
    config
}

fn numbered(n: usize) -> TrackingRequest {
    TrackingRequest::builder(1)
        .url(format!("https://shop.example/{n}"))
        .dimension(1, n.to_string())
        .build()
        .unwrap()
}

fn numbers(hits: &[TrackingRequest]) -> Vec<usize> {
    hits.iter()
        .map(|h| h.dimensions()[&1].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn spool_keeps_hits_across_a_restart_and_delivers_them_first_in_order() {
    let dir = temp_dir("restart");
    let path = dir.join("hits.redb");
    {
        let tracker = Tracker::new(&config(&closed_port_url(), &path)).unwrap();
        for n in 0..20 {
            tracker.track(numbered(n));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let report = tracker.shutdown(Duration::from_millis(200)).await;
        assert_eq!(report.stats.sent, 0);
    }
    let matomo = MockMatomo::start().await;
    let tracker = Tracker::new(&config(&matomo.url(), &path)).unwrap();
    assert_eq!(tracker.stats().recovered, 20);
    tracker.track(numbered(20));
    let report = tracker.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed, "{report:?}");
    assert_eq!(numbers(&matomo.tracked()), (0..=20).collect::<Vec<_>>());
    let again = Spool::open(&path, 1 << 20).unwrap().1;
    assert_eq!(
        again.recovered, 0,
        "delivered hits are removed from the spool"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn spool_shutdown_with_matomo_black_holed_returns_in_time_and_loses_nothing() {
    let dir = temp_dir("blackhole");
    let path = dir.join("hits.redb");
    let matomo = MockMatomo::start().await;
    matomo.fail_always(Fault::BlackHole);
    let mut black_holed = config(&matomo.url(), &path);
    black_holed.timeout = Duration::from_secs(30);
    let tracker = Tracker::new(&black_holed).unwrap();
    for n in 0..10 {
        tracker.track(numbered(n));
    }
    let started = std::time::Instant::now();
    let report = tracker.shutdown(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!report.completed);
    matomo.heal();
    let tracker = Tracker::new(&config(&matomo.url(), &path)).unwrap();
    assert!(tracker.shutdown(Duration::from_secs(10)).await.completed);
    assert_eq!(numbers(&matomo.tracked()), (0..10).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_corrupt_spool_file_is_moved_aside_counted_and_startup_goes_on() {
    let dir = temp_dir("corrupt-file");
    let path = dir.join("hits.redb");
    std::fs::write(
        &path,
        b"this is not a redb database, just bytes from a broken disk",
    )
    .unwrap();
    let matomo = MockMatomo::start().await;
    let tracker = Tracker::new(&config(&matomo.url(), &path)).unwrap();
    assert_eq!(tracker.stats().dropped[&DropReason::Corrupt], 1);
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "the unreadable file is kept for inspection");
    tracker.track(numbered(1));
    assert!(tracker.shutdown(Duration::from_secs(10)).await.completed);
    assert_eq!(numbers(&matomo.tracked()), vec![1]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn corrupt_spool_records_are_skipped_and_counted() {
    let dir = temp_dir("corrupt-record");
    let path = dir.join("hits.redb");
    {
        let (mut spool, _) = Spool::open(&path, 1 << 20).unwrap();
        spool.append(&[(now_ms(), &numbered(0))]).unwrap();
        spool.insert_raw(b"\x01torn").unwrap();
        let mut flipped = spool_record(now_ms(), &numbered(99));
        let last = flipped.len() - 1;
        flipped[last] ^= 0x20;
        spool.insert_raw(&flipped).unwrap();
        spool.append(&[(now_ms(), &numbered(1))]).unwrap();
    }
    let matomo = MockMatomo::start().await;
    let tracker = Tracker::new(&config(&matomo.url(), &path)).unwrap();
    assert_eq!(tracker.stats().recovered, 4);
    let report = tracker.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed);
    assert_eq!(numbers(&matomo.tracked()), vec![0, 1]);
    assert_eq!(report.stats.dropped[&DropReason::Corrupt], 2);
    assert_eq!(report.pending, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn spool_max_bytes_drops_the_oldest_hits_and_counts_them() {
    let dir = temp_dir("full");
    let path = dir.join("hits.redb");
    let (mut spool, _) = Spool::open(&path, 2_000).unwrap();
    let record = spool_record(0, &numbered(0)).len() as u64;
    let mut evicted = 0;
    for n in 0..100 {
        evicted += spool.append(&[(now_ms(), &numbered(n))]).unwrap();
    }
    assert!(spool.len() * record <= 2_000 + record);
    assert_eq!(evicted + spool.len(), 100);
    let (oldest, _) = spool.oldest(1).unwrap();
    assert_eq!(
        numbers(&[oldest[0].hit.clone()]),
        vec![(100 - spool.len()) as usize]
    );
    drop(spool);
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #[test]
    fn spool_records_never_panic_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_spool_record(&bytes);
    }

    #[test]
    fn spool_records_round_trip(n in 0usize..1_000_000, at in any::<u64>()) {
        let hit = numbered(n);
        let (when, back) = read_spool_record(&spool_record(at, &hit)).unwrap();
        prop_assert_eq!(when, at);
        prop_assert_eq!(back, hit);
    }
}

const CHILD_ENV: &str = "MATOMO_SPOOL_KILL_CHILD";
const SYNC_MS: u64 = 300;

/// Run by `kill_9_*` as a child process: tracks numbered hits into a spool, with Matomo unreachable,
/// printing `tracked N UNIX_MS` after each, until it is killed (or 20 s pass).
#[test]
#[ignore = "a helper run as a child process by kill_9_with_the_spool_on_loses_no_hit_older_than_the_sync_interval"]
fn spool_kill_child_process() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = config(&closed_port_url(), std::path::Path::new(&path));
        if let Some(spool) = config.spool.as_mut() {
            spool.sync_interval = Duration::from_millis(SYNC_MS);
        }
        let tracker = Tracker::new(&config).unwrap();
        let started = std::time::Instant::now();
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(20) {
            tracker.track(numbered(n));
            println!("tracked {n} {}", now_ms());
            n += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
}

#[tokio::test]
async fn kill_9_with_the_spool_on_loses_no_hit_older_than_the_sync_interval() {
    let dir = temp_dir("kill");
    let path = dir.join("hits.redb");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "spool_kill_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let mut parts = line.split_whitespace();
            if parts.next() == Some("tracked") {
                let n: usize = parts.next().unwrap().parse().unwrap();
                let at: u64 = parts.next().unwrap().parse().unwrap();
                if tx.send((n, at)).is_err() {
                    return;
                }
            }
        }
    });
    let mut tracked = Vec::new();
    while tracked.len() < 600 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(entry) => tracked.push(entry),
            Err(_) => break,
        }
    }
    let killed_at = now_ms();
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        tracked.len() >= 600,
        "the child tracked only {} hits",
        tracked.len()
    );
    let must_survive: Vec<usize> = tracked
        .iter()
        .filter(|(_, at)| *at + SYNC_MS < killed_at)
        .map(|(n, _)| *n)
        .collect();
    assert!(!must_survive.is_empty());

    let matomo = MockMatomo::start().await;
    let mut restarted = config(&matomo.url(), &path);
    restarted.batch_size = 100;
    let tracker = Tracker::new(&restarted).unwrap();
    let report = tracker.shutdown(Duration::from_secs(30)).await;
    assert!(report.completed, "{report:?}");
    let delivered = numbers(&matomo.tracked());
    let mut sorted = delivered.clone();
    sorted.sort_unstable();
    assert_eq!(delivered, sorted, "delivered in the order tracked");
    for n in &must_survive {
        assert!(
            delivered.binary_search(n).is_ok(),
            "hit {n}, tracked more than {SYNC_MS} ms before the kill, was lost; delivered {} of {} tracked, last {:?}, tracked {:?}, killed at {killed_at}",
            delivered.len(),
            tracked.len(),
            delivered.last(),
            tracked.iter().find(|(m, _)| m == n),
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
