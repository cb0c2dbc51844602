//! Request-path and dispatcher cost per hit, counted by valgrind (repeatable on a noisy machine).
//!
//! `cargo bench -p matomo-core --bench request_path` runs itself under `valgrind --tool=callgrind`
//! (instructions) and natively under a counting global allocator (heap allocations), at two loop
//! lengths, three alternating rounds, and reports the per-hit difference, so start-up cost cancels
//! out:
//! - request path: what the Rocket fairing does per served request: capture an `HttpExchange` from
//!   a method, a path, a query and eight headers, then `Tracker::track_exchange` (the rules'
//!   decision, the bot verdict from its cache included, and a `try_send` into the queue). The
//!   dispatcher is not polled during the loop. Only the loop is counted, after one warm-up
//!   request that builds the bot regex.
//! - dispatcher: building the hit (identity, privacy, masks), adding it to a batch, and encoding
//!   each full batch as the bulk body the transport posts. Measured twice: with Matomo's `_pk_id`
//!   cookie (the visitor id read from it) and without (derived from IP and user agent). Only the
//!   dispatcher loop is counted (callgrind's `--toggle-collect`), after one warm-up hit: the URL
//!   mask's lazy DFA is built on first use with randomly seeded hash maps, so counting it would move
//!   the figure from one process to the next.
//!
//! Targets: request path <= 2,500 instructions and <= 4 allocations per hit; dispatcher <= 8,000
//! instructions per hit. Needs valgrind for the instruction counts.

use matomo_core::internals::bulk_body;
use matomo_core::{Enqueued, Field, HitBuilder, HttpExchange, Tracker, TrackerConfig, UrlMask};
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The system allocator, counting every allocation (a `realloc` counts as one: it may move).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const HEADERS: [(&str, &str); 8] = [
    ("host", "shop.example"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("accept-language", "de-DE,de;q=0.9,en;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
    ("referer", "https://search.example/?q=boots"),
    ("connection", "keep-alive"),
    // Last, so a request without it is the others.
    (
        "cookie",
        "session=abc123; _pk_id.1.1fff=0123456789abcdef.1700000000.",
    ),
];

fn config() -> TrackerConfig {
    let mut config = TrackerConfig::new("https://matomo.example/matomo.php", 1).unwrap();
    config.ignore_paths = vec![matomo_core::PathPattern::new("/health").unwrap()];
    config.url_masks = vec![UrlMask::new(r"^/users/\d+", "/users/:id").unwrap()];
    config.queue_capacity = 1_000_000;
    config.visitor_id_salt = Some(matomo_core::Salt::new("bench"));
    config
}

/// A browser's request; without its `_pk_id` cookie when `cookie` is false (the visitor id is then
/// derived from IP and user agent, the usual case without Matomo's JavaScript tracker).
fn capture(path: &str, peer: std::net::IpAddr, cookie: bool) -> HttpExchange {
    let mut builder = HttpExchange::builder("GET", path).field(Field::Query, "page=2&sort=price");
    let headers = if cookie {
        &HEADERS[..]
    } else {
        &HEADERS[..HEADERS.len() - 1]
    };
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .peer(peer)
        .status(200)
        .content_type("text/html; charset=utf-8")
        .duration(Duration::from_micros(850))
        .build()
}

fn child(mode: &str, n: usize) {
    let config = config();
    let peer: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    match mode {
        "request-path" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let tracker = Tracker::new(&config).unwrap();
                // Warm-up, outside what callgrind counts: the bot regex is built on first use,
                // with randomly seeded hash maps, so its cost varies from one process to the next.
                tracker.track_exchange(capture("/", peer, true));
                let allocations = ALLOCATIONS.load(Ordering::Relaxed);
                let queued = request_path(&tracker, peer, n);
                assert_eq!(queued, n, "every request is tracked");
                println!(
                    "allocations {}",
                    ALLOCATIONS.load(Ordering::Relaxed) - allocations
                );
                // Leave without dropping the queued exchanges: freeing them is the dispatcher's
                // work, not the request path's.
                std::process::exit(0);
            });
        }
        "dispatcher" | "dispatcher-derived" => {
            let builder = HitBuilder::new(&config).unwrap();
            let exchanges: Vec<HttpExchange> = (0..16)
                .map(|i| capture(&format!("/users/{i}/orders"), peer, mode == "dispatcher"))
                .collect();
            // Warm-up, outside what callgrind counts: the URL mask's lazy DFA is built on first
            // use, with randomly seeded hash maps, so its cost varies from one process to the next.
            let warm = builder.build(&exchanges[0]).unwrap();
            std::hint::black_box(bulk_body(&[warm]));
            let allocations = ALLOCATIONS.load(Ordering::Relaxed);
            let bytes = dispatch(&config, &builder, &exchanges, n);
            std::hint::black_box(bytes);
            println!(
                "allocations {}",
                ALLOCATIONS.load(Ordering::Relaxed) - allocations
            );
        }
        other => panic!("unknown mode {other}"),
    }
}

/// What the fairing does for `n` requests, the only function callgrind counts in "request-path"
/// mode: capture, decide, enqueue. No await: the dispatcher task is never polled while it runs.
#[inline(never)]
fn request_path(tracker: &Tracker, peer: std::net::IpAddr, n: usize) -> usize {
    let mut queued = 0;
    for i in 0..n {
        let path = if i % 2 == 0 {
            "/users/42/orders"
        } else {
            "/catalog/boots"
        };
        if tracker.track_exchange(capture(path, peer, true)) == Enqueued::Queued {
            queued += 1;
        }
    }
    queued
}

/// The dispatcher's work for `n` hits, the only function callgrind counts in "dispatcher" mode: as
/// the dispatcher does it, each hit built and added to a batch, and each full batch encoded as one
/// bulk body (`n` is a multiple of the batch size, so every hit is encoded). Returns the bytes
/// encoded.
#[inline(never)]
fn dispatch(
    config: &TrackerConfig,
    builder: &HitBuilder,
    exchanges: &[HttpExchange],
    n: usize,
) -> usize {
    let mut batch = Vec::with_capacity(config.batch_size);
    let mut bytes = 0;
    for i in 0..n {
        batch.push(builder.build(&exchanges[i % exchanges.len()]).unwrap());
        if batch.len() == config.batch_size {
            bytes += bulk_body(&batch).len();
            batch.clear();
        }
    }
    assert!(batch.is_empty(), "every hit is encoded");
    bytes
}

/// One run of the child: instructions under callgrind (`tool` = "callgrind"), or the allocations
/// the counting allocator saw during the loop, natively (`tool` = "allocations").
fn measure(tool: &str, mode: &str, n: usize) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!(
        "matomo-bench-{}-{mode}-{n}.out",
        std::process::id()
    ));
    let mut command = if tool == "callgrind" {
        let mut command = Command::new("valgrind");
        command
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()));
        command.arg(if mode.starts_with("dispatcher") {
            "--toggle-collect=*request_path::dispatch*"
        } else {
            "--toggle-collect=*request_path::request_path*"
        });
        command.arg(&exe);
        command
    } else {
        Command::new(&exe)
    };
    let output = command
        .args(["child", mode, &n.to_string()])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    if tool == "callgrind" {
        let text = std::fs::read_to_string(&out).ok()?;
        let _ = std::fs::remove_file(&out);
        text.lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    } else {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("allocations ")?.trim().parse().ok())
    }
}

fn per_hit(tool: &str, mode: &str) -> Option<(f64, f64, f64)> {
    let (short, long) = (2_000usize, 4_000usize);
    let mut samples = Vec::new();
    for _ in 0..3 {
        let a = measure(tool, mode, short)?;
        let b = measure(tool, mode, long)?;
        samples.push(b.saturating_sub(a) as f64 / (long - short) as f64);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Some((samples[1], samples[0], samples[2]))
}

fn report(name: &str, value: Option<(f64, f64, f64)>, limit: f64, unit: &str) -> bool {
    match value {
        Some((median, min, max)) => {
            let pass = median <= limit;
            if limit.is_finite() {
                println!(
                    "{name}: {median:.1} {unit}/hit (min {min:.1}, max {max:.1}; target <= {limit}) {}",
                    if pass { "PASS" } else { "FAIL" }
                );
            } else {
                println!("{name}: {median:.1} {unit}/hit (min {min:.1}, max {max:.1})");
            }
            pass
        }
        None => {
            println!("{name}: not measured (is valgrind installed?) FAIL");
            false
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "child") {
        let mode = &args[i + 1];
        let n = args[i + 2].parse().unwrap();
        child(mode, n);
        return;
    }
    println!("per-hit cost, difference of 4,000 and 2,000 iterations, median of 3 rounds:");
    report(
        "request path instructions",
        per_hit("callgrind", "request-path"),
        2_500.0,
        "instructions",
    );
    report(
        "request path allocations",
        per_hit("allocations", "request-path"),
        4.0,
        "allocations",
    );
    report(
        "dispatcher instructions, visitor id from the _pk_id cookie",
        per_hit("callgrind", "dispatcher"),
        8_000.0,
        "instructions",
    );
    report(
        "dispatcher instructions, no cookie (visitor id derived)",
        per_hit("callgrind", "dispatcher-derived"),
        8_000.0,
        "instructions",
    );
    report(
        "dispatcher allocations (no target)",
        per_hit("allocations", "dispatcher"),
        f64::INFINITY,
        "allocations",
    );
}
