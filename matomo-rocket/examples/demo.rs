//! A demo Rocket app tracked server-side in Matomo.
//!
//! `cargo run -p matomo-rocket --example demo` serves on http://127.0.0.1:8000. With no `matomo`
//! table configured (in `Rocket.toml` or `ROCKET_MATOMO`), it starts a local Matomo stand-in (the
//! test kit's `MockMatomo`) and prints each hit it decodes as it arrives; with a `url`, it tracks
//! into that Matomo. `-- --self-test` sends a few requests to the app through Rocket's local
//! client, prints the hits the stand-in received, and exits.

#[macro_use]
extern crate rocket;

use matomo_core::testing::MockMatomo;
use matomo_core::{Event, Tracker};
use matomo_rocket::{MatomoFairing, Visit};
use rocket::figment::Figment;
use rocket::http::ContentType;
use rocket::response::content::RawHtml;
use std::time::Duration;

#[get("/")]
fn index() -> RawHtml<&'static str> {
    RawHtml("<!doctype html><html><head><title>matomo-rs demo</title></head><body><h1>Tracked server-side</h1><p>Try <a href=\"/api/items\">/api/items</a> and POST /buy/sku-1.</p></body></html>")
}

#[get("/api/items")]
fn items() -> (ContentType, &'static str) {
    (
        ContentType::JSON,
        r#"{"items":[{"sku":"sku-1","price":9.5}]}"#,
    )
}

#[get("/health")]
fn health() -> &'static str {
    "ok"
}

#[post("/buy/<sku>")]
fn buy(sku: &str, visit: Visit<'_>) -> String {
    visit.user_id("demo-customer");
    visit.event(Event::new("Shop", "Buy").name(sku));
    format!("bought {sku}\n")
}

fn app(figment: Figment) -> rocket::Rocket<rocket::Build> {
    rocket::custom(figment)
        .mount("/", routes![index, items, health, buy])
        .attach(MatomoFairing::new())
}

fn print_hit(matomo: &MockMatomo, hit: &matomo_core::testing::ReceivedHit) {
    match &hit.request {
        Ok(request) => println!(
            "[matomo] {:?}: {:?} url={} action_name={} uid={} cid={} ({:?})",
            hit.via,
            request.action(),
            request.url().unwrap_or("-"),
            request.action_name().unwrap_or("-"),
            request.user_id().unwrap_or("-"),
            request
                .forced_visitor_id()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            hit.outcome,
        ),
        Err(error) => println!("[matomo] undecodable hit: {error}"),
    }
    for warning in matomo.warnings(hit) {
        println!("[matomo]   warning: {warning}");
    }
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let mut figment = rocket::Config::figment();
    let mut stand_in = None;
    if figment.find_value("matomo.url").is_err() {
        let matomo = MockMatomo::start().await;
        println!(
            "No Matomo configured: a local stand-in listens at {}",
            matomo.url()
        );
        figment = figment
            .merge(("matomo.url", matomo.url()))
            .merge(("matomo.site_id", 1))
            .merge(("matomo.ignore_paths", vec!["/health"]))
            .merge(("matomo.batch_delay", 0.2))
            .merge(("matomo.proxy", "none"));
        let mut hits = matomo.subscribe();
        let printer = std::sync::Arc::new(matomo);
        let for_task = std::sync::Arc::clone(&printer);
        tokio::spawn(async move {
            while let Ok(hit) = hits.recv().await {
                print_hit(&for_task, &hit);
            }
        });
        stand_in = Some(printer);
    }

    if self_test {
        use rocket::http::Header;
        let figment = figment.merge(("log_level", "critical"));
        let client = rocket::local::asynchronous::Client::tracked(app(figment)).await?;
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/api/items"),
            ("GET", "/health"),
            ("POST", "/buy/sku-1"),
        ] {
            let request = match method {
                "POST" => client.post(path),
                _ => client.get(path),
            };
            let response = request
                .header(Header::new(
                    "User-Agent",
                    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                ))
                .remote("203.0.113.7:50000".parse()?)
                .dispatch()
                .await;
            println!("{method} {path} -> {}", response.status());
        }
        if let Some(tracker) = client.rocket().state::<Tracker>() {
            let report = tracker.flush(Duration::from_secs(10)).await;
            println!(
                "delivered: {} hit(s), pending: {}",
                report.stats.sent, report.pending
            );
        }
        if let Some(matomo) = &stand_in {
            // Let the printer catch up with the last answers.
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("the stand-in tracked {} hit(s)", matomo.tracked().len());
        }
        return Ok(());
    }

    println!("Try: curl http://127.0.0.1:8000/  |  curl http://127.0.0.1:8000/api/items  |  curl -X POST http://127.0.0.1:8000/buy/sku-1  |  curl http://127.0.0.1:8000/health (ignored)");
    let _ = app(figment).launch().await?;
    Ok(())
}
