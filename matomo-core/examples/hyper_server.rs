//! A plain hyper 1 server tracked with `TrackingLayer`, the same core calls the Rocket fairing uses.
//!
//! `cargo run -p matomo-core --example hyper_server --features test-util,tower` serves on
//! 127.0.0.1:3000 and tracks into `MATOMO_URL`/`MATOMO_SITE_ID`, or into a local stand-in that prints
//! each hit. `-- --self-test` sends three requests to itself, prints the hits and exits.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use matomo_core::testing::MockMatomo;
use matomo_core::tower::{ActionName, PeerAddr, TrackingLayer};
use matomo_core::{Tracker, TrackerConfig};
use std::convert::Infallible;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

async fn app(
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (status, body, title) = match request.uri().path() {
        "/" => (200, "hello from hyper\n", Some("Home")),
        "/health" => (200, "ok\n", None),
        _ => (404, "not found\n", None),
    };
    let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    if let Some(title) = title {
        response
            .extensions_mut()
            .insert(ActionName(title.to_owned()));
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let mut stand_in = None;
    let mut config = match TrackerConfig::from_env() {
        Ok(config) => config,
        Err(_) => {
            let matomo = MockMatomo::start().await;
            println!(
                "No MATOMO_URL/MATOMO_SITE_ID: a local stand-in listens at {}",
                matomo.url()
            );
            let config = matomo.config();
            stand_in = Some(matomo);
            config
        }
    };
    config.ignore_paths = vec![matomo_core::PathPattern::new("/health")?];
    config.batch_delay = Duration::from_millis(100);
    let tracker = Tracker::new(&config)?;

    let listener = TcpListener::bind(if self_test {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    })
    .await?;
    let address = listener.local_addr()?;
    println!("serving on http://{address}");
    let layer = TrackingLayer::new(tracker.clone());
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let layer = layer.clone();
            tokio::spawn(async move {
                let service = ServiceBuilder::new()
                    .layer(layer)
                    .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(PeerAddr(peer));
                        request
                    })
                    .service_fn(app);
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });

    if !self_test {
        server.await?;
        return Ok(());
    }
    for path in ["/", "/health", "/nowhere"] {
        let stream = tokio::net::TcpStream::connect(address).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = http::Request::get(path)
            .header("host", address.to_string())
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            )
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let _ = response.into_body().collect().await?;
        println!("GET {path} -> {status}");
    }
    let report = tracker.flush(Duration::from_secs(10)).await;
    println!(
        "delivered {} hit(s); skipped {:?}",
        report.stats.sent, report.stats.skipped
    );
    if let Some(matomo) = stand_in {
        for hit in matomo.tracked() {
            println!(
                "[matomo] url={} action_name={}",
                hit.url().unwrap_or("-"),
                hit.action_name().unwrap_or("-")
            );
        }
    }
    Ok(())
}
