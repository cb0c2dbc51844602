//! The decision rules: whether a served request becomes a hit.
//!
//! [`decide`] applies, in order: `enabled`, the method filter, `ignore_paths`, `ignore_status_codes`,
//! Do-Not-Track and Global Privacy Control, `ignore_html`, and bots. The first rule that says no wins
//! and names itself in the [`SkipReason`], so a skipped request can be counted by reason.
//!
//! The bot rule is the one expensive step (a large regex over the user agent), and a site's traffic
//! repeats a few hundred user agents: each verdict is kept in a bounded cache (see [`is_bot`]).

use crate::config::{BotPolicy, TrackerConfig};
use crate::exchange::{Field, HttpExchange};
use quick_cache::sync::Cache;
use std::fmt;
use std::sync::LazyLock;

/// Whether a request is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Track it.
    Track,
    /// Do not track it, for this reason.
    Skip(SkipReason),
}

/// Why a request was not tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// Tracking is turned off (`enabled = false`).
    Disabled,
    /// The method is not in `methods`.
    Method,
    /// The path matches `ignore_paths`.
    IgnoredPath,
    /// The status is in `ignore_status_codes`.
    IgnoredStatus,
    /// The request carried `DNT: 1`.
    DoNotTrack,
    /// The request carried `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// The response is HTML and `ignore_html` is on.
    Html,
    /// The user agent is a known bot and `bots = "skip"`.
    Bot,
}

impl SkipReason {
    /// Every reason, in declaration order (a reason's counter is at `reason as usize`).
    pub const ALL: [SkipReason; 8] = [
        SkipReason::Disabled,
        SkipReason::Method,
        SkipReason::IgnoredPath,
        SkipReason::IgnoredStatus,
        SkipReason::DoNotTrack,
        SkipReason::GlobalPrivacyControl,
        SkipReason::Html,
        SkipReason::Bot,
    ];

    /// A short stable name, e.g. `ignored_path`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Disabled => "disabled",
            SkipReason::Method => "method",
            SkipReason::IgnoredPath => "ignored_path",
            SkipReason::IgnoredStatus => "ignored_status",
            SkipReason::DoNotTrack => "do_not_track",
            SkipReason::GlobalPrivacyControl => "global_privacy_control",
            SkipReason::Html => "html",
            SkipReason::Bot => "bot",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides whether `exchange` is tracked under `config`.
///
/// ```
/// use matomo_core::{decide, Decision, HttpExchange, SkipReason, TrackerConfig};
/// let mut config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
/// config.ignore_paths = vec![matomo_core::PathPattern::new("/health").unwrap()];
/// let health = HttpExchange::builder("GET", "/health/live").build();
/// assert_eq!(decide(&config, &health), Decision::Skip(SkipReason::IgnoredPath));
/// let page = HttpExchange::builder("GET", "/about").build();
/// assert_eq!(decide(&config, &page), Decision::Track);
/// ```
pub fn decide(config: &TrackerConfig, exchange: &HttpExchange) -> Decision {
    match skip_reason(config, exchange) {
        Some(reason) => Decision::Skip(reason),
        None => Decision::Track,
    }
}

fn skip_reason(config: &TrackerConfig, exchange: &HttpExchange) -> Option<SkipReason> {
    if !config.enabled {
        return Some(SkipReason::Disabled);
    }
    if !config.methods.is_empty()
        && !config
            .methods
            .iter()
            .any(|m| m.as_str().eq_ignore_ascii_case(exchange.method()))
    {
        return Some(SkipReason::Method);
    }
    let path = exchange.path();
    if config.ignore_paths.iter().any(|p| p.matches(path)) {
        return Some(SkipReason::IgnoredPath);
    }
    if config.ignore_status_codes.contains(&exchange.status()) {
        return Some(SkipReason::IgnoredStatus);
    }
    if config.honor_dnt && exchange.do_not_track() {
        return Some(SkipReason::DoNotTrack);
    }
    if config.honor_gpc && exchange.global_privacy_control() {
        return Some(SkipReason::GlobalPrivacyControl);
    }
    if config.ignore_html && is_html(exchange.get(Field::ContentType), exchange.body_prefix()) {
        return Some(SkipReason::Html);
    }
    if config.bots == BotPolicy::Skip && is_bot(exchange.get(Field::UserAgent)) {
        return Some(SkipReason::Bot);
    }
    None
}

/// The seed's HTML test: a `text/html` content type, or a body start that contains `<html` or
/// `<!doctype html` in any case.
///
/// ```
/// use matomo_core::is_html;
/// assert!(is_html(Some("text/html; charset=utf-8"), None));
/// assert!(is_html(None, Some(b"  <!DOCTYPE HTML><html>")));
/// assert!(!is_html(Some("application/json"), Some(b"{\"html\": 1}")));
/// ```
pub fn is_html(content_type: Option<&str>, body_prefix: Option<&[u8]>) -> bool {
    // The media type before any parameters, without the blanks HTTP allows around it.
    let typed_html = content_type.is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default();
        mime.trim_ascii().eq_ignore_ascii_case("text/html")
    });
    typed_html
        || body_prefix.is_some_and(|body| {
            contains_ignore_case(body, b"<html") || contains_ignore_case(body, b"<!doctype html")
        })
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The `isbot` patterns of HTTP client libraries. Matomo's own device detection counts these as
/// clients (its `libraries` list), not as bots, and tracks them; an API's callers mostly are such
/// clients.
const CLIENT_LIBRARIES: [&str; 16] = [
    "^curl",
    "pycurl",
    "wget",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "^java/",
    "httpclient",
    "okhttp",
    "axios",
    "node-fetch/",
    "guzzlehttp",
    "libwww-perl",
    "^postmanruntime",
];

static BOTS: LazyLock<isbot::Bots> = LazyLock::new(|| {
    let mut bots = isbot::Bots::default();
    bots.remove(&CLIENT_LIBRARIES);
    bots
});

/// Whether a user agent is a known bot: the `isbot` project's list, without the HTTP client
/// libraries (curl, Wget, python-requests, Go-http-client, Java, OkHttp, axios, node-fetch,
/// Apache HttpClient, Postman, ...), which Matomo's own device detection counts as clients and
/// tracks. A missing or empty user agent is not counted as a bot: nothing is known about it.
///
/// ```
/// use matomo_core::is_bot;
/// assert!(is_bot(Some("Googlebot/2.1 (+http://www.google.com/bot.html)")));
/// assert!(!is_bot(Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")));
/// // An API's caller is a client, as Matomo sees it.
/// assert!(!is_bot(Some("curl/8.5.0")));
/// ```
///
/// Verdicts are kept for the 1,024 user agents seen last (of up to 512 bytes each; a longer one is
/// scanned each time), so the regex scans each user agent about once.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    let ua = match user_agent.map(str::trim) {
        None | Some("") => return false,
        Some(ua) => ua,
    };
    if ua.len() > LONGEST_CACHED {
        return BOTS.is_bot(ua);
    }
    if let Some(verdict) = VERDICTS.get(ua) {
        return verdict;
    }
    let verdict = BOTS.is_bot(ua);
    VERDICTS.insert(ua.to_owned(), verdict);
    verdict
}

/// How many user agents' verdicts are kept.
const CACHED_VERDICTS: usize = 1024;
/// The longest user agent whose verdict is kept, in bytes: browsers send a few hundred.
const LONGEST_CACHED: usize = 512;

static VERDICTS: LazyLock<Cache<String, bool>> = LazyLock::new(|| Cache::new(CACHED_VERDICTS));

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Cached or not, every verdict is the regex's own, for user agents that repeat (drawn
        /// from real ones, bots among them) and ones that never do.
        #[test]
        fn verdicts_are_the_regexs(picks in proptest::collection::vec((0usize..5, "[ -~]{0,40}"), 1..60)) {
            const SEEN: [&str; 5] = [
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Googlebot/2.1 (+http://www.google.com/bot.html)",
                "curl/8.5.0",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                " ",
            ];
            for (pick, random) in &picks {
                for ua in [SEEN[*pick], random.as_str()] {
                    let expected = !ua.trim().is_empty() && BOTS.is_bot(ua.trim());
                    proptest::prop_assert_eq!(is_bot(Some(ua)), expected, "{:?}", ua);
                }
            }
        }
    }

    #[test]
    fn the_cache_stays_bounded() {
        for i in 0..3 * CACHED_VERDICTS {
            assert!(is_bot(Some(&format!(
                "examplebot/{i}.0 (+https://bot.example/)"
            ))));
        }
        assert!(VERDICTS.len() <= CACHED_VERDICTS);
        let long = format!("Googlebot/2.1 {}", "x".repeat(LONGEST_CACHED));
        assert!(is_bot(Some(&long)));
        assert!(VERDICTS.get(long.as_str()).is_none());
    }
}
