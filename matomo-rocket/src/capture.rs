//! Rocket's request and response → the core's `HttpExchange`.

use matomo_core::{ExchangeBuilder, Field, HttpExchange};
use rocket::{Request, Response};
use std::borrow::Cow;
use std::time::Duration;

/// Rocket's method as the `http` crate's, without parsing text.
fn http_method(method: rocket::http::Method) -> http::Method {
    use rocket::http::Method as M;
    match method {
        M::Get => http::Method::GET,
        M::Post => http::Method::POST,
        M::Put => http::Method::PUT,
        M::Delete => http::Method::DELETE,
        M::Head => http::Method::HEAD,
        M::Options => http::Method::OPTIONS,
        M::Patch => http::Method::PATCH,
        M::Connect => http::Method::CONNECT,
        M::Trace => http::Method::TRACE,
    }
}

/// Copies what the core needs from a request and its response into `builder`'s place, and
/// returns the response's `Content-Type`.
///
/// Filled in place (`set_*`): by-value setters copied the 256-byte builder at each step.
pub(crate) fn exchange<'r>(
    req: &Request<'_>,
    res: &'r Response<'_>,
    duration: Duration,
) -> (ExchangeBuilder, Option<&'r str>) {
    let uri = req.uri();
    let mut builder = HttpExchange::builder_parts(
        http_method(req.method()),
        uri.path().as_str(),
        uri.query().map(|q| q.as_str()),
    );
    for header in req.headers().iter() {
        builder.add_header(header.name().as_str(), header.value());
    }
    if let Some(remote) = req.remote() {
        builder.set_peer(remote.ip());
    }
    let content_type = content_type(res);
    if let Some(content_type) = content_type {
        builder.set_field(Field::ContentType, content_type);
    }
    if let Some(route) = req.route() {
        if let Some(name) = &route.name {
            builder.set_field(Field::RouteName, name);
        }
        builder.set_field(Field::RouteTemplate, route.uri.path());
    }
    builder.set_status(res.status().code);
    builder.set_duration(duration);
    (builder, content_type)
}

/// The response's `Content-Type`, found by walking its few headers: `HeaderMap::get_one` hashes the
/// name case-insensitively a byte at a time, which cost more than the rest of the capture.
pub(crate) fn content_type<'r>(res: &'r Response<'_>) -> Option<&'r str> {
    res.headers().iter().find_map(|header| {
        if !header.name.as_str().eq_ignore_ascii_case("content-type") {
            return None;
        }
        match header.value {
            Cow::Borrowed(value) => Some(value),
            // `iter` lends every value; an owned one would not outlive the iteration.
            Cow::Owned(_) => None,
        }
    })
}
