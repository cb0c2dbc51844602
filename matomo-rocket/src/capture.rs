//! Rocket's request and response → the core's `HttpExchange`.

use matomo_core::{ExchangeBuilder, Field, HttpExchange};
use rocket::{Request, Response};
use std::time::Duration;

/// Copies what the core needs from a request and its response into an exchange builder, and
/// returns the response's `Content-Type`.
pub(crate) fn exchange<'r>(
    req: &Request<'_>,
    res: &'r Response<'_>,
    duration: Duration,
) -> (ExchangeBuilder, Option<&'r str>) {
    let uri = req.uri();
    let mut builder = HttpExchange::builder(req.method().as_str(), uri.path().as_str());
    if let Some(query) = uri.query() {
        builder = builder.field(Field::Query, query.as_str());
    }
    for header in req.headers().iter() {
        builder = builder.header(header.name().as_str(), header.value());
    }
    if let Some(remote) = req.remote() {
        builder = builder.peer(remote.ip());
    }
    let content_type = content_type(res);
    if let Some(content_type) = content_type {
        builder = builder.content_type(content_type);
    }
    if let Some(route) = req.route() {
        if let Some(name) = &route.name {
            builder = builder.field(Field::RouteName, name);
        }
        builder = builder.field(Field::RouteTemplate, route.uri.path());
    }
    (
        builder.status(res.status().code).duration(duration),
        content_type,
    )
}

/// The response's `Content-Type`.
pub(crate) fn content_type<'r>(res: &'r Response<'_>) -> Option<&'r str> {
    res.headers().get_one("Content-Type")
}
