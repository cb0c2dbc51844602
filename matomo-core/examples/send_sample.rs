//! Builds hits from sample served requests and sends them to a local Matomo stand-in, printing what
//! the stand-in decoded and what it answered.
//!
//! Run: `cargo run -p matomo-core --example send_sample --features test-util`

use matomo_core::testing::MockMatomo;
use matomo_core::{
    decide, Decision, HitBuilder, HttpExchange, HyperTransport, TrackerConfig, Transport,
};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let matomo = MockMatomo::start().await;
    println!("Matomo stand-in listening at {}", matomo.url());

    let config = TrackerConfig::from_toml_str(&format!(
        r#"
        url = "{}"
        site_id = 1
        ignore_paths = ["/health"]
        url_masks = [{{ pattern = "^/users/\\d+", replacement = "/users/:id" }}]
        "#,
        matomo.url()
    ))?;
    let builder = HitBuilder::new(&config)?;
    let transport = HyperTransport::new(&config)?;

    let served = [
        HttpExchange::builder("GET", "/users/42/profile?tab=posts&token=hunter2")
            .header("host", "shop.example")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            )
            .header("accept-language", "de-DE,de;q=0.9")
            .header("referer", "https://search.example/?q=profile")
            .content_type("text/html; charset=utf-8")
            .body_prefix(bytes::Bytes::from_static(
                b"<html><head><title>Profile &amp; posts</title>",
            ))
            .peer("203.0.113.7".parse()?)
            .duration(Duration::from_millis(12))
            .build(),
        HttpExchange::builder("GET", "/health")
            .header("host", "shop.example")
            .header("user-agent", "kube-probe/1.30")
            .build(),
        HttpExchange::builder("GET", "/api/orders")
            .header("host", "shop.example")
            .header(
                "user-agent",
                "Googlebot/2.1 (+http://www.google.com/bot.html)",
            )
            .build(),
    ];

    let mut hits = Vec::new();
    for exchange in &served {
        match decide(&config, exchange) {
            Decision::Track => {
                let hit = builder.build(exchange)?;
                println!("track {} -> ?{}", exchange.path(), hit.to_query());
                hits.push(hit);
            }
            Decision::Skip(reason) => println!("skip  {} ({reason})", exchange.path()),
        }
    }

    let accepted = transport.send(&hits).await?;
    println!("Matomo answered: {} hit(s) tracked", accepted.tracked);
    for received in matomo.hits() {
        println!(
            "Matomo decoded ({:?}, {:?}):",
            received.via, received.outcome
        );
        if let Ok(request) = &received.request {
            println!("  url         = {}", request.url().unwrap_or("-"));
            println!("  action_name = {}", request.action_name().unwrap_or("-"));
            println!("  urlref      = {}", request.referrer().unwrap_or("-"));
            println!(
                "  cid         = {}",
                request
                    .forced_visitor_id()
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            );
            println!("  pf_srv      = {:?} ms", request.performance().server);
        }
        for warning in matomo.warnings(&received) {
            println!("  warning: {warning}");
        }
    }
    Ok(())
}
