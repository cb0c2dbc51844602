//! The real binary, run by assert_cmd against MockMatomo, a TLS server and `listen`.

use assert_cmd::Command;
use matomo_core::testing::{Fault, MockMatomo, RecordingProxy};
use matomo_core::{Action, TrackingRequest};
use predicates::prelude::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const TOKEN: &str = "c0ffee0123456789token";

fn cli() -> Command {
    let mut command = Command::cargo_bin("matomo-cli").unwrap();
    command
        .env_remove("MATOMO_URL")
        .env_remove("MATOMO_SITE_ID")
        .env_remove("MATOMO_TOKEN_AUTH")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        // Loopback test traffic never goes through a proxy of the machine's.
        .env("MATOMO_PROXY", "none");
    command
}

/// Runs the binary off the async runtime, so the stand-in keeps answering.
async fn run(mut command: Command) -> assert_cmd::assert::Assert {
    tokio::task::spawn_blocking(move || command.assert())
        .await
        .unwrap()
}

fn no_token_anywhere(assert: &assert_cmd::assert::Assert) {
    let output = assert.get_output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_healthy_matomo_with_a_valid_token() {
    let matomo = MockMatomo::builder().token(TOKEN).start().await;
    let mut command = cli();
    command
        .args(["check", "--url", &matomo.url(), "--site-id", "1"])
        .env("MATOMO_TOKEN_AUTH", TOKEN);
    let assert = run(command)
        .await
        .code(0)
        .stdout(predicate::str::contains("all checks passed"));
    no_token_anywhere(&assert);
    let events: Vec<_> = matomo
        .tracked()
        .into_iter()
        .filter(|h| matches!(h.action(), Action::Event(e) if e.category == "matomo-cli" && e.action == "check"))
        .collect();
    assert_eq!(
        events.len(),
        2,
        "the test hit and the token hit are recognisable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_closed_port_as_refused() {
    let mut command = cli();
    command.args([
        "check",
        "--url",
        &format!("http://127.0.0.1:{}/matomo.php", closed_port()),
    ]);
    run(command)
        .await
        .code(4)
        .stdout(predicate::str::contains("refused the connection"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_black_hole_as_a_timeout() {
    let matomo = MockMatomo::start().await;
    matomo.fail_always(Fault::BlackHole);
    let mut command = cli();
    command.args(["check", "--url", &matomo.url(), "--timeout", "0.5"]);
    run(command)
        .await
        .code(5)
        .stdout(predicate::str::contains("[FAIL] tracker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_login_page_as_not_matomo() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command.args([
        "check",
        "--url",
        &format!("{}/index.php", matomo.base_url()),
    ]);
    run(command).await.code(7).stdout(
        predicate::str::contains("Sign in - Matomo")
            .and(predicate::str::contains("must point at the tracker"))
            .and(predicate::str::contains("matomo.php")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_a_tracker_path_that_is_not_matomo_blames_the_server_not_the_path() {
    // The tracker is elsewhere; what answers at /matomo.php is another page.
    let matomo = MockMatomo::builder()
        .path("/analytics/matomo.php")
        .start()
        .await;
    let mut command = cli();
    command.args([
        "check",
        "--url",
        &format!("{}/matomo.php", matomo.base_url()),
    ]);
    run(command).await.code(7).stdout(
        predicate::str::contains("the server there is not Matomo")
            .and(predicate::str::contains("must point at").not()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_an_unknown_site_id() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command.args(["check", "--url", &matomo.url(), "--site-id", "99"]);
    run(command)
        .await
        .code(8)
        .stdout(predicate::str::contains("refused site id 99"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_wrong_token() {
    let matomo = MockMatomo::builder().token("the-right-token").start().await;
    let mut command = cli();
    command
        .args(["check", "--url", &matomo.url()])
        .env("MATOMO_TOKEN_AUTH", TOKEN);
    let assert = run(command)
        .await
        .code(9)
        .stdout(predicate::str::contains("token is wrong"));
    no_token_anywhere(&assert);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_no_hit_sends_nothing_and_json_is_machine_readable() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command.args(["check", "--url", &matomo.url(), "--no-hit", "--json"]);
    let assert = run(command).await.code(0);
    let out: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(out["ok"], true);
    let steps: Vec<_> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(steps, vec!["url", "dns", "tcp", "tracker", "hit"]);
    assert!(matomo.hits().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_walks_the_path_through_the_proxy_hits_take() {
    let matomo = MockMatomo::start().await;
    let proxy = RecordingProxy::start().await;
    let mut command = cli();
    command
        .env_remove("MATOMO_PROXY")
        .env("HTTP_PROXY", proxy.url())
        .args(["check", "--url", &matomo.url(), "--json"]);
    let assert = run(command).await.code(0);
    let out: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let steps: Vec<_> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["detail"].as_str().unwrap()))
        .collect();
    let names: Vec<_> = steps.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["url", "proxy", "dns", "tcp", "tracker", "hit", "token"]
    );
    assert!(steps[1].1.contains(&proxy.url()), "{steps:?}");
    let proxy_address = proxy.url().replace("http://", "");
    assert_eq!(
        steps[3].1,
        format!("connected to the proxy {proxy_address}"),
        "{steps:?}"
    );
    // The tracker's notice was asked through the proxy (the test hit then reused the connection).
    let heads = proxy.heads();
    assert!(
        heads[0].starts_with(&format!("GET {} HTTP/1.1\r\n", matomo.url())),
        "{heads:?}"
    );
    assert_eq!(matomo.tracked().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_proxy_that_refuses_as_the_proxy() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command
        .env_remove("MATOMO_PROXY")
        .env("HTTP_PROXY", format!("http://127.0.0.1:{}", closed_port()))
        .args(["check", "--url", &matomo.url()]);
    run(command)
        .await
        .code(4)
        .stdout(predicate::str::contains("the proxy 127.0.0.1:"))
        .stdout(predicate::str::contains("refused the connection"));
    assert!(matomo.hits().is_empty());
}

mod tls {
    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn server() -> (u16, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
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
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, certified.cert.pem())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn check_reports_a_self_signed_certificate_and_ca_file_fixes_it() {
        let (port, pem) = server().await;
        let url = format!("https://127.0.0.1:{port}/matomo.php");
        let mut command = cli();
        command.args(["check", "--url", &url]);
        run(command).await.code(6).stdout(
            predicate::str::contains("[FAIL] tls").and(predicate::str::contains("--ca-file")),
        );

        let path =
            std::env::temp_dir().join(format!("matomo-cli-ca-{}-{port}.pem", std::process::id()));
        std::fs::write(&path, pem).unwrap();
        let mut command = cli();
        command.args(["check", "--url", &url, "--ca-file", path.to_str().unwrap()]);
        let assert = run(command).await;
        let _ = std::fs::remove_file(&path);
        // TLS passes; the server is no Matomo tracker, which is the next step's finding.
        assert
            .code(7)
            .stdout(predicate::str::contains("[ok]   tls"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_dry_run_prints_the_request_with_the_token_masked() {
    let mut command = cli();
    command
        .args([
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--ip",
            "203.0.113.9",
            "--dry-run",
        ])
        .env("MATOMO_TOKEN_AUTH", TOKEN);
    let assert = run(command).await.code(0).stdout(
        predicate::str::contains("POST https://m.example/matomo.php")
            .and(predicate::str::contains("token_auth=***")),
    );
    no_token_anywhere(&assert);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_an_event_and_says_it_was_tracked() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command.args([
        "send",
        "--url",
        &matomo.url(),
        "--kind",
        "event",
        "--event-category",
        "Video",
        "--event-action",
        "Play",
        "--visitor-id",
        "0123456789abcdef",
        "--dimension",
        "2=blue",
    ]);
    run(command)
        .await
        .code(0)
        .stdout(predicate::str::contains("tracked"));
    let tracked = matomo.tracked();
    assert_eq!(tracked.len(), 1);
    assert!(matches!(tracked[0].action(), Action::Event(e) if e.category == "Video"));
    assert_eq!(
        tracked[0].forced_visitor_id().unwrap().to_string(),
        "0123456789abcdef"
    );
    assert_eq!(tracked[0].dimensions()[&2], "blue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_with_a_wrong_token_says_so_and_never_shows_it() {
    let matomo = MockMatomo::builder().token("the-right-token").start().await;
    for json in [false, true] {
        let mut command = cli();
        command
            .args(["send", "--url", &matomo.url(), "--ip", "203.0.113.9"])
            .env("MATOMO_TOKEN_AUTH", TOKEN);
        if json {
            command.arg("--json");
        }
        let assert = run(command).await.code(9);
        no_token_anywhere(&assert);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_bulk_sends_every_line_in_one_request() {
    let matomo = MockMatomo::start().await;
    let lines = "# comment\nidsite=1&rec=1&url=https%3A%2F%2Fa.example%2F1\n\n?idsite=1&rec=1&url=https%3A%2F%2Fa.example%2F2\n{\"idsite\": 1, \"rec\": 1, \"url\": \"https://a.example/3\"}\n";
    let mut command = cli();
    command
        .args(["send", "--url", &matomo.url(), "--bulk"])
        .write_stdin(lines);
    run(command).await.code(0).stdout(predicate::str::contains(
        "sent 3 hit(s): 3 tracked, 0 rejected",
    ));
    assert_eq!(matomo.request_count(), 1);
    let urls: Vec<_> = matomo
        .tracked()
        .iter()
        .map(|h| h.url().unwrap().to_owned())
        .collect();
    assert_eq!(
        urls,
        vec![
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3"
        ]
    );
}

#[test]
fn listen_refuses_max_hits_0_instead_of_never_exiting() {
    cli()
        .args(["listen", "--port", "0", "--max-hits", "0"])
        .timeout(std::time::Duration::from_secs(10))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-hits must be 1 or more"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_bulk_sends_lines_without_idsite_to_the_site_id_given() {
    let matomo = MockMatomo::builder().site(1).site(4).start().await;
    let mut command = cli();
    command
        .args(["send", "--url", &matomo.url(), "--site-id", "4", "--bulk"])
        .write_stdin("rec=1&url=https%3A%2F%2Fa.example%2F\nidsite=1&rec=1\n{\"rec\": 1}\n");
    run(command).await.code(0);
    let sites: Vec<u32> = matomo.tracked().iter().map(|hit| hit.site_id()).collect();
    assert_eq!(sites, [4, 1, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_bulk_with_bad_lines_names_them_and_sends_nothing() {
    let matomo = MockMatomo::start().await;
    let mut command = cli();
    command
        .args(["send", "--url", &matomo.url(), "--bulk"])
        .write_stdin("idsite=1&rec=1\nidsite=first&rec=1\n{broken\n");
    run(command).await.code(2).stderr(
        predicate::str::contains("line 2")
            .and(predicate::str::contains("line 3"))
            .and(predicate::str::contains("nothing sent")),
    );
    assert!(matomo.hits().is_empty());
}

#[test]
fn bad_input_on_every_flag_is_a_one_line_usage_error() {
    let cases: &[&[&str]] = &[
        &["send", "--url", "not a url"],
        &["send", "--url", "ftp://m.example/matomo.php"],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--site-id",
            "0",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--site-id",
            "abc",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--timeout",
            "-1",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--visitor-id",
            "xyz",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--dimension",
            "nope",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--kind",
            "event",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--ip",
            "999.1.1.1",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--ip",
            "203.0.113.9",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--token-file",
            "/nonexistent/token",
        ],
        &[
            "send",
            "--url",
            "https://m.example/matomo.php",
            "--kind",
            "teleport",
        ],
        &["send"],
        &[
            "check",
            "--url",
            "https://m.example/matomo.php",
            "--ca-file",
            "/nonexistent/ca.pem",
        ],
        &["listen", "--port", "huge"],
    ];
    for args in cases {
        let assert = cli().args(*args).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        let text = format!("{stdout}{stderr}");
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "{args:?}: {text}"
        );
        assert!(!text.trim().is_empty(), "{args:?} says nothing");
    }
}

#[test]
fn help_teaches_and_hides_environment_values() {
    let assert = cli()
        .arg("--help")
        .env("MATOMO_TOKEN_AUTH", TOKEN)
        .env("MATOMO_URL", "https://secret-host.example/matomo.php")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("EXIT CODES").and(predicate::str::contains("DNS")));
    no_token_anywhere(&assert);
    let send_help = cli()
        .args(["send", "--help"])
        .env("MATOMO_URL", "https://secret-host.example/matomo.php")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("EXAMPLES").and(predicate::str::contains("MATOMO_URL")));
    let text = String::from_utf8_lossy(&send_help.get_output().stdout).into_owned();
    assert!(
        !text.contains("secret-host"),
        "env values are hidden: {text}"
    );
    assert!(!text.contains("token-auth"), "no token flag exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_prints_each_hit_and_warns_about_bad_ones() {
    let binary = assert_cmd::cargo::cargo_bin("matomo-cli");
    let mut child = std::process::Command::new(binary)
        .args(["listen", "--port", "0", "--max-hits", "2"])
        .env_remove("MATOMO_TOKEN_AUTH")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the listening URL is printed")
        .to_owned();
    let good = TrackingRequest::builder(1)
        .url("https://a.example/ok")
        .action_name("OK page")
        .user_id("ann")
        .dimension(3, "gold")
        .build()
        .unwrap();
    let mut config = matomo_core::TrackerConfig::new(&url, 1).unwrap();
    config.proxy = Some(matomo_core::Proxy::Direct);
    let transport = matomo_core::HyperTransport::new(&config).unwrap();
    transport
        .exchange(Some(&good.to_query()), None)
        .await
        .unwrap();
    transport
        .exchange(
            Some("idsite=1&url=relative/path&cid=nothex&cip=1.2.3.4"),
            None,
        )
        .await
        .unwrap();
    let rest: Vec<String> =
        tokio::task::spawn_blocking(move || lines.map_while(Result::ok).collect())
            .await
            .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let text = rest.join("\n");
    assert!(
        text.contains(
            "#1 GET [tracked] site 1 page view: url=https://a.example/ok action_name=OK page uid=ann dimension3=gold"
        ),
        "{text}"
    );
    assert!(text.contains("no rec=1"), "{text}");
    assert!(text.contains("cip without a valid token_auth"), "{text}");
    assert!(
        text.contains("cid=nothex is not 16 hexadecimal digits"),
        "{text}"
    );
    assert!(text.contains("not absolute"), "{text}");
}
