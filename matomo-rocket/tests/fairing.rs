//! The fairing through Rocket's asynchronous local client, against the recording transport and
//! MockMatomo.

#[macro_use]
extern crate rocket;

use matomo_core::testing::{Fault, MockMatomo, RecordingTransport};
use matomo_core::{Action, Event, Goal, Tracker, TrackingRequest};
use matomo_rocket::{MatomoFairing, Visit};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::response::content::RawHtml;
use rocket::response::stream::ByteStream;
use rocket::{Build, Rocket, State};
use serde_json::{json, Value};
use std::time::Duration;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const PAGE: &str =
    "<!doctype html><html><head><title>Welcome &amp; hello</title></head><body>hi</body></html>";

#[get("/")]
fn index() -> RawHtml<&'static str> {
    RawHtml(PAGE)
}

#[get("/api/items")]
fn items() -> (ContentType, &'static str) {
    (
        ContentType::JSON,
        r#"{"items":[1,2,3],"title":"<title>not a page</title>"}"#,
    )
}

#[get("/health")]
fn health() -> &'static str {
    "ok"
}

#[get("/users/<id>")]
fn user(id: u32) -> String {
    format!("user {id}")
}

#[get("/missing")]
fn missing() -> Status {
    Status::NotFound
}

#[get("/broken")]
fn broken() -> Status {
    Status::InternalServerError
}

#[get("/panics")]
fn panics() -> &'static str {
    panic!("handler bug")
}

#[post("/buy/<sku>")]
fn buy(sku: &str, visit: Visit<'_>) -> &'static str {
    visit.user_id("customer-7");
    visit.dimension(2, "premium");
    visit.event(Event::new("Shop", "Buy").name(sku));
    visit.goal(Goal::new(4).revenue(9.5));
    "bought"
}

#[get("/login")]
fn login(visit: Visit<'_>) -> &'static str {
    visit.user_id("alice");
    visit.action_name("Login page");
    "login"
}

#[get("/direct")]
fn direct(tracker: &State<Tracker>) -> &'static str {
    let hit = TrackingRequest::builder(1)
        .url("https://shop.example/direct")
        .event(Event::new("Direct", "Call"))
        .build()
        .unwrap();
    tracker.track(hit);
    "sent"
}

#[get("/private")]
fn private(visit: Visit<'_>) -> &'static str {
    visit.do_not_track();
    "not tracked"
}

#[get("/stream")]
fn stream() -> (ContentType, ByteStream![&'static [u8]]) {
    (
        ContentType::HTML,
        ByteStream! {
            yield &b"<html><head><title>Streamed</title>"[..];
            yield &b"</head><body>chunk</body></html>"[..];
        },
    )
}

/// A sized HTML body whose reading fails half-way, once (a file that went away, say); read again
/// after the failure, it ends.
struct FailingBody {
    reads: u8,
}

impl rocket::tokio::io::AsyncRead for FailingBody {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut rocket::tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.reads += 1;
        std::task::Poll::Ready(match self.reads {
            1 => {
                buf.put_slice(b"<html><head><title>Half");
                Ok(())
            }
            2 => Err(std::io::Error::other("the disk went away")),
            _ => Ok(()),
        })
    }
}

impl rocket::tokio::io::AsyncSeek for FailingBody {
    fn start_seek(self: std::pin::Pin<&mut Self>, _: std::io::SeekFrom) -> std::io::Result<()> {
        Ok(())
    }
    fn poll_complete(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<u64>> {
        std::task::Poll::Ready(Ok(0))
    }
}

impl<'r> rocket::response::Responder<'r, 'static> for FailingBody {
    fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        rocket::Response::build()
            .header(ContentType::HTML)
            .sized_body(Some(64), self)
            .ok()
    }
}

#[get("/failing")]
fn failing() -> FailingBody {
    FailingBody { reads: 0 }
}

fn routes() -> Vec<rocket::Route> {
    routes![
        index, items, health, user, missing, broken, panics, buy, login, direct, private, stream,
        failing
    ]
}

fn app(matomo: Value) -> Rocket<Build> {
    rocket::custom(figment(matomo)).mount("/", routes())
}

fn figment(matomo: Value) -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(("matomo", matomo))
}

fn table(extra: Value) -> Value {
    let mut table = json!({"url": "https://matomo.example/matomo.php", "site_id": 1, "batch_delay": 0.01, "proxy": "none"});
    if let (Some(base), Some(more)) = (table.as_object_mut(), extra.as_object()) {
        base.extend(more.clone());
    }
    table
}

async fn tracked_client(extra: Value) -> (Client, RecordingTransport) {
    let transport = RecordingTransport::new();
    let rocket = app(table(extra)).attach(MatomoFairing::with_transport(transport.clone()));
    (Client::tracked(rocket).await.expect("launches"), transport)
}

async fn flushed(client: &Client, transport: &RecordingTransport) -> Vec<TrackingRequest> {
    let tracker = client
        .rocket()
        .state::<Tracker>()
        .expect("tracker in managed state");
    assert!(tracker.flush(Duration::from_secs(5)).await.completed);
    transport.hits()
}

async fn get(client: &Client, path: &str) -> (Status, String) {
    let response: LocalResponse<'_> = client
        .get(path.to_owned())
        .header(Header::new("User-Agent", FIREFOX))
        .header(Header::new("Accept-Language", "de-DE,de;q=0.9"))
        .remote("198.51.100.7:5000".parse().unwrap())
        .dispatch()
        .await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

#[tokio::test]
async fn every_tracked_request_becomes_one_hit_with_the_seed_parameters() {
    let (client, transport) = tracked_client(json!({})).await;
    client
        .get("/")
        .header(Header::new("User-Agent", FIREFOX))
        .header(Header::new("Accept-Language", "de-DE"))
        .header(Header::new("Referer", "https://search.example/?q=x"))
        .header(Header::new("Host", "shop.example"))
        .dispatch()
        .await;
    let hits = flushed(&client, &transport).await;
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.site_id(), 1);
    assert_eq!(hit.url(), Some("http://shop.example/"));
    assert_eq!(hit.user_agent(), Some(FIREFOX));
    assert_eq!(hit.language(), Some("de-DE"));
    assert_eq!(hit.referrer(), Some("https://search.example/?q=x"));
    let query = hit.to_query();
    assert!(
        query.contains("rec=1") && query.contains("idsite=1"),
        "{query}"
    );
    assert!(hit.performance().server.is_some(), "pf_srv is sent");
}

#[tokio::test]
async fn the_title_of_an_html_page_is_the_action_name() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/").await;
    assert_eq!(
        flushed(&client, &transport).await[0].action_name(),
        Some("Welcome & hello")
    );
}

#[tokio::test]
async fn json_responses_get_no_title_but_the_route_name() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/api/items").await;
    assert_eq!(
        flushed(&client, &transport).await[0].action_name(),
        Some("items")
    );
}

#[tokio::test]
async fn the_user_id_and_action_name_from_the_guard_are_sent() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/login").await;
    let hit = &flushed(&client, &transport).await[0];
    assert_eq!(hit.user_id(), Some("alice"));
    assert_eq!(hit.action_name(), Some("Login page"));
}

#[tokio::test]
async fn there_is_no_urlref_without_a_referer() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/health").await;
    assert_eq!(flushed(&client, &transport).await[0].referrer(), None);
}

#[tokio::test]
async fn hits_from_the_guard_share_the_visitor_and_carry_the_dimensions() {
    let (client, transport) = tracked_client(json!({})).await;
    client
        .post("/buy/SKU-1")
        .header(Header::new("User-Agent", FIREFOX))
        .remote("198.51.100.7:5000".parse().unwrap())
        .dispatch()
        .await;
    let hits = flushed(&client, &transport).await;
    assert_eq!(hits.len(), 3, "page view, event, goal");
    assert!(matches!(hits[0].action(), Action::PageView));
    assert!(matches!(hits[1].action(), Action::Event(e) if e.name.as_deref() == Some("SKU-1")));
    assert!(matches!(hits[2].action(), Action::Goal(g) if g.id == 4 && g.revenue == Some(9.5)));
    for hit in &hits {
        assert_eq!(hit.user_id(), Some("customer-7"));
        assert_eq!(
            hit.dimensions().get(&2).map(String::as_str),
            Some("premium")
        );
        assert_eq!(hit.forced_visitor_id(), hits[0].forced_visitor_id());
    }
}

#[tokio::test]
async fn the_tracker_is_reachable_from_managed_state() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/direct").await;
    let hits = flushed(&client, &transport).await;
    assert!(hits
        .iter()
        .any(|h| matches!(h.action(), Action::Event(e) if e.category == "Direct")));
}

#[tokio::test]
async fn cip_is_sent_only_with_a_token() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/").await;
    assert_eq!(flushed(&client, &transport).await[0].client_ip(), None);
    let (client, transport) = tracked_client(json!({"token_auth": "abc123"})).await;
    get(&client, "/").await;
    assert_eq!(
        flushed(&client, &transport).await[0].client_ip(),
        Some("198.51.0.0".parse().unwrap())
    );
}

#[tokio::test]
async fn ignore_paths_skip_requests() {
    let (client, transport) = tracked_client(json!({"ignore_paths": ["/health"]})).await;
    get(&client, "/health").await;
    get(&client, "/").await;
    let hits = flushed(&client, &transport).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].url(), Some("http://localhost/"));
}

#[tokio::test]
async fn ignore_status_codes_skip_requests() {
    let (client, transport) = tracked_client(json!({"ignore_status_codes": [404]})).await;
    get(&client, "/missing").await;
    assert!(flushed(&client, &transport).await.is_empty());
}

#[tokio::test]
async fn url_masks_work_with_and_without_a_trailing_slash() {
    let masks = json!({"url_masks": [{"pattern": "^/users/\\d+", "replacement": "/users/:id"}]});
    let (client, transport) = tracked_client(masks).await;
    get(&client, "/users/123").await;
    get(&client, "/users/123/").await;
    let urls: Vec<_> = flushed(&client, &transport)
        .await
        .iter()
        .map(|h| h.url().unwrap().to_owned())
        .collect();
    assert_eq!(
        urls,
        vec!["http://localhost/users/:id", "http://localhost/users/:id/"]
    );
}

#[tokio::test]
async fn the_route_template_can_mask_urls_without_a_regex() {
    let (client, transport) = tracked_client(json!({"mask_with_route_template": true})).await;
    get(&client, "/users/123").await;
    assert_eq!(
        flushed(&client, &transport).await[0].url(),
        Some("http://localhost/users/<id>")
    );
}

#[tokio::test]
async fn ignore_html_skips_html_and_keeps_json() {
    let (client, transport) = tracked_client(json!({"ignore_html": true})).await;
    get(&client, "/").await;
    get(&client, "/api/items").await;
    let hits = flushed(&client, &transport).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].url(), Some("http://localhost/api/items"));
}

#[tokio::test]
async fn do_not_track_and_global_privacy_control_are_honoured() {
    let (client, transport) = tracked_client(json!({})).await;
    client
        .get("/")
        .header(Header::new("DNT", "1"))
        .dispatch()
        .await;
    client
        .get("/")
        .header(Header::new("Sec-GPC", "1"))
        .dispatch()
        .await;
    assert!(flushed(&client, &transport).await.is_empty());
}

#[tokio::test]
async fn the_guard_can_opt_a_request_out() {
    let (client, transport) = tracked_client(json!({})).await;
    get(&client, "/private").await;
    assert!(flushed(&client, &transport).await.is_empty());
}

#[tokio::test]
async fn bots_are_skipped() {
    let (client, transport) = tracked_client(json!({})).await;
    client
        .get("/")
        .header(Header::new(
            "User-Agent",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        ))
        .dispatch()
        .await;
    assert!(flushed(&client, &transport).await.is_empty());
}

#[tokio::test]
async fn the_client_ip_comes_from_a_trusted_proxy_only() {
    let (client, transport) = tracked_client(
        json!({"token_auth": "abc123", "anonymize_ip_bytes": 0, "trusted_proxies": ["10.0.0.0/8"]}),
    )
    .await;
    client
        .get("/")
        .header(Header::new("X-Forwarded-For", "203.0.113.9, 10.0.0.3"))
        .remote("10.0.0.2:4000".parse().unwrap())
        .dispatch()
        .await;
    client
        .get("/")
        .header(Header::new("X-Forwarded-For", "203.0.113.9"))
        .remote("198.51.100.50:4000".parse().unwrap())
        .dispatch()
        .await;
    let hits = flushed(&client, &transport).await;
    assert_eq!(hits[0].client_ip(), Some("203.0.113.9".parse().unwrap()));
    assert_eq!(
        hits[1].client_ip(),
        Some("198.51.100.50".parse().unwrap()),
        "an untrusted peer's header is ignored"
    );
}

#[tokio::test]
async fn server_errors_and_panics_are_marked_with_an_event() {
    let (client, transport) = tracked_client(json!({})).await;
    assert_eq!(get(&client, "/broken").await.0, Status::InternalServerError);
    assert_eq!(get(&client, "/panics").await.0, Status::InternalServerError);
    let hits = flushed(&client, &transport).await;
    let events: Vec<(String, Option<String>)> = hits
        .iter()
        .filter_map(|h| match h.action() {
            Action::Event(e) if e.category == "HTTP Error" => {
                Some((e.action.clone(), e.name.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("500".to_owned(), Some("/broken".to_owned())),
            ("500".to_owned(), Some("/panics".to_owned()))
        ]
    );
}

#[tokio::test]
async fn responses_are_unchanged_byte_for_byte() {
    // The same routes without the fairing (and without the one that needs the managed Tracker).
    let bare_routes = routes![
        index, items, health, user, missing, broken, panics, buy, login, private, stream, failing
    ];
    let bare = Client::tracked(rocket::custom(figment(table(json!({})))).mount("/", bare_routes))
        .await
        .unwrap();
    let (tracked, _transport) = tracked_client(json!({})).await;
    // `/failing`: a body that fails half-way reads as failing, never as a shorter body.
    for path in ["/", "/api/items", "/stream", "/missing", "/failing"] {
        let a = bare.get(path).dispatch().await;
        let b = tracked.get(path).dispatch().await;
        assert_eq!(a.status(), b.status(), "{path}");
        assert_eq!(a.content_type(), b.content_type(), "{path}");
        assert_eq!(a.into_bytes().await, b.into_bytes().await, "{path}");
    }
}

#[tokio::test]
async fn streamed_bodies_are_never_buffered_for_a_title() {
    let (client, transport) = tracked_client(json!({})).await;
    let (_, body) = get(&client, "/stream").await;
    assert_eq!(
        body,
        "<html><head><title>Streamed</title></head><body>chunk</body></html>"
    );
    assert_eq!(
        flushed(&client, &transport).await[0].action_name(),
        Some("stream")
    );
}

#[tokio::test]
async fn the_visitor_cookie_is_opt_in() {
    let (client, _transport) = tracked_client(json!({})).await;
    let response = client
        .get("/")
        .header(Header::new("User-Agent", FIREFOX))
        .dispatch()
        .await;
    assert!(response.headers().get_one("Set-Cookie").is_none());
    let (client, transport) = tracked_client(json!({"visitor_cookie": true})).await;
    let response = client
        .get("/")
        .header(Header::new("User-Agent", FIREFOX))
        .dispatch()
        .await;
    let cookie = response
        .headers()
        .get_one("Set-Cookie")
        .expect("a visitor cookie")
        .to_owned();
    assert!(cookie.starts_with("_pk_id.1.rs="), "{cookie}");
    let hits = flushed(&client, &transport).await;
    let id = hits[0].forced_visitor_id().unwrap().to_string();
    assert!(
        cookie.contains(&id),
        "the cookie holds the id the hit carried: {cookie}"
    );
}

async fn assert_launch_aborts(rocket: Rocket<Build>) {
    let error = match Client::tracked(rocket).await {
        Ok(_) => panic!("launch must abort"),
        Err(error) => error,
    };
    match error.kind() {
        rocket::error::ErrorKind::FailedFairings(failed) => assert_eq!(failed[0].name, "matomo"),
        other => panic!("expected the matomo fairing to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_site_id_aborts_launch_naming_the_key() {
    let rocket =
        app(json!({"url": "https://matomo.example/matomo.php"})).attach(MatomoFairing::new());
    assert_launch_aborts(rocket).await;
    let figment = Figment::from(rocket::Config::debug_default())
        .merge(("matomo", json!({"url": "https://m.example/matomo.php"})));
    let error = matomo_rocket::config_from_figment(&figment).unwrap_err();
    assert_eq!(error.key(), Some("site_id"));
}

#[tokio::test]
async fn a_non_numeric_timeout_aborts_launch_naming_the_key() {
    let rocket = app(table(json!({"timeout": "ten"}))).attach(MatomoFairing::new());
    assert_launch_aborts(rocket).await;
    let figment = Figment::from(rocket::Config::debug_default())
        .merge(("matomo", table(json!({"timeout": "ten"}))));
    let error = matomo_rocket::config_from_figment(&figment).unwrap_err();
    assert_eq!(error.key(), Some("timeout"));
    assert!(error.to_string().contains("number of seconds"), "{error}");
}

#[tokio::test]
async fn enabled_false_turns_tracking_off_and_the_app_still_works() {
    let transport = RecordingTransport::new();
    let rocket =
        app(json!({"enabled": false})).attach(MatomoFairing::with_transport(transport.clone()));
    let client = Client::tracked(rocket)
        .await
        .expect("launches without url or site_id");
    let response = client.post("/buy/x").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(client.get("/direct").dispatch().await.status(), Status::Ok);
    let tracker = client
        .rocket()
        .state::<Tracker>()
        .expect("a disabled tracker is managed");
    tracker.flush(Duration::from_secs(1)).await;
    assert!(transport.hits().is_empty());
    assert_eq!(tracker.stats().queued, 0);
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn rocket_matomo_and_matomo_variables_configure_the_fairing() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "ROCKET_MATOMO",
            "{url=\"https://env.example/matomo.php\",site_id=3}",
        );
        jail.set_env("MATOMO_TIMEOUT", "4");
        let config = matomo_rocket::config_from_figment(&rocket::Config::figment())
            .expect("valid")
            .expect("enabled");
        assert_eq!(config.site_id, 3);
        assert_eq!(
            config.url.unwrap().as_str(),
            "https://env.example/matomo.php"
        );
        assert_eq!(config.timeout, Duration::from_secs(4));
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn rocket_toml_configures_the_fairing() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "Rocket.toml",
            "[default.matomo]\nurl = \"https://toml.example/matomo.php\"\nsite_id = 9\nignore_paths = [\"/health\"]\n",
        )?;
        let config = matomo_rocket::config_from_figment(&rocket::Config::figment())
            .expect("valid")
            .expect("enabled");
        assert_eq!(config.site_id, 9);
        assert!(config.ignore_paths[0].matches("/health"));
        Ok(())
    });
}

#[tokio::test]
async fn a_black_holed_matomo_changes_neither_status_body_nor_latency() {
    let matomo = MockMatomo::start().await;
    matomo.fail_always(Fault::BlackHole);
    let mut matomo_table = table(json!({"timeout": 30}));
    matomo_table["url"] = json!(matomo.url());
    let client = Client::tracked(app(matomo_table).attach(MatomoFairing::new()))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let (status, body) = get(&client, "/").await;
        assert_eq!(status, Status::Ok);
        assert_eq!(body, PAGE);
    }
    // 50 local requests; if one waited for Matomo it would take 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(matomo.tracked().is_empty());
}

#[tokio::test]
async fn shutdown_flushes_what_was_tracked() {
    let matomo = MockMatomo::start().await;
    let mut matomo_table = table(json!({"batch_delay": 30}));
    matomo_table["url"] = json!(matomo.url());
    let client = Client::tracked(app(matomo_table).attach(MatomoFairing::new()))
        .await
        .unwrap();
    for _ in 0..3 {
        get(&client, "/").await;
    }
    assert!(
        matomo.tracked().is_empty(),
        "held back by the 30 s batch delay"
    );
    client.terminate().await;
    assert_eq!(matomo.tracked().len(), 3);
}

#[tokio::test]
async fn a_failed_send_is_logged_with_the_host_and_never_the_token() {
    let logs = matomo_core::testing::CapturedLogs::start();

    let matomo = MockMatomo::start().await;
    let mut matomo_table = table(json!({"token_auth": "s3cr3tT0ken"}));
    matomo_table["url"] = json!(format!("{}/index.php", matomo.base_url()));
    let client = Client::tracked(app(matomo_table).attach(MatomoFairing::new()))
        .await
        .unwrap();
    get(&client, "/").await;
    let tracker = client.rocket().state::<Tracker>().unwrap();
    tracker.flush(Duration::from_secs(5)).await;
    let logs = logs.text();
    assert!(logs.contains("delivery failed"), "{logs}");
    assert!(logs.contains("127.0.0.1"), "the host is named: {logs}");
    assert!(!logs.contains("s3cr3tT0ken"), "{logs}");
}
