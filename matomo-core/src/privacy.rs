//! Privacy: IP anonymisation, path masks and query-parameter redaction.
//!
//! `cip` is never sent without a token: that rule lives in [`crate::request::RequestBuilder::build`]
//! and in [`crate::hit`], which only sets `cip` when a token is configured.

use crate::config::{MaskedPath, UrlMask};
use crate::form_scan::next_form_byte;
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

/// [`mask_path`] as pieces to write one after the other: a single mask of the common kind (see
/// [`UrlMask::apply_parts`]) leaves the path where it is.
pub(crate) fn mask_path_parts<'a>(path: &'a str, masks: &'a [UrlMask]) -> MaskedPath<'a> {
    match masks {
        [only] => only.apply_parts(path),
        masks => MaskedPath::from(mask_path(path, masks)),
    }
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
    redact_query_with(query, names, name_filter(names))
}

/// A filter for `names` for [`redact_query_with`]: one bit per name, chosen by its length and
/// first letter in any case ([`name_bit`]). A parameter name whose bit is clear is none of them.
pub(crate) fn name_filter(names: &[String]) -> u64 {
    names
        .iter()
        .fold(0, |filter, name| filter | name_bit(name.as_bytes()))
}

fn name_bit(name: &[u8]) -> u64 {
    let first = name.first().map_or(0, u8::to_ascii_lowercase);
    1 << ((name.len() * 13 + usize::from(first)) % 64)
}

/// [`redact_query`] with the names' [`name_filter`] worked out once, for a caller that redacts
/// every request under the same names: most parameters are passed over without a comparison.
pub(crate) fn redact_query_with<'a>(query: &'a str, names: &[String], filter: u64) -> Cow<'a, str> {
    if names.is_empty() || query.is_empty() {
        return Cow::Borrowed(query);
    }
    // Whether a raw parameter name (`encoded` when it holds `%` or `+`) is one to redact.
    let is_redacted = |raw_name: &[u8], encoded: bool| {
        let matches = |name: &[u8]| {
            filter & name_bit(name) != 0
                && names
                    .iter()
                    .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
        };
        if encoded {
            // Compare the decoded name.
            form_urlencoded::parse(raw_name)
                .next()
                .is_some_and(|(k, _)| matches(k.as_bytes()))
        } else {
            matches(raw_name)
        }
    };
    // The name of a `name=value` pair that is to be redacted (a pair without `=` has no value).
    let redacted_name = |pair: &'a [u8]| -> Option<&'a [u8]> {
        let raw_name = &pair[..pair.iter().position(|&b| b == b'=')?];
        let encoded = raw_name.iter().any(|&b| b == b'%' || b == b'+');
        is_redacted(raw_name, encoded).then_some(raw_name)
    };
    // Most queries hold nothing to redact: find that out in one pass over the bytes, without
    // allocating.
    if !any_pair_named(query.as_bytes(), filter, is_redacted) {
        return Cow::Borrowed(query);
    }
    let pairs = || query.as_bytes().split(|&b| b == b'&');
    let mut out = Vec::with_capacity(query.len() + REDACTED.len());
    for (i, pair) in pairs().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match redacted_name(pair) {
            Some(name) => {
                out.extend_from_slice(name);
                out.push(b'=');
                out.extend_from_slice(REDACTED.as_bytes());
            }
            None => out.extend_from_slice(pair),
        }
    }
    // Whole pairs of `query` and ASCII were joined by `&`: still UTF-8.
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether `wanted(raw name, holds % or +)` holds for the name of any `name=value` pair of `query`
/// (a pair without `=` has no value, so it is never wanted). A plain name whose bit is clear in
/// `filter` is passed over without a call; the scan jumps from one `&`, `=`, `%` or `+` to the next.
fn any_pair_named(query: &[u8], filter: u64, wanted: impl Fn(&[u8], bool) -> bool) -> bool {
    let (mut start, mut in_name, mut encoded) = (0, true, false);
    let mut at = next_form_byte(query, 0);
    while let Some(&b) = query.get(at) {
        match b {
            b'&' => (start, in_name, encoded) = (at + 1, true, false),
            b'=' if in_name => {
                let name = &query[start..at];
                if (encoded || filter & name_bit(name) != 0) && wanted(name, encoded) {
                    return true;
                }
                in_name = false;
            }
            b'%' | b'+' => encoded |= in_name,
            _ => {}
        }
        at = next_form_byte(query, at + 1);
    }
    false
}
