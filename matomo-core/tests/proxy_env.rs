//! Proxies named in the environment: each test sets `HTTP_PROXY` or `NO_PROXY` for its whole
//! process (nextest runs every test in a process of its own).

use matomo_core::testing::{MockMatomo, RecordingProxy};
use matomo_core::{HyperTransport, TrackerConfig, TrackingRequest, Transport};

#[tokio::test]
async fn http_proxy_credentials_from_the_environment_go_as_proxy_authorization_and_never_show() {
    let matomo = MockMatomo::start().await;
    let proxy = RecordingProxy::start().await;
    for name in [
        "NO_PROXY",
        "no_proxy",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(name);
    }
    let with_credentials = proxy.url().replace("http://", "http://user:s3cret@");
    std::env::set_var("HTTP_PROXY", with_credentials);
    let config = TrackerConfig::new(matomo.url(), 1).unwrap();
    let transport = HyperTransport::new(&config).unwrap();
    assert!(
        !format!("{transport:?}").contains("s3cret"),
        "{transport:?}"
    );
    assert_eq!(
        transport.proxy(),
        Some(proxy.url().as_str()),
        "shown without the credentials"
    );
    let hit = TrackingRequest::builder(1)
        .url("https://shop.example/")
        .build()
        .unwrap();
    let accepted = transport.send(std::slice::from_ref(&hit)).await.unwrap();
    assert_eq!(accepted.tracked, 1);
    assert_eq!(matomo.tracked(), vec![hit]);
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("GET {}?", matomo.url())),
        "{heads:?}"
    );
    // `user:s3cret` in Base64.
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("proxy-authorization: basic dxnlcjpzm2nyzxq=\r\n"),
        "{heads:?}"
    );
}

/// Sends one hit through `transport` and checks Matomo tracked it.
async fn tracks_one_hit(transport: &HyperTransport) {
    let hit = TrackingRequest::builder(1)
        .url("https://shop.example/")
        .build()
        .unwrap();
    assert_eq!(transport.send(&[hit]).await.unwrap().tracked, 1);
}

/// Clears every proxy variable, then sets `HTTP_PROXY` to `proxy`.
fn only_http_proxy(proxy: &str) {
    for name in [
        "NO_PROXY",
        "no_proxy",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", proxy);
}

#[tokio::test]
async fn proxy_none_connects_directly_whatever_the_environment_says() {
    let matomo = MockMatomo::start().await;
    let proxy = RecordingProxy::start().await;
    only_http_proxy(&proxy.url());
    let mut config = TrackerConfig::new(matomo.url(), 1).unwrap();
    assert!(HyperTransport::new(&config).unwrap().proxy().is_some());
    config.proxy = Some(matomo_core::Proxy::Direct);
    let transport = HyperTransport::new(&config).unwrap();
    assert_eq!(transport.proxy(), None);
    tracks_one_hit(&transport).await;
    assert!(proxy.heads().is_empty(), "{:?}", proxy.heads());
}

#[tokio::test]
async fn no_proxy_exempts_matomo_from_a_configured_proxy_too() {
    let matomo = MockMatomo::start().await;
    let proxy = RecordingProxy::start().await;
    only_http_proxy("http://192.0.2.1:3128");
    let mut config = TrackerConfig::new(matomo.url(), 1).unwrap();
    config.proxy = Some(proxy.url().parse().unwrap());
    assert_eq!(
        HyperTransport::new(&config).unwrap().proxy(),
        Some(proxy.url().as_str())
    );
    for exempt in ["127.0.0.1", "127.0.0.0/8", "*"] {
        std::env::set_var("NO_PROXY", exempt);
        let transport = HyperTransport::new(&config).unwrap();
        assert_eq!(transport.proxy(), None, "NO_PROXY={exempt}");
        tracks_one_hit(&transport).await;
    }
    assert!(proxy.heads().is_empty(), "{:?}", proxy.heads());
}
