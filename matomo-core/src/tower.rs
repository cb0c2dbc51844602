//! `TrackingLayer` (feature `tower`): track every request of a tower service (hyper, axum, tonic)
//! in one line, with the same core calls the Rocket fairing uses.
//!
//! The layer captures the request (method, path, query, headers, peer address) before the inner
//! service runs and the response status and content type after, then hands the exchange to
//! [`Tracker::track_exchange`]: it never waits on the network. Response bodies are streamed in
//! tower, so no title is read; set one with the [`ActionName`] response extension. The peer address
//! is read from a request extension of type [`std::net::SocketAddr`] or [`PeerAddr`] (insert it
//! where you accept connections; axum users can map `ConnectInfo`).

use crate::dispatch::Tracker;
use crate::exchange::{Field, HttpExchange};
use pin_project_lite::pin_project;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

/// The peer address of a connection, as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// A response extension that names the page view (Matomo's action name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionName(pub String);

/// A request extension with the application's user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(pub String);

/// Tracks every request of the wrapped service.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use matomo_core::testing::RecordingTransport;
/// use matomo_core::tower::TrackingLayer;
/// use matomo_core::{Tracker, TrackerConfig};
/// use tower::{Service, ServiceExt, ServiceBuilder};
/// let transport = RecordingTransport::new();
/// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
/// let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
/// let mut service = ServiceBuilder::new()
///     .layer(TrackingLayer::new(tracker.clone()))
///     .service_fn(|_req: http::Request<()>| async { Ok::<_, std::convert::Infallible>(http::Response::new(())) });
/// let request = http::Request::get("/hello").header("user-agent", "Firefox").body(()).unwrap();
/// service.ready().await.unwrap().call(request).await.unwrap();
/// tracker.flush(std::time::Duration::from_secs(5)).await;
/// assert_eq!(transport.hits().len(), 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TrackingLayer {
    tracker: Tracker,
}

impl TrackingLayer {
    /// A layer that tracks into `tracker`.
    pub fn new(tracker: Tracker) -> Self {
        Self { tracker }
    }
}

impl<S> Layer<S> for TrackingLayer {
    type Service = TrackingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackingService {
            inner,
            tracker: self.tracker.clone(),
        }
    }
}

/// The service [`TrackingLayer`] makes.
#[derive(Debug, Clone)]
pub struct TrackingService<S> {
    inner: S,
    tracker: Tracker,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for TrackingService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackingFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let mut exchange = HttpExchange::builder(request.method().as_str(), path_and_query);
        for (name, value) in request.headers() {
            if let Ok(value) = value.to_str() {
                exchange = exchange.header(name.as_str(), value);
            }
        }
        if !request.headers().contains_key(http::header::HOST) {
            if let Some(authority) = request.uri().authority() {
                exchange = exchange.header("host", authority.as_str());
            }
        }
        let peer = request
            .extensions()
            .get::<PeerAddr>()
            .map(|p| p.0)
            .or_else(|| request.extensions().get::<SocketAddr>().copied());
        if let Some(peer) = peer {
            exchange = exchange.peer(peer.ip());
        }
        if let Some(user) = request.extensions().get::<UserId>() {
            exchange = exchange.field(Field::UserId, &user.0);
        }
        TrackingFuture {
            inner: self.inner.call(request),
            exchange: Some(exchange),
            tracker: self.tracker.clone(),
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The future of [`TrackingService`].
    pub struct TrackingFuture<F> {
        #[pin]
        inner: F,
        exchange: Option<crate::exchange::ExchangeBuilder>,
        tracker: Tracker,
        started: Instant,
    }
}

impl<F, ResBody, E> Future for TrackingFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(mut exchange)) = (&result, this.exchange.take()) {
            exchange = exchange
                .status(response.status().as_u16())
                .duration(this.started.elapsed());
            if let Some(content_type) = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
            {
                exchange = exchange.content_type(content_type);
            }
            if let Some(name) = response.extensions().get::<ActionName>() {
                exchange = exchange.field(Field::ActionName, &name.0);
            }
            this.tracker.track_exchange(exchange.build());
        }
        Poll::Ready(result)
    }
}
