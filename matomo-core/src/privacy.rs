//! Privacy: IP anonymisation, path masks and query-parameter redaction.
//!
//! `cip` is never sent without a token: that rule lives in [`crate::request::RequestBuilder::build`]
//! and in [`crate::hit`], which only sets `cip` when a token is configured.

use crate::config::UrlMask;
use std::borrow::Cow;
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

/// Applies every mask to `path`, in order.
pub fn mask_path<'a>(path: &'a str, masks: &[UrlMask]) -> Cow<'a, str> {
    let mut current = Cow::Borrowed(path);
    for mask in masks {
        if let Cow::Owned(changed) = mask.apply(&current) {
            current = Cow::Owned(changed);
        }
    }
    current
}

/// Replaces the values of the named query parameters (names compared case-insensitively, after
/// percent-decoding) by [`REDACTED`]. Every other byte of the query stays as it was.
///
/// ```
/// use matomo_core::redact_query;
/// let names = vec!["token".to_owned()];
/// assert_eq!(redact_query("q=rust&Token=abc&x", &names), "q=rust&Token=REDACTED&x");
/// ```
pub fn redact_query<'a>(query: &'a str, names: &[String]) -> Cow<'a, str> {
    if names.is_empty() || query.is_empty() {
        return Cow::Borrowed(query);
    }
    let mut changed = false;
    let parts: Vec<Cow<'a, str>> = query
        .split('&')
        .map(|pair| {
            let (raw_name, has_value) = match pair.split_once('=') {
                Some((name, _)) => (name, true),
                None => (pair, false),
            };
            let matches = |name: &str| names.iter().any(|n| n.eq_ignore_ascii_case(name));
            let redact = has_value
                && if raw_name.contains(['%', '+']) {
                    // Encoded: compare the decoded name.
                    form_urlencoded::parse(raw_name.as_bytes())
                        .next()
                        .is_some_and(|(k, _)| matches(&k))
                } else {
                    matches(raw_name)
                };
            if redact {
                changed = true;
                Cow::Owned(format!("{raw_name}={REDACTED}"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    if changed {
        Cow::Owned(parts.join("&"))
    } else {
        Cow::Borrowed(query)
    }
}
