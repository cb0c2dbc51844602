//! `HyperTransport` against `MockMatomo`: every answer a real Matomo gives (listed in the `transport` module docs), faults, TLS, proxy, and
//! a token that never shows.

use matomo_core::internals::BulkAnswer;
use matomo_core::testing::{
    CapturedLogs, Fault, HitOutcome, MockMatomo, RecordingProxy, Via, TRANSPARENT_GIF,
};
use matomo_core::{
    looks_like_tracker, HyperTransport, RejectReason, TimeoutPhase, TokenAuth, TrackerConfig,
    TrackingRequest, Transport, TransportError,
};
use std::time::Duration;

const TOKEN: &str = "c0ffee0123456789deadbeef";

fn hit(site: u32, path: &str) -> TrackingRequest {
    TrackingRequest::builder(site)
        .url(format!("https://shop.example{path}"))
        .action_name(path)
        .build()
        .unwrap()
}

fn hit_with_cip(site: u32) -> TrackingRequest {
    TrackingRequest::builder(site)
        .url("https://shop.example/")
        .client_ip("203.0.113.5".parse().unwrap())
        .token(&TokenAuth::new("any").unwrap())
        .build()
        .unwrap()
}

fn transport(url: &str, token: Option<&str>) -> HyperTransport {
    let mut config = TrackerConfig::new(url, 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    config.token_auth = token.map(|t| TokenAuth::new(t).unwrap());
    config.timeout = Duration::from_secs(5);
    HyperTransport::new(&config).unwrap()
}

#[tokio::test]
async fn a_single_hit_without_token_is_a_get_answered_204() {
    let matomo = MockMatomo::start().await;
    let accepted = transport(&matomo.url(), None)
        .send(&[hit(1, "/a")])
        .await
        .unwrap();
    assert_eq!(accepted.tracked, 1);
    let received = matomo.hits();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].via, Via::Get);
    assert_eq!(received[0].token, None);
    assert_eq!(matomo.tracked(), vec![hit(1, "/a")]);
}

#[tokio::test]
async fn a_single_hit_with_token_is_posted_so_the_token_never_sits_in_a_url() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let t = transport(&matomo.url(), Some(TOKEN));
    t.send(&[hit_with_cip(1)]).await.unwrap();
    let received = &matomo.hits()[0];
    assert_eq!(received.via, Via::Post);
    assert_eq!(received.token, Some(true));
    assert_eq!(received.outcome, HitOutcome::Tracked);
    assert_eq!(received.param("token_auth"), Some("***"));
}

#[tokio::test]
async fn a_hit_asking_for_the_image_gets_the_43_byte_gif_and_counts_as_tracked() {
    let matomo = MockMatomo::start().await;
    let t = transport(&matomo.url(), None);
    let gif_hit = TrackingRequest::builder(1)
        .url("https://shop.example/")
        .send_image(true)
        .build()
        .unwrap();
    let raw = t.exchange(Some(&gif_hit.to_query()), None).await.unwrap();
    assert_eq!(raw.status, 200);
    assert_eq!(raw.content_type.as_deref(), Some("image/gif"));
    assert_eq!(&raw.body[..], &TRANSPARENT_GIF[..]);
    assert_eq!(t.send(&[gif_hit]).await.unwrap().tracked, 1);
}

#[tokio::test]
async fn a_hit_without_rec_gets_204_but_is_not_tracked() {
    let matomo = MockMatomo::start().await;
    let raw = transport(&matomo.url(), None)
        .exchange(Some("idsite=1&url=https%3A%2F%2Fshop.example%2F"), None)
        .await
        .unwrap();
    assert_eq!(raw.status, 204);
    assert_eq!(matomo.hits()[0].outcome, HitOutcome::NotRecorded);
    assert!(matomo.tracked().is_empty());
}

#[tokio::test]
async fn an_unknown_site_id_is_a_permanent_rejection() {
    let matomo = MockMatomo::start().await;
    let err = transport(&matomo.url(), None)
        .send(&[hit(99, "/")])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Rejected {
            tracked: 0,
            invalid: 1,
            indices: Some(vec![0]),
            reason: RejectReason::SiteIdOrToken
        }
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("site id is unknown"), "{err}");
}

#[tokio::test]
async fn cip_with_a_wrong_token_is_rejected_with_400() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let t = transport(&matomo.url(), Some("wrongtoken"));
    let raw_status = t.send(&[hit_with_cip(1)]).await.unwrap_err();
    assert!(matches!(
        raw_status,
        TransportError::Rejected {
            reason: RejectReason::SiteIdOrToken,
            ..
        }
    ));
    assert_eq!(matomo.hits()[0].outcome, HitOutcome::BadToken);
}

#[tokio::test]
async fn the_tracker_without_parameters_shows_its_fingerprint() {
    let matomo = MockMatomo::start().await;
    let raw = transport(&matomo.url(), None)
        .exchange(None, None)
        .await
        .unwrap();
    assert_eq!(raw.status, 200);
    assert!(raw.content_type.unwrap().starts_with("text/html"));
    assert!(looks_like_tracker(&raw.body));
}

#[tokio::test]
async fn a_bulk_with_send_image_0_is_tracked_and_answered_204_without_a_body() {
    let matomo = MockMatomo::start().await;
    let body = format!(
        r#"{{"requests":["?{}"],"send_image":"0"}}"#,
        hit(1, "/a").to_query()
    );
    let raw = transport(&matomo.url(), None)
        .exchange(None, Some((body.into(), "application/json")))
        .await
        .unwrap();
    assert_eq!(raw.status, 204);
    assert!(raw.body.is_empty());
    assert_eq!(matomo.tracked(), vec![hit(1, "/a")]);
}

#[tokio::test]
async fn another_path_of_the_server_is_not_matomo() {
    let matomo = MockMatomo::start().await;
    let url = format!("{}/index.php", matomo.base_url());
    let err = transport(&url, None)
        .send(&[hit(1, "/")])
        .await
        .unwrap_err();
    match &err {
        TransportError::NotMatomo { status, what, .. } => {
            assert_eq!(*status, 200);
            assert!(what.contains("Sign in - Matomo"), "{what}");
        }
        other => panic!("expected NotMatomo, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_404_means_a_wrong_path() {
    let matomo = MockMatomo::start().await;
    matomo.fail_next(1, Fault::Status(404));
    let err = transport(&matomo.url(), None)
        .send(&[hit(1, "/")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::NotMatomo { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn several_hits_go_as_one_bulk_request() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let hits = [hit(1, "/a"), hit(1, "/b")];
    let accepted = transport(&matomo.url(), Some(TOKEN))
        .send(&hits)
        .await
        .unwrap();
    assert_eq!(accepted.tracked, 2);
    assert_eq!(matomo.request_count(), 1);
    assert_eq!(
        matomo.hits().iter().map(|h| h.via).collect::<Vec<_>>(),
        vec![Via::Bulk(0), Via::Bulk(1)]
    );
    assert_eq!(matomo.tracked(), hits.to_vec());
}

#[tokio::test]
async fn a_bulk_with_a_valid_token_names_the_invalid_hits() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let hits = [hit(1, "/a"), hit(99, "/b"), hit(1, "/c")];
    let err = transport(&matomo.url(), Some(TOKEN))
        .send(&hits)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Rejected {
            tracked: 2,
            invalid: 1,
            indices: Some(vec![1]),
            reason: RejectReason::SiteIdOrToken
        }
    );
    assert_eq!(matomo.tracked().len(), 2);
}

#[tokio::test]
async fn a_bulk_without_token_cannot_tell_which_hit_failed() {
    let matomo = MockMatomo::start().await;
    let hits = [hit(1, "/a"), hit(99, "/b")];
    let err = transport(&matomo.url(), None)
        .send(&hits)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Rejected {
            tracked: 1,
            invalid: 1,
            indices: None,
            reason: RejectReason::Unspecified
        }
    );
    assert!(err.to_string().contains("configure token_auth"), "{err}");
}

#[tokio::test]
async fn a_bad_token_in_bulk_is_no_http_error_but_is_recognised() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let hits = [hit_with_cip(1), hit_with_cip(1)];
    let err = transport(&matomo.url(), Some("wrongtoken"))
        .send(&hits)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Rejected {
                tracked: 0,
                invalid: 2,
                reason: RejectReason::LikelyBadToken,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("token is most likely wrong"),
        "{err}"
    );
}

#[tokio::test]
async fn a_malformed_bulk_body_is_answered_with_nothing_tracked() {
    let matomo = MockMatomo::start().await;
    let raw = transport(&matomo.url(), None)
        .exchange(None, Some(("{\"requests\": [".into(), "application/json")))
        .await
        .unwrap();
    assert_eq!(raw.status, 200);
    let answer = BulkAnswer::parse(&raw.body).unwrap();
    assert_eq!(
        (answer.tracked, answer.invalid, answer.invalid_indices),
        (0, 0, None)
    );
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let matomo = MockMatomo::start().await;
    matomo.fail_next(1, Fault::Status(500));
    let t = transport(&matomo.url(), None);
    let err = t.send(&[hit(1, "/")]).await.unwrap_err();
    assert!(matches!(err, TransportError::Status { status: 500, .. }));
    assert!(err.is_retryable());
    assert_eq!(t.send(&[hit(1, "/")]).await.unwrap().tracked, 1);
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let matomo = MockMatomo::start().await;
    matomo.fail_next(1, Fault::RateLimited { retry_after: 7 });
    matomo.fail_next(1, Fault::Unavailable { retry_after: 3 });
    let t = transport(&matomo.url(), None);
    let first = t.send(&[hit(1, "/"), hit(1, "/b")]).await.unwrap_err();
    assert_eq!(first.retry_after(), Some(Duration::from_secs(7)));
    assert!(first.is_retryable());
    let second = t.send(&[hit(1, "/")]).await.unwrap_err();
    assert!(matches!(second, TransportError::Status { status: 503, .. }));
    assert_eq!(second.retry_after(), Some(Duration::from_secs(3)));
}

#[tokio::test]
async fn a_black_holed_matomo_times_out_and_nothing_is_tracked() {
    let matomo = MockMatomo::start().await;
    matomo.fail_always(Fault::BlackHole);
    let mut config = matomo.config();
    config.timeout = Duration::from_millis(300);
    let err = HyperTransport::new(&config)
        .unwrap()
        .send(&[hit(1, "/")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                phase: TimeoutPhase::Response,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && err.may_have_arrived());
    assert!(matomo.tracked().is_empty());
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_fine() {
    let matomo = MockMatomo::start().await;
    matomo.fail_next(1, Fault::Slow(Duration::from_millis(200)));
    assert_eq!(
        transport(&matomo.url(), None)
            .send(&[hit(1, "/")])
            .await
            .unwrap()
            .tracked,
        1
    );
}

#[tokio::test]
async fn a_reset_connection_is_a_retryable_connect_error() {
    let matomo = MockMatomo::start().await;
    matomo.fail_next(1, Fault::Reset);
    let t = transport(&matomo.url(), None);
    let err = t.send(&[hit(1, "/")]).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(matomo.tracked().is_empty());
    assert_eq!(t.send(&[hit(1, "/")]).await.unwrap().tracked, 1);
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = transport(&format!("http://127.0.0.1:{port}/matomo.php"), None)
        .send(&[hit(1, "/")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Connect { refused: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn a_configured_proxy_is_used() {
    let matomo = MockMatomo::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = matomo.config();
    config.proxy = Some(format!("http://127.0.0.1:{closed}").parse().unwrap());
    let err = HyperTransport::new(&config)
        .unwrap()
        .send(&[hit(1, "/")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Connect { refused: true, .. }),
        "{err:?}"
    );
    // The error blames the proxy, not Matomo's `url`.
    let text = err.to_string();
    assert!(text.contains("the proxy refused the connection"), "{text}");
    assert!(
        text.contains(&format!("via the proxy http://127.0.0.1:{closed}")),
        "{text}"
    );
    assert!(!text.contains("`url`"), "{text}");
    assert!(
        matomo.hits().is_empty(),
        "the hit must not bypass the proxy"
    );
}

#[tokio::test]
async fn an_error_the_proxy_answers_names_the_proxy() {
    // Matomo is down behind a working proxy: the proxy answers 502, not Matomo.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let proxy = RecordingProxy::start().await;
    let mut config =
        TrackerConfig::new(format!("http://127.0.0.1:{closed}/matomo.php"), 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    config.proxy = Some(proxy.url().parse().unwrap());
    let err = HyperTransport::new(&config)
        .unwrap()
        .send(&[hit(1, "/a"), hit(1, "/b")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Status { status: 502, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("via the proxy {}", proxy.url())),
        "{err}"
    );
}

/// Sends `hits` to a fresh stand-in (an `http://` URL) through a recording proxy: how many were
/// tracked, the stand-in, and the request heads the proxy got.
async fn through_recording_proxy(hits: &[TrackingRequest]) -> (usize, MockMatomo, Vec<String>) {
    let matomo = MockMatomo::start().await;
    let proxy = RecordingProxy::start().await;
    let mut config = matomo.config();
    config.proxy = Some(proxy.url().parse().unwrap());
    let transport = HyperTransport::new(&config).unwrap();
    assert_eq!(transport.proxy(), Some(proxy.url().as_str()));
    let accepted = transport.send(hits).await.unwrap();
    (accepted.tracked, matomo, proxy.heads())
}

#[tokio::test]
async fn an_http_matomo_is_reached_through_a_proxy_that_forwards_each_request() {
    let hits = [hit(1, "/a"), hit(1, "/b")];
    let (tracked, matomo, heads) = through_recording_proxy(&hits).await;
    assert_eq!(tracked, 2);
    assert_eq!(matomo.tracked(), hits);
    assert_eq!(heads.len(), 1, "{heads:?}");
    // Not CONNECT: the request itself, with its full URL.
    assert!(
        heads[0].starts_with(&format!("POST {} HTTP/1.1\r\n", matomo.url())),
        "{heads:?}"
    );
}

#[tokio::test]
async fn a_single_hit_to_an_http_matomo_goes_through_the_proxy_too() {
    let (tracked, matomo, heads) = through_recording_proxy(&[hit(1, "/a")]).await;
    assert_eq!(tracked, 1);
    assert!(
        heads[0].starts_with(&format!("GET {}?", matomo.url())),
        "{heads:?}"
    );
    assert!(
        !heads[0]
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "no credentials, no header: {heads:?}"
    );
    assert_eq!(matomo.tracked(), vec![hit(1, "/a")]);
}

#[test]
fn the_proxy_setting_refuses_credentials_and_points_at_the_environment() {
    // Settings show in Debug output and logs; credentials for a proxy come only from the
    // environment (tests/proxy_env.rs).
    let mut config = TrackerConfig::new("http://m.example/matomo.php", 1).unwrap();
    let with_credentials = "http://user:s3cret@127.0.0.1:3128";
    let parsed = with_credentials.parse::<matomo_core::Proxy>().unwrap_err();
    // Set as a parsed URL in code, it is refused all the same.
    config.proxy = Some(matomo_core::Proxy::Http(
        url::Url::parse(with_credentials).unwrap(),
    ));
    let built = HyperTransport::new(&config).unwrap_err();
    for err in [parsed, built] {
        assert_eq!(err.key(), Some("proxy"));
        assert!(err.to_string().contains("HTTP_PROXY"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}

mod tls {
    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS server on 127.0.0.1 with a self-signed certificate that answers every request with 204.
    async fn tls_server() -> (u16, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert_der: CertificateDer<'static> = certified.cert.der().clone();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 8192];
                    let mut read = 0;
                    while let Ok(n) = tls.read(&mut buf[read..]).await {
                        if n == 0 {
                            return;
                        }
                        read += n;
                        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let _ = tls
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, certified.cert.pem())
    }

    #[tokio::test]
    async fn a_self_signed_certificate_is_a_tls_error() {
        let (port, _) = tls_server().await;
        let err = transport(&format!("https://127.0.0.1:{port}/matomo.php"), None)
            .send(&[hit(1, "/")])
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("tls_ca_file"), "{err}");
    }

    /// Sends a hit to the TLS server on `port`, trusting its certificate `pem` through
    /// `tls_ca_file`, directly or through the proxy at `proxy`.
    async fn send_trusting(
        port: u16,
        pem: String,
        proxy: Option<String>,
    ) -> Result<matomo_core::Accepted, TransportError> {
        let path =
            std::env::temp_dir().join(format!("matomo-rs-ca-{}-{port}.pem", std::process::id()));
        std::fs::write(&path, pem).unwrap();
        let mut config =
            TrackerConfig::new(format!("https://127.0.0.1:{port}/matomo.php"), 1).unwrap();
        config.proxy = Some(matomo_core::Proxy::Direct);
        config.tls_ca_file = Some(path.clone());
        config.proxy = proxy.map(|proxy| proxy.parse().unwrap());
        let result = HyperTransport::new(&config)
            .unwrap()
            .send(&[hit(1, "/")])
            .await;
        let _ = std::fs::remove_file(&path);
        result
    }

    #[tokio::test]
    async fn tls_ca_file_adds_a_root() {
        let (port, pem) = tls_server().await;
        assert_eq!(send_trusting(port, pem, None).await.unwrap().tracked, 1);
    }

    #[tokio::test]
    async fn an_https_matomo_is_reached_through_the_proxys_connect_tunnel() {
        let (port, pem) = tls_server().await;
        let proxy = RecordingProxy::start().await;
        let result = send_trusting(port, pem, Some(proxy.url())).await;
        assert_eq!(result.unwrap().tracked, 1);
        let heads = proxy.heads();
        assert!(
            heads[0].starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n")),
            "{heads:?}"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let path = std::env::temp_dir().join(format!("matomo-rs-empty-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate").unwrap();
        let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
        config.tls_ca_file = Some(path.clone());
        let err = HyperTransport::new(&config).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert_eq!(err.key(), Some("tls_ca_file"));
    }
}

#[tokio::test]
async fn the_token_never_shows_in_logs_debug_output_or_errors() {
    let logs = CapturedLogs::start();

    let matomo = MockMatomo::builder().token("the-right-one").start().await;
    let t = transport(&matomo.url(), Some(TOKEN));
    let mut texts = vec![format!("{t:?}")];
    for hits in [
        vec![hit_with_cip(1)],
        vec![hit_with_cip(1), hit_with_cip(1)],
    ] {
        let err = t.send(&hits).await.unwrap_err();
        texts.push(format!("{err} {err:?}"));
    }
    matomo.fail_next(1, Fault::Status(500));
    let err = t.send(&[hit(1, "/")]).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    for hit in matomo.hits() {
        texts.push(format!("{hit:?}"));
    }
    let logs = logs.text();
    assert!(
        logs.contains("Matomo answered"),
        "the capture works: {logs}"
    );
    texts.push(logs);
    for text in texts {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
}
