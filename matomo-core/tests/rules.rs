//! `decide`: every rule that can skip a request, and the order they apply in.

use bytes::Bytes;
use matomo_core::{
    decide, is_bot, BotPolicy, Decision, HttpExchange, PathPattern, SkipReason, TrackerConfig,
};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn config() -> TrackerConfig {
    TrackerConfig::new("https://m.example/matomo.php", 1).unwrap()
}

fn request(path: &str) -> matomo_core::ExchangeBuilder {
    HttpExchange::builder("GET", path).header("user-agent", FIREFOX)
}

#[test]
fn ignore_paths_are_prefixes_as_in_the_seed() {
    let mut config = config();
    config.ignore_paths = vec![
        PathPattern::new("/debug/").unwrap(),
        PathPattern::new("/health").unwrap(),
    ];
    let skip = Decision::Skip(SkipReason::IgnoredPath);
    assert_eq!(decide(&config, &request("/debug/toolbar").build()), skip);
    assert_eq!(decide(&config, &request("/healthz").build()), skip);
    assert_eq!(
        decide(&config, &request("/api/debug/").build()),
        Decision::Track
    );
}

#[test]
fn ignore_paths_written_as_text_match_percent_encoded_paths() {
    let mut config = config();
    config.ignore_paths = vec![
        PathPattern::new("/مدونة").unwrap(),
        PathPattern::new("/café/*").unwrap(),
        PathPattern::new("/a%20b").unwrap(),
    ];
    let skip = Decision::Skip(SkipReason::IgnoredPath);
    // As a browser sends them.
    for path in [
        "/%D9%85%D8%AF%D9%88%D9%86%D8%A9/post",
        "/caf%C3%A9/menu",
        "/a%20b",
        "/a%20b/c",
    ] {
        assert_eq!(decide(&config, &request(path).build()), skip, "{path}");
    }
    assert_eq!(
        decide(&config, &request("/caf%C3%A9").build()),
        Decision::Track
    );
}

#[test]
fn ignore_paths_with_wildcards_are_globs_over_the_whole_path() {
    let mut config = config();
    config.ignore_paths = vec![
        PathPattern::new("/static/**/*.css").unwrap(),
        PathPattern::new("/*.ico").unwrap(),
    ];
    let skip = Decision::Skip(SkipReason::IgnoredPath);
    assert_eq!(
        decide(&config, &request("/static/a/b/site.css").build()),
        skip
    );
    assert_eq!(decide(&config, &request("/favicon.ico").build()), skip);
    assert_eq!(
        decide(&config, &request("/static/a/b/site.js").build()),
        Decision::Track
    );
}

#[test]
fn ignored_status_codes_are_skipped() {
    let mut config = config();
    config.ignore_status_codes = vec![404];
    assert_eq!(
        decide(&config, &request("/missing").status(404).build()),
        Decision::Skip(SkipReason::IgnoredStatus)
    );
    assert_eq!(
        decide(&config, &request("/here").status(200).build()),
        Decision::Track
    );
}

#[test]
fn ignore_html_uses_the_content_type() {
    let mut config = config();
    config.ignore_html = true;
    let html = request("/")
        .content_type("text/html; charset=utf-8")
        .build();
    assert_eq!(decide(&config, &html), Decision::Skip(SkipReason::Html));
    let json = request("/api").content_type("application/json").build();
    assert_eq!(decide(&config, &json), Decision::Track);
    for (content_type, html) in [
        (" Text/HTML ;charset=utf-8", true),
        ("text/html\t", true),
        ("TEXT/HTML", true),
        ("text/htmlx", false),
        ("application/xhtml+xml", false),
        ("text/plain; x=text/html", false),
        ("", false),
    ] {
        assert_eq!(
            matomo_core::is_html(Some(content_type), None),
            html,
            "{content_type:?}"
        );
    }
}

#[test]
fn ignore_html_sniffs_the_body_start_in_any_case() {
    let mut config = config();
    config.ignore_html = true;
    for body in [
        &b"<!DOCTYPE HTML><p>"[..],
        b"\n  <HtMl lang=en>",
        b"<!doctype html>",
    ] {
        let exchange = request("/legacy")
            .content_type("application/octet-stream")
            .body_prefix(Bytes::copy_from_slice(body))
            .build();
        assert_eq!(
            decide(&config, &exchange),
            Decision::Skip(SkipReason::Html),
            "{body:?}"
        );
    }
    let text = request("/t")
        .body_prefix(Bytes::from_static(b"plain <b>text</b>"))
        .build();
    assert_eq!(decide(&config, &text), Decision::Track);
}

#[test]
fn html_is_tracked_when_ignore_html_is_off() {
    let html = request("/").content_type("text/html").build();
    assert_eq!(decide(&config(), &html), Decision::Track);
}

#[test]
fn the_method_filter_skips_other_methods() {
    let mut config = config();
    config.methods = vec![http::Method::GET, http::Method::POST];
    let options = HttpExchange::builder("OPTIONS", "/")
        .header("user-agent", FIREFOX)
        .build();
    assert_eq!(
        decide(&config, &options),
        Decision::Skip(SkipReason::Method)
    );
    let post = HttpExchange::builder("POST", "/")
        .header("user-agent", FIREFOX)
        .build();
    assert_eq!(decide(&config, &post), Decision::Track);
}

#[test]
fn do_not_track_and_global_privacy_control_are_honoured_by_default() {
    let config = config();
    assert_eq!(
        decide(&config, &request("/").header("DNT", "1").build()),
        Decision::Skip(SkipReason::DoNotTrack)
    );
    assert_eq!(
        decide(&config, &request("/").header("Sec-GPC", "1").build()),
        Decision::Skip(SkipReason::GlobalPrivacyControl)
    );
    assert_eq!(
        decide(&config, &request("/").header("DNT", "0").build()),
        Decision::Track
    );
}

#[test]
fn do_not_track_can_be_switched_off() {
    let mut config = config();
    config.honor_dnt = false;
    config.honor_gpc = false;
    let exchange = request("/")
        .header("DNT", "1")
        .header("Sec-GPC", "1")
        .build();
    assert_eq!(decide(&config, &exchange), Decision::Track);
}

#[test]
fn bots_are_skipped_by_default_and_tracked_on_request() {
    let bot = HttpExchange::builder("GET", "/")
        .header(
            "user-agent",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        )
        .build();
    assert_eq!(decide(&config(), &bot), Decision::Skip(SkipReason::Bot));
    let mut config = config();
    config.bots = BotPolicy::Track;
    assert_eq!(decide(&config, &bot), Decision::Track);
}

#[test]
fn http_client_libraries_are_clients_not_bots_as_matomo_counts_them() {
    // What calls an API: tracked by default, as Matomo's device detection counts these as
    // clients ("libraries"), not bots.
    for client in [
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Python-urllib/3.12",
        "python-httpx/0.27.0",
        "Python/3.12 aiohttp/3.9.1",
        "PycURL/7.45.2 libcurl/8.5.0",
        "Go-http-client/1.1",
        "Java/17.0.2",
        "Apache-HttpClient/4.5.14 (Java/17.0.2)",
        "okhttp/4.12.0",
        "axios/1.6.0",
        "node-fetch/1.0",
        "GuzzleHttp/7",
        "libwww-perl/6.72",
        "PostmanRuntime/7.36.0",
    ] {
        assert!(!is_bot(Some(client)), "{client}");
        let exchange = HttpExchange::builder("GET", "/api/orders")
            .header("user-agent", client)
            .build();
        assert_eq!(decide(&config(), &exchange), Decision::Track, "{client}");
    }
    // Crawlers still are bots, also when they name a library.
    for bot in [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; SomeCrawler/1.0) python-requests/2.31.0",
        "Scrapy/2.11 (+https://scrapy.org)",
        "PHP/8.3",
    ] {
        assert!(is_bot(Some(bot)), "{bot}");
    }
}

#[test]
fn disabled_tracking_skips_everything() {
    let mut config = config();
    config.enabled = false;
    assert_eq!(
        decide(&config, &request("/").build()),
        Decision::Skip(SkipReason::Disabled)
    );
}
