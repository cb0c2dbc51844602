//! A proxy named in the environment, with credentials: its own test binary, since it sets
//! `HTTP_PROXY` for the whole process.

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
    let config = TrackerConfig::new(matomo.url(), 1);
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
