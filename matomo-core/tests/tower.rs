//! `TrackingLayer`: the custom-framework path through tower.
#![cfg(feature = "tower")]

use matomo_core::testing::RecordingTransport;
use matomo_core::tower::{ActionName, PeerAddr, TrackingLayer, UserId};
use matomo_core::{TokenAuth, Tracker, TrackerConfig};
use std::convert::Infallible;
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

async fn handler(request: http::Request<()>) -> Result<http::Response<&'static str>, Infallible> {
    let mut response = http::Response::new("body");
    if request.uri().path() == "/page" {
        response
            .extensions_mut()
            .insert(ActionName("The page".into()));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html"),
        );
    }
    if request.uri().path() == "/boom" {
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(response)
}

fn tracker(transport: &RecordingTransport, token: bool) -> Tracker {
    let mut config = TrackerConfig::new("https://matomo.example/matomo.php", 1).unwrap();
    config.ignore_paths = vec![matomo_core::PathPattern::new("/health").unwrap()];
    config.anonymize_ip_bytes = 0;
    if token {
        config.token_auth = Some(TokenAuth::new("abc").unwrap());
    }
    Tracker::with_transport(&config, transport.clone()).unwrap()
}

fn request(path: &str) -> http::Request<()> {
    http::Request::get(path)
        .header("host", "api.example")
        .header("user-agent", "Mozilla/5.0 Firefox/128.0")
        .body(())
        .unwrap()
}

#[tokio::test]
async fn the_layer_tracks_requests_with_status_title_peer_and_user() {
    let transport = RecordingTransport::new();
    let tracker = tracker(&transport, true);
    let mut service = ServiceBuilder::new()
        .layer(TrackingLayer::new(tracker.clone()))
        .service_fn(handler);
    let mut page = request("/page?x=1");
    page.extensions_mut()
        .insert(PeerAddr("203.0.113.4:999".parse().unwrap()));
    page.extensions_mut().insert(UserId("u-1".into()));
    let response = service.ready().await.unwrap().call(page).await.unwrap();
    assert_eq!(*response.body(), "body", "the response is handed through");
    service
        .ready()
        .await
        .unwrap()
        .call(request("/health"))
        .await
        .unwrap();
    tracker.flush(Duration::from_secs(5)).await;
    let hits = transport.hits();
    assert_eq!(hits.len(), 1, "/health is ignored");
    assert_eq!(hits[0].url(), Some("http://api.example/page?x=1"));
    assert_eq!(hits[0].action_name(), Some("The page"));
    assert_eq!(hits[0].user_id(), Some("u-1"));
    assert_eq!(hits[0].client_ip(), Some("203.0.113.4".parse().unwrap()));
}

#[tokio::test]
async fn the_status_reaches_the_rules() {
    let transport = RecordingTransport::new();
    let mut config = TrackerConfig::new("https://matomo.example/matomo.php", 1).unwrap();
    config.ignore_status_codes = vec![500];
    let tracker = Tracker::with_transport(&config, transport.clone()).unwrap();
    let mut service = ServiceBuilder::new()
        .layer(TrackingLayer::new(tracker.clone()))
        .service_fn(handler);
    service
        .ready()
        .await
        .unwrap()
        .call(request("/boom"))
        .await
        .unwrap();
    service
        .ready()
        .await
        .unwrap()
        .call(request("/fine"))
        .await
        .unwrap();
    tracker.flush(Duration::from_secs(5)).await;
    let urls: Vec<_> = transport
        .hits()
        .iter()
        .map(|h| h.url().unwrap().to_owned())
        .collect();
    assert_eq!(urls, vec!["http://api.example/fine"]);
}
