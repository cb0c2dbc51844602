//! Rocket's request and response → the core's `HttpExchange`.

use matomo_core::{ExchangeBuilder, Field, HttpExchange};
use rocket::{Request, Response};
use std::time::Duration;

/// Copies what the core needs from a request and its response.
pub(crate) fn exchange(
    req: &Request<'_>,
    res: &Response<'_>,
    duration: Duration,
) -> ExchangeBuilder {
    let uri = req.uri();
    let path = uri.path().as_str();
    let mut builder = match uri.query() {
        Some(query) => {
            HttpExchange::builder(req.method().as_str(), &format!("{path}?{}", query.as_str()))
        }
        None => HttpExchange::builder(req.method().as_str(), path),
    };
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
