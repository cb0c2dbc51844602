//! `HttpExchange`: the framework-neutral view of one served request and its response.
//!
//! An adapter (the Rocket fairing, the tower layer, your own code) copies what the rules and the hit
//! builder need into one `HttpExchange` and hands it to the core. It is owned, and all its text
//! lives in one buffer, so capturing a request costs one allocation (two for an HTML body's start).

use crate::config::DEFAULT_REDACTED_PARAMS;
use crate::privacy::redact_query;
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

/// The text fields of an exchange.
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

impl Field {
    /// Every field, in the order of their slots.
    const ALL: [Field; 15] = [
        Field::Host,
        Field::Path,
        Field::Query,
        Field::UserAgent,
        Field::AcceptLanguage,
        Field::Referer,
        Field::Cookie,
        Field::Forwarded,
        Field::XForwardedFor,
        Field::XRealIp,
        Field::ContentType,
        Field::RouteName,
        Field::RouteTemplate,
        Field::UserId,
        Field::ActionName,
    ];

    /// The field a request header feeds, by its name in any ASCII case.
    fn of_header(name: &str) -> Option<Field> {
        const HEADERS: [(&str, Field); 8] = [
            ("host", Field::Host),
            ("user-agent", Field::UserAgent),
            ("accept-language", Field::AcceptLanguage),
            ("referer", Field::Referer),
            ("cookie", Field::Cookie),
            ("forwarded", Field::Forwarded),
            ("x-forwarded-for", Field::XForwardedFor),
            ("x-real-ip", Field::XRealIp),
        ];
        HEADERS
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, field)| *field)
    }
}

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
pub struct HttpExchange(Box<Parts>);

/// What an exchange holds, behind one pointer: an exchange is moved from the builder to the
/// queue, and a few hundred bytes would be copied at each step.
#[derive(Clone)]
struct Parts {
    /// Every text field (and the method), one after the other.
    text: String,
    /// Where each field lies in `text`, by [`Field::ALL`] order; `None` when it is not set.
    spans: [Option<(u32, u32)>; Field::ALL.len()],
    method: (u32, u32),
    scheme: Scheme,
    status: u16,
    do_not_track: bool,
    global_privacy_control: bool,
    peer: Option<IpAddr>,
    duration: Duration,
    served_at: SystemTime,
    body_prefix: Option<Bytes>,
}

/// Builds an [`HttpExchange`]; every setter takes and returns the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct ExchangeBuilder {
    exchange: HttpExchange,
}

impl HttpExchange {
    /// Starts an exchange for `method`, kept as given (e.g. `GET`), and `path_and_query`
    /// (e.g. `/search?q=rust`; the query may also be set apart as [`Field::Query`]).
    pub fn builder(method: &str, path_and_query: &str) -> ExchangeBuilder {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let mut exchange = HttpExchange(Box::new(Parts {
            text: String::with_capacity(method.len() + path_and_query.len() + 256),
            spans: [None; Field::ALL.len()],
            method: (0, 0),
            scheme: Scheme::Http,
            status: 200,
            do_not_track: false,
            global_privacy_control: false,
            peer: None,
            duration: Duration::ZERO,
            served_at: SystemTime::now(),
            body_prefix: None,
        }));
        exchange.0.method = exchange.push(method).unwrap_or((0, 0));
        exchange.set(Field::Path, if path.is_empty() { "/" } else { path });
        if let Some(query) = query {
            exchange.set(Field::Query, query);
        }
        ExchangeBuilder { exchange }
    }

    /// Appends `value` to the buffer and tells where it lies; `None` for a value that would take
    /// the buffer past 4 GiB (dropped rather than wrapped).
    fn push(&mut self, value: &str) -> Option<(u32, u32)> {
        let start = u32::try_from(self.0.text.len()).ok()?;
        let len = u32::try_from(value.len()).ok()?;
        start.checked_add(len)?;
        self.0.text.push_str(value);
        Some((start, len))
    }

    fn set(&mut self, field: Field, value: &str) {
        if let Some(span) = self.push(value) {
            self.0.spans[field as usize] = Some(span);
        }
    }

    fn slice(&self, (start, len): (u32, u32)) -> &str {
        self.0
            .text
            .get(start as usize..(start + len) as usize)
            .unwrap_or_default()
    }

    /// A text field, if it was captured.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.0.spans[field as usize].map(|span| self.slice(span))
    }

    /// The request path (always starts with `/` unless the client sent something odd).
    pub fn path(&self) -> &str {
        self.get(Field::Path).unwrap_or("/")
    }

    /// The query string without `?`.
    pub fn query(&self) -> Option<&str> {
        self.get(Field::Query)
    }

    /// The request method, as given to [`HttpExchange::builder`].
    pub fn method(&self) -> &str {
        self.slice(self.0.method)
    }

    /// The scheme the request came in on.
    pub fn scheme(&self) -> Scheme {
        self.0.scheme
    }

    /// The response status code.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// Whether the request had `DNT: 1`.
    pub fn do_not_track(&self) -> bool {
        self.0.do_not_track
    }

    /// Whether the request had `Sec-GPC: 1`.
    pub fn global_privacy_control(&self) -> bool {
        self.0.global_privacy_control
    }

    /// The address of the peer that connected (a proxy's, behind one).
    pub fn peer(&self) -> Option<IpAddr> {
        self.0.peer
    }

    /// How long the application took to answer.
    pub fn duration(&self) -> Duration {
        self.0.duration
    }

    /// When the request was served.
    pub fn served_at(&self) -> SystemTime {
        self.0.served_at
    }

    /// The first bytes of the response body, when the adapter captured them (for the title and
    /// `ignore_html`).
    pub fn body_prefix(&self) -> Option<&[u8]> {
        self.0.body_prefix.as_deref()
    }
}

impl ExchangeBuilder {
    /// Records a request header the core uses; others are ignored. Names are case-insensitive.
    /// `DNT` and `Sec-GPC` become flags; the first value of a repeated header wins, except
    /// `Cookie`, `X-Forwarded-For` and `Forwarded`, whose values are joined as HTTP says.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let exchange = &mut self.exchange;
        if let Some(field) = Field::of_header(name) {
            match (exchange.get(field), field) {
                (None, _) => exchange.set(field, value),
                (Some(previous), Field::Cookie) => {
                    let joined = format!("{previous}; {value}");
                    exchange.set(field, &joined);
                }
                (Some(previous), Field::XForwardedFor | Field::Forwarded) => {
                    let joined = format!("{previous}, {value}");
                    exchange.set(field, &joined);
                }
                (Some(_), _) => {}
            }
        } else if name.eq_ignore_ascii_case("dnt") {
            exchange.0.do_not_track |= value.trim() == "1";
        } else if name.eq_ignore_ascii_case("sec-gpc") {
            exchange.0.global_privacy_control |= value.trim() == "1";
        }
        self
    }

    /// Sets a text field directly (route name, user id, content type, ...).
    pub fn field(mut self, field: Field, value: &str) -> Self {
        self.exchange.set(field, value);
        self
    }

    /// The response status.
    pub fn status(mut self, status: u16) -> Self {
        self.exchange.0.status = status;
        self
    }

    /// The response `Content-Type`.
    pub fn content_type(self, content_type: &str) -> Self {
        self.field(Field::ContentType, content_type)
    }

    /// The scheme.
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.exchange.0.scheme = scheme;
        self
    }

    /// The peer's address.
    pub fn peer(mut self, peer: IpAddr) -> Self {
        self.exchange.0.peer = Some(peer);
        self
    }

    /// How long the application took.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.exchange.0.duration = duration;
        self
    }

    /// When the request was served (defaults to when the builder was made).
    pub fn served_at(mut self, at: SystemTime) -> Self {
        self.exchange.0.served_at = at;
        self
    }

    /// The first bytes of the response body (keep it small: 8 KiB is plenty for a `<title>`).
    pub fn body_prefix(mut self, prefix: Bytes) -> Self {
        self.exchange.0.body_prefix = Some(prefix);
        self
    }

    /// The finished exchange.
    pub fn build(self) -> HttpExchange {
        self.exchange
    }
}

impl fmt::Debug for HttpExchange {
    /// Never the cookies (they can hold session secrets); the query with the values of the
    /// default secret parameters (`token`, `password`, ...) redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExchange")
            .field("method", &self.method())
            .field("path", &self.path())
            .field(
                "query",
                &self
                    .query()
                    .map(|q| redact_query(q, DEFAULT_REDACTED_PARAMS)),
            )
            .field("status", &self.0.status)
            .field("host", &self.get(Field::Host))
            .field("peer", &self.0.peer)
            .field("user_agent", &self.get(Field::UserAgent))
            .field("duration", &self.0.duration)
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
            .header("Cookie", "a=1")
            .header("cookie", "b=2")
            .header("DNT", "1")
            .header("Sec-GPC", "0")
            .header("x\rforwarded-for", "3.3.3.3")
            .build();
        assert_eq!(exchange.get(Field::XForwardedFor), Some("1.1.1.1, 2.2.2.2"));
        assert_eq!(exchange.get(Field::UserAgent), Some("first"));
        assert_eq!(exchange.get(Field::Cookie), Some("a=1; b=2"));
        assert_eq!(exchange.query(), Some("b=c"));
        assert!(exchange.do_not_track());
        assert!(!exchange.global_privacy_control());
    }

    #[test]
    fn every_field_has_its_own_slot() {
        // Exhaustive: a new variant stops this compiling until it is added to `Field::ALL`.
        let listed = |field: Field| match field {
            Field::Host
            | Field::Path
            | Field::Query
            | Field::UserAgent
            | Field::AcceptLanguage
            | Field::Referer
            | Field::Cookie
            | Field::Forwarded
            | Field::XForwardedFor
            | Field::XRealIp
            | Field::ContentType
            | Field::RouteName
            | Field::RouteTemplate
            | Field::UserId
            | Field::ActionName => Field::ALL.contains(&field),
        };
        for (slot, field) in Field::ALL.into_iter().enumerate() {
            assert!(listed(field));
            assert_eq!(field as usize, slot);
        }
        let mut builder = HttpExchange::builder("GET", "/");
        for field in Field::ALL {
            builder = builder.field(field, &format!("{field:?}"));
        }
        let exchange = builder.build();
        for field in Field::ALL {
            assert_eq!(exchange.get(field), Some(format!("{field:?}").as_str()));
        }
    }

    #[test]
    fn the_method_is_kept_as_given() {
        for method in ["GET", "get", "PROPFIND", "NOT A METHOD", ""] {
            assert_eq!(HttpExchange::builder(method, "/").build().method(), method);
        }
    }

    #[test]
    fn debug_never_shows_cookies_or_secret_query_values() {
        let exchange = HttpExchange::builder("GET", "/login?user=ann&password=hunter2&token=abc")
            .header("cookie", "session=supersecret")
            .build();
        let printed = format!("{exchange:?}");
        for secret in ["supersecret", "hunter2", "abc"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("user=ann"), "{printed}");
    }
}
