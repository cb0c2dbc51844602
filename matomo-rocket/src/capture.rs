//! Rocket's request and response → the core's `HttpExchange`.

use matomo_core::{ExchangeBuilder, Field, HttpExchange};
use rocket::{Request, Response};
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

/// Copies what the core needs from a request and its response.
pub(crate) fn exchange(
    req: &Request<'_>,
    res: &Response<'_>,
    duration: Duration,
) -> ExchangeBuilder {
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
        builder = builder.peer(remote.ip());
    }
    if let Some(content_type) = res.headers().get_one("Content-Type") {
        builder = builder.content_type(content_type);
    }
    if let Some(route) = req.route() {
        if let Some(name) = &route.name {
            builder = builder.field(Field::RouteName, name);
        }
        builder = builder.field(Field::RouteTemplate, route.uri.path());
    }
    builder.status(res.status().code).duration(duration)
}
