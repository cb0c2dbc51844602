//! `TrackerConfig`: every setting, its default, and how it is loaded (from TOML, JSON, `MATOMO_*`
//! variables or a figment) and checked ([`TrackerConfig::validate`]).
//!
//! The Django seed's keys work unchanged (`url`, `site_id`, `ignore_paths`, `token_auth`,
//! `ignore_html`, `timeout`), so its settings port one to one. A config comes from code
//! ([`TrackerConfig::new`]), from TOML or JSON, from `MATOMO_*` environment variables, or from any
//! [`figment::Figment`] (the Rocket fairing reads Rocket's own). Every way ends in
//! [`TrackerConfig::validate`], whose [`ConfigError`] names the key and the fix.

mod load;
mod validate;

use crate::privacy::UrlMask;
use crate::secret::{Salt, TokenAuth};
use globset::{Glob, GlobMatcher};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The settings of a tracker. Build one with [`TrackerConfig::new`] or load one; then
/// [`TrackerConfig::validate`] it.
///
/// ```
/// use matomo_core::TrackerConfig;
/// let config = TrackerConfig::from_toml_str(r#"
///     url = "https://matomo.example.org/matomo.php"
///     site_id = 3
///     ignore_paths = ["/health", "/static/*"]
/// "#).unwrap();
/// assert_eq!(config.site_id, 3);
/// assert_eq!(config.anonymize_ip_bytes, 2); // the default
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TrackerConfig {
    /// Track at all. Default `true`; `false` keeps the integration in place but sends nothing.
    pub enabled: bool,
    /// The tracker endpoint, e.g. `https://matomo.example.org/matomo.php`. Required (seed: `url`);
    /// parsed when the config is loaded.
    #[serde(deserialize_with = "load::http_url")]
    pub url: Option<Url>,
    /// The Matomo site id (Administration > Websites > Manage). Required, 1 or more (seed: `site_id`).
    pub site_id: u32,
    /// A token with write access to the site. Default none. With it the visitor's IP goes out as
    /// `cip`, and hits older than 24 hours are accepted (seed: `token_auth`).
    pub token_auth: Option<TokenAuth>,
    /// Paths never tracked. A plain entry is a prefix, as in the seed (`/health` skips
    /// `/health/live`); an entry with `*`, `?`, `[` or `{` is a glob over the whole path
    /// (`/static/**/*.css`). Default none (seed: `ignore_paths`).
    pub ignore_paths: Vec<PathPattern>,
    /// Skip HTML responses: `text/html` content, or a body starting with `<html` or `<!doctype html`
    /// (case-insensitive), where a JavaScript tag probably tracks already. Default `false`
    /// (seed: `ignore_html`).
    pub ignore_html: bool,
    /// Response status codes never tracked, e.g. `[404, 500]`. Default none.
    pub ignore_status_codes: Vec<u16>,
    /// Only these request methods are tracked (written in any case). Default empty: all methods.
    #[serde(deserialize_with = "load::methods")]
    pub methods: Vec<http::Method>,
    /// Send the matched route's URI template (e.g. `/users/<id>`) instead of the path, where the
    /// framework names one. Default `false`.
    pub mask_with_route_template: bool,
    /// Regex rewrites of the path before it is sent, in order, e.g.
    /// `{ pattern = "^/users/\\d+", replacement = "/users/:id" }`. Default none.
    pub url_masks: Vec<UrlMask>,
    /// Query parameters whose values are replaced by `REDACTED` (case-insensitive names). Default:
    /// [`DEFAULT_REDACTED_PARAMS`]. The query string itself is kept (the seed dropped it).
    pub redact_query_params: Vec<String>,
    /// The public base URL of the site, e.g. `https://example.org`, used to build each hit's `url`.
    /// Default none: scheme and `Host` header of the request.
    #[serde(deserialize_with = "load::http_url")]
    pub site_base_url: Option<Url>,
    /// How long one delivery to Matomo may take, in seconds. Default 10 (seed: `timeout`).
    #[serde(deserialize_with = "load::seconds")]
    pub timeout: Duration,
    /// How long connecting to Matomo may take, in seconds. Default 5.
    #[serde(deserialize_with = "load::seconds")]
    pub connect_timeout: Duration,
    /// Skip requests that carry `DNT: 1`. Default `true`.
    pub honor_dnt: bool,
    /// Skip requests that carry `Sec-GPC: 1`. Default `true`.
    pub honor_gpc: bool,
    /// What to do with requests from bots (by user agent). Default `skip`.
    pub bots: BotPolicy,
    /// How many trailing bytes of an IPv4 address are zeroed before it is used or sent (0-3; IPv6 is
    /// masked to /64, /48, /32 alike). Default 2.
    pub anonymize_ip_bytes: u8,
    /// Proxies whose forwarding headers (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) are believed,
    /// as addresses or CIDR ranges. Default none: the peer address is the client.
    #[serde(deserialize_with = "load::networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// The secret salt for visitor ids derived from IP and user agent. Default: random at start-up
    /// (ids then change at restart); set it for ids that last.
    pub visitor_id_salt: Option<Salt>,
    /// Set a first-party cookie holding the visitor id. Default `false` (it needs consent).
    pub visitor_cookie: bool,
    /// A PEM file of extra root certificates (an internal CA). Default none: the public web roots.
    pub tls_ca_file: Option<PathBuf>,
    /// An HTTP proxy for reaching Matomo, e.g. `http://proxy.internal:3128`, or `"none"`
    /// ([`Proxy::Direct`]) to connect directly whatever the environment says. An `https://` Matomo is reached through a
    /// CONNECT tunnel; an `http://` one by handing the proxy each request with its full URL, as HTTP
    /// proxies expect. `NO_PROXY` (hosts, domains with their subdomains, IP addresses and CIDR
    /// ranges, or `*`) exempts Matomo's host from any proxy. Default unset: the
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` environment variables decide, and only there may the
    /// proxy's URL carry credentials (`http://user:password@host:port`, sent as
    /// `Proxy-Authorization`): settings are shown in `Debug` output and logs.
    pub proxy: Option<Proxy>,
    /// How many hits may wait for delivery; beyond it new hits are dropped and counted
    /// (`MATOMO_QUEUE_CAPACITY`). Default 10000.
    pub queue_capacity: usize,
    /// How many hits go in one bulk request at most (`MATOMO_BATCH_SIZE`). Default 50.
    pub batch_size: usize,
    /// How long a hit may wait for others to fill a batch, in seconds (`MATOMO_BATCH_DELAY`).
    /// Default 1.
    #[serde(deserialize_with = "load::seconds")]
    pub batch_delay: Duration,
    /// How many times a batch is sent at most before its hits are dropped (`MATOMO_MAX_ATTEMPTS`).
    /// Default 10.
    pub max_attempts: u32,
    /// The first retry's delay ceiling in seconds; it doubles per attempt, with full jitter
    /// (`MATOMO_RETRY_BASE`). Default 0.5.
    #[serde(deserialize_with = "load::seconds")]
    pub retry_base: Duration,
    /// The largest retry delay in seconds (`MATOMO_RETRY_CAP`). Default 60.
    #[serde(deserialize_with = "load::seconds")]
    pub retry_cap: Duration,
    /// How old a hit may grow while undelivered before it is dropped, in seconds
    /// (`MATOMO_MAX_HIT_AGE`). Default 82800 (23 hours: Matomo wants a token past 24).
    #[serde(deserialize_with = "load::seconds")]
    pub max_hit_age: Duration,
    /// The on-disk spool (feature `spool`), e.g. `spool = { path = "/var/lib/app/matomo.redb" }`
    /// (`MATOMO_SPOOL='{path="..."}'`). Default none: hits wait in memory only.
    pub spool: Option<SpoolConfig>,
}

/// Settings of the on-disk spool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SpoolConfig {
    /// The spool file (a redb database); its directory must exist. Required.
    pub path: PathBuf,
    /// How often new hits are written to disk, in seconds: a hit tracked longer ago than this
    /// before a crash is delivered after restart. Default 0.2.
    #[serde(default = "default_sync_interval", deserialize_with = "load::seconds")]
    pub sync_interval: Duration,
    /// How many bytes of hits the spool holds at most; beyond it the oldest are dropped and counted.
    /// Default 67108864 (64 MiB).
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
}

impl SpoolConfig {
    /// A spool at `path` with the default interval and size.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sync_interval: default_sync_interval(),
            max_bytes: default_spool_bytes(),
        }
    }
}

fn default_sync_interval() -> Duration {
    Duration::from_millis(200)
}

fn default_spool_bytes() -> u64 {
    64 * 1024 * 1024
}

/// How Matomo is reached (the `proxy` setting); unset, the environment decides.
///
/// ```
/// use matomo_core::Proxy;
/// assert_eq!("none".parse::<Proxy>().unwrap(), Proxy::Direct);
/// let proxy: Proxy = "http://proxy.internal:3128".parse().unwrap();
/// assert!(matches!(proxy, Proxy::Http(url) if url.port() == Some(3128)));
/// assert!("http://user:secret@proxy.internal:3128".parse::<Proxy>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// `"none"`: directly, whatever `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` say.
    Direct,
    /// Through this HTTP proxy.
    Http(Url),
}

impl std::str::FromStr for Proxy {
    type Err = ConfigError;

    fn from_str(raw: &str) -> Result<Self, ConfigError> {
        if raw.trim().eq_ignore_ascii_case("none") {
            return Ok(Proxy::Direct);
        }
        validate::parse_http_url("proxy", raw).map(Proxy::Http)
    }
}

impl<'de> Deserialize<'de> for Proxy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(|e: ConfigError| serde::de::Error::custom(e.message()))
    }
}

/// Query parameters redacted by default.
pub const DEFAULT_REDACTED_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "password",
    "passwd",
    "pwd",
    "key",
    "api_key",
    "apikey",
    "secret",
    "client_secret",
    "code",
    "session",
    "sessionid",
    "signature",
    "sig",
    "token_auth",
];

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            url: None,
            site_id: 0,
            token_auth: None,
            ignore_paths: Vec::new(),
            ignore_html: false,
            ignore_status_codes: Vec::new(),
            methods: Vec::new(),
            url_masks: Vec::new(),
            mask_with_route_template: false,
            redact_query_params: DEFAULT_REDACTED_PARAMS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            site_base_url: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            honor_dnt: true,
            honor_gpc: true,
            bots: BotPolicy::Skip,
            anonymize_ip_bytes: 2,
            trusted_proxies: Vec::new(),
            visitor_id_salt: None,
            visitor_cookie: false,
            tls_ca_file: None,
            proxy: None,
            queue_capacity: 10_000,
            batch_size: 50,
            batch_delay: Duration::from_secs(1),
            max_attempts: 10,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(60),
            max_hit_age: Duration::from_secs(23 * 3600),
            spool: None,
        }
    }
}

/// What happens to a request whose user agent is a known bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BotPolicy {
    /// Not tracked (counted as skipped).
    #[default]
    Skip,
    /// Tracked with `bots=1`, so Matomo records it.
    Track,
}

/// An `ignore_paths` entry: a prefix, or a glob over the whole path.
///
/// Paths arrive percent-encoded, as browsers send them; an entry written as text (`/مدونة`,
/// `/café/*`) also matches its percent-encoded form (`/%D9%85...`, `/caf%C3%A9/*`).
///
/// ```
/// use matomo_core::PathPattern;
/// let health = PathPattern::new("/health").unwrap();
/// assert!(health.matches("/health/live"));
/// let cafe = PathPattern::new("/café/*").unwrap();
/// assert!(cafe.matches("/caf%C3%A9/menu") && cafe.matches("/café/menu"));
/// assert!(!cafe.matches("/cafe/menu"));
/// ```
#[derive(Clone)]
pub struct PathPattern {
    written: String,
    /// The entry as written.
    matcher: PathMatcher,
    /// Its percent-encoded form, when that differs.
    encoded: Option<PathMatcher>,
}

#[derive(Clone)]
enum PathMatcher {
    /// The path starts with this.
    Prefix(String),
    /// The whole path matches this glob.
    Glob(GlobMatcher),
}

/// What a browser percent-encodes in a path (the WHATWG URL standard's path percent-encode set),
/// but for `?`, `{` and `}`, which a glob entry uses as syntax; a prefix entry never holds them.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`');

impl PathPattern {
    /// A prefix, or a glob when `pattern` holds `*`, `?`, `[` or `{`.
    pub fn new(pattern: &str) -> Result<Self, ConfigError> {
        let glob = pattern.contains(['*', '?', '[', '{']);
        let matcher = |text: &str| -> Result<PathMatcher, ConfigError> {
            if !glob {
                return Ok(PathMatcher::Prefix(text.to_owned()));
            }
            let compiled = Glob::new(text).map_err(|e| ConfigError::Invalid {
                key: "ignore_paths".into(),
                message: format!("`{pattern}` is not a valid glob ({})", e.kind()),
            })?;
            Ok(PathMatcher::Glob(compiled.compile_matcher()))
        };
        let encoded = percent_encoding::utf8_percent_encode(pattern, PATH).to_string();
        Ok(Self {
            written: pattern.to_owned(),
            matcher: matcher(pattern)?,
            encoded: (encoded != pattern)
                .then(|| matcher(&encoded))
                .transpose()?,
        })
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.matches(path) || self.encoded.as_ref().is_some_and(|m| m.matches(path))
    }
}

impl PathMatcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatcher::Glob(glob) => glob.is_match(path),
        }
    }
}

impl fmt::Debug for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PathPattern").field(&self.written).finish()
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        PathPattern::new(&raw).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// A setting that is missing, malformed or unknown; its text names the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required key is absent.
    #[error("matomo config: `{key}` is missing: {fix}")]
    Missing {
        /// The key.
        key: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// A key's value is wrong.
    #[error("matomo config: `{key}`: {message}")]
    Invalid {
        /// The key (with its path inside lists, e.g. `url_masks[1]`).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A key this crate does not know (a typo, or a setting of another tracker).
    #[error("matomo config: unknown key `{key}`{}", suggestion.map(|s| format!(": did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The nearest known key.
        suggestion: Option<&'static str>,
    },
    /// The source could not be read (a TOML or JSON syntax error).
    #[error("matomo config: {0}")]
    Source(String),
}

impl ConfigError {
    pub(crate) fn message(&self) -> String {
        match self {
            ConfigError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { key, .. } => Some(key),
            ConfigError::Invalid { key, .. } | ConfigError::UnknownKey { key, .. } => Some(key),
            ConfigError::Source(_) => None,
        }
    }
}

impl TrackerConfig {
    /// A config with every default, sending to `url` for site `site_id`.
    ///
    /// ```
    /// use matomo_core::TrackerConfig;
    /// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
    /// assert!(config.validate().is_ok());
    /// let no_site = TrackerConfig::new("https://matomo.example.org/matomo.php", 0).unwrap();
    /// assert!(no_site.validate().is_err());
    /// // The URL is parsed here, once.
    /// assert_eq!(TrackerConfig::new("matomo.example.org", 1).unwrap_err().key(), Some("url"));
    /// ```
    pub fn new(url: impl AsRef<str>, site_id: u32) -> Result<Self, ConfigError> {
        Ok(Self {
            url: Some(validate::parse_http_url("url", url.as_ref())?),
            site_id,
            ..Self::default()
        })
    }
}
