//! Who the visitor is: the visitor id, and the client's IP address.
//!
//! - The visitor id comes from Matomo's own `_pk_id.<idsite>.<hash>` cookie when the visitor has one
//!   (both layouts: Matomo 4+ `id.createTs` and the older six-field one), validated to 16 hex digits.
//!   Without one, it is a keyed hash (BLAKE3) of client IP and user agent under a secret salt, so the
//!   same visitor keeps the same id and the id cannot be turned back into an IP address. It is sent as
//!   `cid`: `_id` alone lets Matomo merge every visitor that shares a browser string.
//! - The client IP is the peer address, or, only when the peer is a trusted proxy, what the
//!   `Forwarded`, `X-Forwarded-For` or `X-Real-IP` header says, walking the chain from the right and
//!   skipping trusted hops.

use crate::exchange::{Field, HttpExchange};
use crate::secret::Salt;
use crate::visitor::VisitorId;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Reads the visitor id from Matomo's `_pk_id.<site_id>.*` cookie in a `Cookie` header.
///
/// Returns `None` when there is no such cookie or its value is malformed; it never panics.
///
/// ```
/// use matomo_core::visitor_id_from_cookies;
/// let header = "theme=dark; _pk_id.1.1fff=0123456789abcdef.1700000000.";
/// assert_eq!(visitor_id_from_cookies(header, 1).unwrap().to_string(), "0123456789abcdef");
/// assert_eq!(visitor_id_from_cookies(header, 2), None); // another site's cookie
/// ```
pub fn visitor_id_from_cookies(cookie_header: &str, site_id: u32) -> Option<VisitorId> {
    cookie_header.split(';').find_map(|cookie| {
        let (name, value) = cookie.split_once('=')?;
        // `_pk_id.<site>.<hash>`.
        let (site, _hash) = name
            .trim_start_matches([' ', '\t'])
            .strip_prefix("_pk_id.")?
            .split_once('.')?;
        if site.parse::<u32>().ok()? != site_id || site.starts_with(['+', '0']) {
            return None;
        }
        let value = value.trim_ascii();
        let value = value.strip_prefix('"').unwrap_or(value);
        parse_pk_id(value.strip_suffix('"').unwrap_or(value))
    })
}

/// The first-party cookie that remembers a visitor id (opt-in `visitor_cookie`): name and value, in
/// Matomo 4's `_pk_id` layout, so [`visitor_id_from_cookies`] and Matomo's JavaScript tracker both
/// read it.
///
/// ```
/// use matomo_core::{visitor_cookie, visitor_id_from_cookies, VisitorId};
/// let id: VisitorId = "0123456789abcdef".parse().unwrap();
/// let (name, value) = visitor_cookie(5, id, 1_732_530_000);
/// assert_eq!(name, "_pk_id.5.rs");
/// assert_eq!(visitor_id_from_cookies(&format!("{name}={value}"), 5), Some(id));
/// ```
pub fn visitor_cookie(site_id: u32, id: VisitorId, created_unix: u64) -> (String, String) {
    (
        format!("_pk_id.{site_id}.rs"),
        format!("{id}.{created_unix}."),
    )
}

/// Parses a `_pk_id` cookie value: `id.createTs` (Matomo 4+, with or without a trailing dot) or
/// `id.createTs.visitCount.currentVisitTs.lastVisitTs.lastEcommerceOrderTs` (older; the later
/// fields may be empty). Anything else is `None`.
pub(crate) fn parse_pk_id(value: &str) -> Option<VisitorId> {
    let mut fields = value.split('.');
    let id = fields.next()?.parse().ok()?;
    if !fields.next().is_some_and(is_number) {
        return None;
    }
    match (fields.next(), fields.clone().count()) {
        (None, 0) | (Some(""), 0) => Some(id),
        (Some(first), 3) => [first]
            .into_iter()
            .chain(fields)
            .all(|f| f.is_empty() || is_number(f))
            .then_some(id),
        _ => None,
    }
}

/// 1 to 20 ASCII digits (a Unix time or a count).
fn is_number(field: &str) -> bool {
    (1..=20).contains(&field.len()) && field.bytes().all(|b| b.is_ascii_digit())
}

/// Derives visitor ids from IP address and user agent under a secret salt.
#[derive(Clone)]
pub(crate) struct VisitorIdDeriver {
    key: [u8; 32],
}

impl VisitorIdDeriver {
    /// A deriver keyed by `salt`.
    pub(crate) fn new(salt: &Salt) -> Self {
        Self {
            key: blake3::derive_key(
                "matomo-rs 2026-11 visitor id from ip and user agent",
                salt.as_bytes(),
            ),
        }
    }

    /// The visitor id for this IP and user agent.
    pub(crate) fn derive(&self, ip: Option<IpAddr>, user_agent: Option<&str>) -> VisitorId {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        match ip {
            Some(IpAddr::V4(v4)) => hasher.update(&[4]).update(&v4.octets()),
            Some(IpAddr::V6(v6)) => hasher.update(&[6]).update(&v6.octets()),
            None => hasher.update(&[0]),
        };
        hasher.update(user_agent.unwrap_or("").as_bytes());
        let hash = hasher.finalize();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash.as_bytes()[..8]);
        VisitorId::from_bytes(bytes)
    }
}

impl std::fmt::Debug for VisitorIdDeriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorIdDeriver(***)")
    }
}

/// The client's IP address for an exchange.
///
/// The peer address is the client unless it is in `trusted_proxies`; then the forwarding headers are
/// read (`Forwarded` first, then `X-Forwarded-For`, then `X-Real-IP`), from the right, skipping
/// trusted hops. A hop that cannot be read (`unknown`, an obfuscated name, garbage) ends the walk and
/// the peer address is used.
///
/// ```
/// use matomo_core::{client_ip, HttpExchange};
/// let trusted = ["10.0.0.0/8".parse().unwrap()];
/// let via_proxy = HttpExchange::builder("GET", "/")
///     .peer("10.0.0.2".parse().unwrap())
///     .header("x-forwarded-for", "203.0.113.50, 10.0.0.7")
///     .build();
/// assert_eq!(client_ip(&via_proxy, &trusted), Some("203.0.113.50".parse().unwrap()));
/// let direct = HttpExchange::builder("GET", "/")
///     .peer("198.51.100.1".parse().unwrap())
///     .header("x-forwarded-for", "203.0.113.50")
///     .build();
/// assert_eq!(client_ip(&direct, &trusted), Some("198.51.100.1".parse().unwrap()));
/// ```
pub fn client_ip(exchange: &HttpExchange, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = exchange.peer().map(|ip| ip.to_canonical());
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|net| net.contains(&ip));
    let peer_ip = peer?;
    if !trusted(peer_ip) {
        return Some(peer_ip);
    }
    let chain: Vec<Option<IpAddr>> = if let Some(forwarded) = exchange.get(Field::Forwarded) {
        forwarded_for(forwarded)
    } else if let Some(xff) = exchange.get(Field::XForwardedFor) {
        xff.split(',').map(parse_node).collect()
    } else if let Some(real) = exchange.get(Field::XRealIp) {
        vec![parse_node(real)]
    } else {
        Vec::new()
    };
    let mut client = peer_ip;
    for hop in chain.into_iter().rev() {
        match hop {
            Some(ip) if trusted(ip) => client = ip,
            Some(ip) => return Some(ip),
            None => return Some(peer_ip),
        }
    }
    Some(client)
}

/// The `for=` addresses of a `Forwarded` header (RFC 7239), one per element, in order; `None` for an
/// element whose `for` is absent, `unknown`, obfuscated or malformed.
pub(crate) fn forwarded_for(header: &str) -> Vec<Option<IpAddr>> {
    split_outside_quotes(header, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| unquote(value.trim()))
                })
                .and_then(|value| parse_node(&value))
        })
        .collect()
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => value.to_owned(),
    }
}

/// One hop: `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `[2001:db8::1]:80` or a bare IPv6 address.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = node.strip_prefix('[')?.split(']').next()?;
    bracketed.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}
