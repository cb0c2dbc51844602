//! `HttpExchange`: the framework-neutral view of one served request and its response.
//!
//! An adapter (the Rocket fairing, the tower layer, your own code) copies what the rules and the hit
//! builder need into one `HttpExchange` and hands it to the core. It is owned and compact: all text
//! lives in a single buffer, so capturing a request costs one or two allocations.

use bytes::Bytes;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// The request's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// `http`.
    #[default]
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The text fields of an exchange, by slot in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The `Host` header (or the URI's authority).
    Host,
    /// The path, percent-encoded as received.
    Path,
    /// The query string, without `?`.
    Query,
    /// `User-Agent`.
    UserAgent,
    /// `Accept-Language`.
    AcceptLanguage,
    /// `Referer`.
    Referer,
    /// `Cookie`.
    Cookie,
    /// `Forwarded`.
    Forwarded,
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// `X-Real-IP`.
    XRealIp,
    /// The response's `Content-Type`.
    ContentType,
    /// The name of the route that served the request.
    RouteName,
    /// The route's URI template, e.g. `/users/<id>`.
    RouteTemplate,
    /// The application's user id for this request.
    UserId,
    /// An action name (page title) set by the application.
    ActionName,
}

const FIELD_COUNT: usize = 15;

/// One served request and its response, as the core sees it.
///
/// ```
/// use matomo_core::{Field, HttpExchange};
/// let exchange = HttpExchange::builder("GET", "/docs/intro")
///     .status(200)
///     .header("user-agent", "Mozilla/5.0")
///     .header("host", "example.org")
///     .build();
/// assert_eq!(exchange.get(Field::UserAgent), Some("Mozilla/5.0"));
/// assert_eq!(exchange.path(), "/docs/intro");
/// ```
#[derive(Clone)]
pub struct HttpExchange {
    text: String,
    spans: [(u32, u32); FIELD_COUNT],
    method: http::Method,
    scheme: Scheme,
    status: u16,
    do_not_track: bool,
    global_privacy_control: bool,
    peer: Option<IpAddr>,
    duration: Duration,
    served_at: SystemTime,
    body_prefix: Option<Bytes>,
}

/// Builds an [`HttpExchange`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ExchangeBuilder {
    exchange: HttpExchange,
}

const UNSET: (u32, u32) = (u32::MAX, 0);

enum HeaderField {
    Text(Field),
    DoNotTrack,
    GlobalPrivacyControl,
}

/// A lower-case header name as one little-endian word, with the bit that tells a letter's case
/// (0x20) marked for its letters only: a name of the same length matches in any ASCII case when
/// its word, with those bits set, equals `word`. Other bytes compare exactly, so no `-` matches a
/// CR, as a blind case fold would let it.
struct CapturedName {
    word: u128,
    letters: u128,
}

impl CapturedName {
    const fn new(lower: &[u8]) -> Self {
        let (mut word, mut letters, mut i) = (0u128, 0u128, 0);
        while i < lower.len() {
            word |= (lower[i] as u128) << (8 * i);
            if lower[i].is_ascii_lowercase() {
                letters |= 0x20 << (8 * i);
            }
            i += 1;
        }
        Self { word, letters }
    }

    #[inline(always)]
    fn is(&self, word: u128) -> bool {
        word | self.letters == self.word
    }
}

/// The first `N` (at most 16) bytes of `name` as a little-endian word; `N` is a constant at every
/// call, so this is a load or two, not a copy.
#[inline(always)]
fn name_word<const N: usize>(name: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    if let Some(name) = name.get(..N) {
        bytes[..N].copy_from_slice(name);
    }
    u128::from_le_bytes(bytes)
}

const DNT: CapturedName = CapturedName::new(b"dnt");
const HOST: CapturedName = CapturedName::new(b"host");
const COOKIE: CapturedName = CapturedName::new(b"cookie");
const REFERER: CapturedName = CapturedName::new(b"referer");
const SEC_GPC: CapturedName = CapturedName::new(b"sec-gpc");
const FORWARDED: CapturedName = CapturedName::new(b"forwarded");
const X_REAL_IP: CapturedName = CapturedName::new(b"x-real-ip");
const USER_AGENT: CapturedName = CapturedName::new(b"user-agent");
const ACCEPT_LANGUAGE: CapturedName = CapturedName::new(b"accept-language");
const X_FORWARDED_FOR: CapturedName = CapturedName::new(b"x-forwarded-for");

/// The field a header name feeds, if any, in any ASCII case. Dispatched on the name's length
/// first: most names a request carries are not ours and are turned away by it or by one compare.
#[inline]
fn header_field(name: &str) -> Option<HeaderField> {
    use HeaderField::{DoNotTrack, GlobalPrivacyControl, Text};
    let name = name.as_bytes();
    match name.len() {
        3 => DNT.is(name_word::<3>(name)).then_some(DoNotTrack),
        4 => HOST.is(name_word::<4>(name)).then_some(Text(Field::Host)),
        6 => COOKIE
            .is(name_word::<6>(name))
            .then_some(Text(Field::Cookie)),
        7 => either(
            name_word::<7>(name),
            (&REFERER, Text(Field::Referer)),
            (&SEC_GPC, GlobalPrivacyControl),
        ),
        9 => either(
            name_word::<9>(name),
            (&FORWARDED, Text(Field::Forwarded)),
            (&X_REAL_IP, Text(Field::XRealIp)),
        ),
        10 => USER_AGENT
            .is(name_word::<10>(name))
            .then_some(Text(Field::UserAgent)),
        15 => either(
            name_word::<15>(name),
            (&ACCEPT_LANGUAGE, Text(Field::AcceptLanguage)),
            (&X_FORWARDED_FOR, Text(Field::XForwardedFor)),
        ),
        _ => None,
    }
}

/// The field of whichever of two names of one length `word` is.
#[inline(always)]
fn either(
    word: u128,
    first: (&CapturedName, HeaderField),
    second: (&CapturedName, HeaderField),
) -> Option<HeaderField> {
    if first.0.is(word) {
        Some(first.1)
    } else {
        second.0.is(word).then_some(second.1)
    }
}

impl HttpExchange {
    /// Starts an exchange for `method` and `path_and_query` (e.g. `/search?q=rust`).
    pub fn builder(method: &str, path_and_query: &str) -> ExchangeBuilder {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
        Self::builder_with_method(method, path_and_query)
    }

    /// Like [`HttpExchange::builder`] with a typed method (no parsing on the request path).
    pub fn builder_with_method(method: http::Method, path_and_query: &str) -> ExchangeBuilder {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Self::builder_parts(method, path, query)
    }

    /// Like [`HttpExchange::builder`] with the path and the query (without `?`) apart, as most
    /// frameworks hold them.
    pub fn builder_parts(method: http::Method, path: &str, query: Option<&str>) -> ExchangeBuilder {
        let mut exchange = HttpExchange {
            text: String::with_capacity(path.len() + query.map_or(0, str::len) + 256),
            spans: [UNSET; FIELD_COUNT],
            method,
            scheme: Scheme::Http,
            status: 200,
            do_not_track: false,
            global_privacy_control: false,
            peer: None,
            duration: Duration::ZERO,
            served_at: SystemTime::now(),
            body_prefix: None,
        };
        exchange.set(Field::Path, if path.is_empty() { "/" } else { path });
        if let Some(query) = query {
            exchange.set(Field::Query, query);
        }
        ExchangeBuilder { exchange }
    }

    fn set(&mut self, field: Field, value: &str) {
        let start = self.text.len();
        // Spans are u32: a value that would not fit is dropped rather than wrapped.
        if start + value.len() > u32::MAX as usize {
            return;
        }
        self.text.push_str(value);
        self.spans[field as usize] = (start as u32, value.len() as u32);
    }

    /// A text field, if it was captured.
    pub fn get(&self, field: Field) -> Option<&str> {
        let (start, len) = self.spans[field as usize];
        if start == u32::MAX {
            return None;
        }
        self.text.get(start as usize..(start + len) as usize)
    }

    /// The request path (always starts with `/` unless the client sent something odd).
    pub fn path(&self) -> &str {
        self.get(Field::Path).unwrap_or("/")
    }

    /// The query string without `?`.
    pub fn query(&self) -> Option<&str> {
        self.get(Field::Query)
    }

    /// The request method.
    pub fn method(&self) -> &http::Method {
        &self.method
    }

    /// The scheme the request came in on.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The response status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the request had `DNT: 1`.
    pub fn do_not_track(&self) -> bool {
        self.do_not_track
    }

    /// Whether the request had `Sec-GPC: 1`.
    pub fn global_privacy_control(&self) -> bool {
        self.global_privacy_control
    }

    /// The address of the peer that connected (a proxy's, behind one).
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// How long the application took to answer.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// When the request was served.
    pub fn served_at(&self) -> SystemTime {
        self.served_at
    }

    /// The first bytes of the response body, when the adapter captured them (for the title and
    /// `ignore_html`).
    pub fn body_prefix(&self) -> Option<&[u8]> {
        self.body_prefix.as_deref()
    }
}

impl ExchangeBuilder {
    /// Records a request header the core uses; others are ignored. Names are case-insensitive.
    /// `DNT` and `Sec-GPC` become flags; the first value of a repeated header wins, except
    /// `X-Forwarded-For` and `Forwarded`, whose values are joined as HTTP says.
    #[inline]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.add_header(name, value);
        self
    }

    /// [`ExchangeBuilder::header`] for a `&mut` builder, for loops over a header map.
    pub fn add_header(&mut self, name: &str, value: &str) {
        let Some(field) = header_field(name) else {
            return;
        };
        let field = match field {
            HeaderField::Text(field) => field,
            HeaderField::DoNotTrack => {
                self.exchange.do_not_track |= value.trim() == "1";
                return;
            }
            HeaderField::GlobalPrivacyControl => {
                self.exchange.global_privacy_control |= value.trim() == "1";
                return;
            }
        };
        if self.exchange.spans[field as usize] == UNSET {
            self.exchange.set(field, value);
            return;
        }
        if matches!(
            field,
            Field::XForwardedFor | Field::Forwarded | Field::Cookie
        ) {
            self.join_header(field, value);
        }
    }

    /// A repeated header whose values HTTP joins: rare, and kept out of [`Self::add_header`] so
    /// the common case stays a small function.
    #[cold]
    #[inline(never)]
    fn join_header(&mut self, field: Field, value: &str) {
        if let Some(previous) = self.exchange.get(field) {
            let separator = if field == Field::Cookie { "; " } else { ", " };
            let joined = format!("{previous}{separator}{value}");
            self.exchange.set(field, &joined);
        }
    }

    /// Sets a text field directly (route name, user id, content type, ...).
    #[inline]
    pub fn field(mut self, field: Field, value: &str) -> Self {
        self.set_field(field, value);
        self
    }

    /// [`ExchangeBuilder::field`] for a `&mut` builder. The `set_*` methods fill a builder in
    /// place, as an adapter does on every response: each by-value call may copy the whole builder.
    #[inline]
    pub fn set_field(&mut self, field: Field, value: &str) {
        self.exchange.set(field, value);
    }

    /// The response status.
    #[inline]
    pub fn status(mut self, status: u16) -> Self {
        self.set_status(status);
        self
    }

    /// [`ExchangeBuilder::status`] for a `&mut` builder.
    #[inline]
    pub fn set_status(&mut self, status: u16) {
        self.exchange.status = status;
    }

    /// The response `Content-Type`.
    #[inline]
    pub fn content_type(self, content_type: &str) -> Self {
        self.field(Field::ContentType, content_type)
    }

    /// The scheme.
    #[inline]
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.exchange.scheme = scheme;
        self
    }

    /// The peer's address.
    #[inline]
    pub fn peer(mut self, peer: IpAddr) -> Self {
        self.set_peer(peer);
        self
    }

    /// [`ExchangeBuilder::peer`] for a `&mut` builder.
    #[inline]
    pub fn set_peer(&mut self, peer: IpAddr) {
        self.exchange.peer = Some(peer);
    }

    /// How long the application took.
    #[inline]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.set_duration(duration);
        self
    }

    /// [`ExchangeBuilder::duration`] for a `&mut` builder.
    #[inline]
    pub fn set_duration(&mut self, duration: Duration) {
        self.exchange.duration = duration;
    }

    /// When the request was served (defaults to when the builder was made).
    #[inline]
    pub fn served_at(mut self, at: SystemTime) -> Self {
        self.exchange.served_at = at;
        self
    }

    /// The first bytes of the response body (keep it small: 8 KiB is plenty for a `<title>`).
    #[inline]
    pub fn body_prefix(mut self, prefix: Bytes) -> Self {
        self.set_body_prefix(prefix);
        self
    }

    /// [`ExchangeBuilder::body_prefix`] for a `&mut` builder.
    #[inline]
    pub fn set_body_prefix(&mut self, prefix: Bytes) {
        self.exchange.body_prefix = Some(prefix);
    }

    /// The finished exchange.
    pub fn build(self) -> HttpExchange {
        self.exchange
    }
}

impl fmt::Debug for HttpExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cookies can hold session secrets: never print them.
        f.debug_struct("HttpExchange")
            .field("method", &self.method)
            .field("path", &self.path())
            .field("query", &self.query())
            .field("status", &self.status)
            .field("host", &self.get(Field::Host))
            .field("peer", &self.peer)
            .field("user_agent", &self.get(Field::UserAgent))
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_matched_case_insensitively_and_joined_where_http_says() {
        let exchange = HttpExchange::builder("GET", "/a?b=c")
            .header("X-Forwarded-For", "1.1.1.1")
            .header("x-forwarded-for", "2.2.2.2")
            .header("USER-AGENT", "first")
            .header("user-agent", "second")
            .header("DNT", "1")
            .header("Sec-GPC", "0")
            .build();
        assert_eq!(exchange.get(Field::XForwardedFor), Some("1.1.1.1, 2.2.2.2"));
        assert_eq!(exchange.get(Field::UserAgent), Some("first"));
        assert_eq!(exchange.query(), Some("b=c"));
        assert!(exchange.do_not_track());
        assert!(!exchange.global_privacy_control());
    }

    /// What [`header_field`] must answer: the field of the lower-cased name.
    fn reference_field(name: &str) -> Option<Field> {
        Some(match name.to_ascii_lowercase().as_str() {
            "host" => Field::Host,
            "user-agent" => Field::UserAgent,
            "accept-language" => Field::AcceptLanguage,
            "referer" => Field::Referer,
            "cookie" => Field::Cookie,
            "forwarded" => Field::Forwarded,
            "x-forwarded-for" => Field::XForwardedFor,
            "x-real-ip" => Field::XRealIp,
            // Flags, not text: told apart below.
            "dnt" | "sec-gpc" => Field::Path,
            _ => return None,
        })
    }

    fn found_field(name: &str) -> Option<Field> {
        header_field(name).map(|found| match found {
            HeaderField::Text(field) => field,
            HeaderField::DoNotTrack | HeaderField::GlobalPrivacyControl => Field::Path,
        })
    }

    #[test]
    fn header_names_match_in_any_case_and_nothing_else() {
        for name in [
            "Host",
            "HOST",
            "User-Agent",
            "uSER-aGENT",
            "Accept-Language",
            "Referer",
            "Cookie",
            "Forwarded",
            "X-Forwarded-For",
            "X-Real-IP",
            "DNT",
            "Sec-GPC",
        ] {
            assert!(found_field(name).is_some(), "{name}");
        }
        // Bytes that fold onto a name's under a blind `| 0x20`: CR onto `-`, `@` onto `` ` ``.
        for name in [
            "x\rforwarded-for",
            "x-forwarded\rfor",
            "user\ragent",
            "sec\rgpc",
            "accept",
            "connection",
            "accept-encoding",
            "hosts",
            "hos",
            "",
            "d\u{e9}t",
        ] {
            assert_eq!(found_field(name), None, "{name:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn header_names_match_exactly_what_lower_casing_matches(
            name in "[a-zA-Z\\-\\r@`\\[{]{0,16}|(?i)(host|user-agent|accept-language|referer|cookie|forwarded|x-forwarded-for|x-real-ip|dnt|sec-gpc)",
        ) {
            proptest::prop_assert_eq!(found_field(&name), reference_field(&name));
        }
    }

    #[test]
    fn debug_never_shows_cookies() {
        let exchange = HttpExchange::builder("GET", "/")
            .header("cookie", "session=supersecret")
            .build();
        assert!(!format!("{exchange:?}").contains("supersecret"));
    }
}
