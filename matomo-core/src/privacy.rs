//! Privacy: IP anonymisation, path masks and query-parameter redaction.
//!
//! `cip` is never sent without a token: that rule lives in [`crate::request::RequestBuilder::build`]
//! and in [`crate::hit`], which only sets `cip` when a token is configured.

use crate::config::ConfigError;
use regex::{NoExpand, Regex};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The text that replaces a redacted query value.
pub const REDACTED: &str = "REDACTED";

/// Zeroes the last `bytes` bytes (0-3) of an IPv4 address; masks IPv6 alike, as Matomo does:
/// 1 byte keeps /64, 2 bytes keep /48, 3 bytes keep /32. More than 3 counts as 3.
///
/// ```
/// use matomo_core::anonymize_ip;
/// assert_eq!(anonymize_ip("198.51.100.77".parse().unwrap(), 2), "198.51.0.0".parse::<std::net::IpAddr>().unwrap());
/// assert_eq!(anonymize_ip("2001:db8:1:2:3:4:5:6".parse().unwrap(), 2), "2001:db8:1::".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn anonymize_ip(ip: IpAddr, bytes: u8) -> IpAddr {
    let bytes = bytes.min(3);
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let keep_bits = 32 - 8 * u32::from(bytes);
            let mask = u32::MAX.checked_shl(32 - keep_bits).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let keep_bits: u32 = match bytes {
                0 => 128,
                1 => 64,
                2 => 48,
                _ => 32,
            };
            let mask = u128::MAX.checked_shl(128 - keep_bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// A regex rewrite of the path: every match of `pattern` is replaced by `replacement`
/// (`$1` or `${name}` refer to groups; a replacement without `$` is copied as it is).
///
/// ```
/// use matomo_core::UrlMask;
/// let mask = UrlMask::new(r"^/users/\d+", "/users/:id").unwrap();
/// assert_eq!(mask.apply("/users/123/"), "/users/:id/");
/// assert_eq!(mask.apply("/about"), "/about");
/// let groups = UrlMask::new(r"^/(\w+)/\d+", "/$1/{id}").unwrap();
/// assert_eq!(groups.apply("/orders/42"), "/orders/{id}");
/// ```
#[derive(Clone)]
pub struct UrlMask {
    pattern: Regex,
    replacement: String,
}

impl UrlMask {
    /// A mask; the pattern must compile.
    pub fn new(pattern: &str, replacement: &str) -> Result<Self, ConfigError> {
        let pattern = Regex::new(pattern).map_err(|e| ConfigError::Invalid {
            key: "url_masks".into(),
            message: format!("`{pattern}` is not a valid regex: {e}"),
        })?;
        Ok(Self {
            pattern,
            replacement: replacement.to_owned(),
        })
    }

    /// The path with every match replaced.
    pub fn apply<'a>(&self, path: &'a str) -> Cow<'a, str> {
        if self.replacement.contains('$') {
            self.pattern.replace_all(path, self.replacement.as_str())
        } else {
            self.pattern.replace_all(path, NoExpand(&self.replacement))
        }
    }
}

impl fmt::Debug for UrlMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlMask")
            .field("pattern", &self.pattern.as_str())
            .field("replacement", &self.replacement)
            .finish()
    }
}

impl<'de> Deserialize<'de> for UrlMask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Table {
                pattern: String,
                replacement: String,
            },
            Pair(String, String),
        }
        let (pattern, replacement) = match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected { pattern = \"regex\", replacement = \"text\" } or [\"regex\", \"text\"]",
            )
        })? {
            Raw::Table {
                pattern,
                replacement,
            }
            | Raw::Pair(pattern, replacement) => (pattern, replacement),
        };
        UrlMask::new(&pattern, &replacement).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// Applies every mask to `path`, in order.
///
/// ```
/// use matomo_core::{mask_path, UrlMask};
/// let masks = [UrlMask::new(r"\d+", ":n").unwrap()];
/// assert_eq!(mask_path("/a/1/b/22", &masks), "/a/:n/b/:n");
/// ```
pub fn mask_path<'a>(path: &'a str, masks: &[UrlMask]) -> Cow<'a, str> {
    masks
        .iter()
        .fold(Cow::Borrowed(path), |path, mask| match mask.apply(&path) {
            Cow::Borrowed(_) => path,
            Cow::Owned(changed) => Cow::Owned(changed),
        })
}

/// Replaces the values of the named query parameters (names compared case-insensitively, after
/// percent-decoding) by [`REDACTED`]. Every other byte of the query stays as it was.
///
/// ```
/// use matomo_core::redact_query;
/// let names = vec!["token".to_owned()];
/// assert_eq!(redact_query("q=rust&Token=abc&x", &names), "q=rust&Token=REDACTED&x");
/// assert_eq!(redact_query("q=rust", &names), "q=rust");
/// ```
pub fn redact_query<'a>(query: &'a str, names: &[impl AsRef<str>]) -> Cow<'a, str> {
    // Whether the raw name of a pair is one to redact: compared as it is, or decoded when it
    // holds an escape.
    let redacted = |raw_name: &str| {
        let name = if raw_name.contains(['%', '+']) {
            form_urlencoded::parse(raw_name.as_bytes())
                .next()
                .map_or(Cow::Borrowed(""), |(name, _)| name)
        } else {
            Cow::Borrowed(raw_name)
        };
        names.iter().any(|n| n.as_ref().eq_ignore_ascii_case(&name))
    };
    // The raw name of a `name=value` pair whose value is redacted (one without `=` has none).
    let redacted_name = |pair: &'a str| {
        pair.split_once('=')
            .map(|(name, _)| name)
            .filter(|name| redacted(name))
    };
    if !query.split('&').any(|pair| redacted_name(pair).is_some()) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match redacted_name(pair) {
            Some(name) => Cow::Owned(format!("{name}={REDACTED}")),
            None => Cow::Borrowed(pair),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}
