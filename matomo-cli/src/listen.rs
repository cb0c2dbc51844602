//! `matomo-cli listen`: a local Matomo stand-in that prints each hit and warns about bad ones.

use crate::args::ListenArgs;
use crate::exit::Outcome;
use crate::setup;
use matomo_core::testing::{HitOutcome, MockMatomo, ReceivedHit, Via};
use matomo_core::Action;
use tokio::sync::broadcast::error::RecvError;

/// How long `--max-hits` waits after the last hit, so its answer still goes out.
const ANSWER_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `listen` until Ctrl-C (or `--max-hits`).
pub async fn run(args: ListenArgs) -> Outcome {
    if args.max_hits == Some(0) {
        eprintln!("error: --max-hits must be 1 or more; leave it out to listen until Ctrl-C");
        return Outcome::Usage;
    }
    let token = match setup::token(args.token_file.as_deref()) {
        Ok(token) => token,
        Err(usage) => {
            eprintln!("error: {usage}");
            return Outcome::Usage;
        }
    };
    let listener = match std::net::TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on 127.0.0.1:{} ({error}); pick another --port",
                args.port
            );
            return Outcome::Usage;
        }
    };
    // Hits are printed as they arrive (`subscribe`), not kept: a long session must not grow
    // with every hit.
    let mut builder = MockMatomo::builder().listener(listener).keep_hits(false);
    for site in &args.sites {
        builder = builder.site(*site);
    }
    if let Some(token) = &token {
        builder = builder.token(token.expose());
    }
    let matomo = builder.start().await;
    let mut hits = matomo.subscribe();
    if args.json {
        println!(
            "{}",
            serde_json::json!({"listening": matomo.url(), "sites": matomo.sites()})
        );
    } else {
        println!(
            "listening on {} (sites {:?}, token {}); Ctrl-C to stop",
            matomo.url(),
            matomo.sites(),
            if token.is_some() { "set" } else { "not set" }
        );
    }
    let mut count = 0usize;
    loop {
        tokio::select! {
            received = hits.recv() => match received {
                Ok(hit) => {
                    count += 1;
                    print_hit(&matomo, &hit, count, args.json);
                    if args.max_hits.is_some_and(|max| count >= max) {
                        // The hit is seen before its answer is written: give the answer time to
                        // reach the sender rather than close the connection under it.
                        tokio::time::sleep(ANSWER_GRACE).await;
                        return Outcome::Ok;
                    }
                }
                Err(RecvError::Lagged(missed)) => eprintln!("({missed} hits arrived too fast to print)"),
                Err(RecvError::Closed) => return Outcome::Failed,
            },
            _ = tokio::signal::ctrl_c() => return Outcome::Ok,
        }
    }
}

fn via(via: Via) -> String {
    match via {
        Via::Get => "GET".to_owned(),
        Via::Post => "POST".to_owned(),
        Via::Bulk(index) => format!("bulk[{index}]"),
        _ => "?".to_owned(),
    }
}

fn outcome(outcome: &HitOutcome) -> &'static str {
    match outcome {
        HitOutcome::Tracked => "tracked",
        HitOutcome::NotRecorded => "not recorded",
        HitOutcome::UnknownSite => "refused: unknown site",
        HitOutcome::BadToken => "refused: token",
        HitOutcome::Invalid(_) => "refused: invalid",
        _ => "?",
    }
}

fn kind(action: &Action) -> String {
    match action {
        Action::PageView => "page view".into(),
        Action::Event(e) => format!("event {}/{}", e.category, e.action),
        Action::SiteSearch(s) => format!("site search \"{}\"", s.keyword),
        Action::Goal(g) => format!("goal {}", g.id),
        Action::EcommerceOrder(o) => format!("order {}", o.order_id),
        Action::CartUpdate(_) => "cart update".into(),
        Action::ProductView(_) => "product view".into(),
        Action::ContentImpression(_) => "content impression".into(),
        Action::ContentInteraction { .. } => "content interaction".into(),
        Action::Outlink(link) => format!("outlink {link}"),
        Action::Download(link) => format!("download {link}"),
        Action::Ping => "ping".into(),
        _ => "hit".into(),
    }
}

fn print_hit(matomo: &MockMatomo, hit: &ReceivedHit, n: usize, json: bool) {
    let warnings = matomo.warnings(hit);
    if json {
        let params: serde_json::Map<String, serde_json::Value> = hit
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        println!(
            "{}",
            serde_json::json!({"n": n, "via": via(hit.via), "outcome": outcome(&hit.outcome), "params": params, "warnings": warnings})
        );
        return;
    }
    match &hit.request {
        Ok(request) => {
            let mut line = format!(
                "#{n} {} [{}] site {} {}: url={} action_name={}",
                via(hit.via),
                outcome(&hit.outcome),
                request.site_id(),
                kind(request.action()),
                request.url().unwrap_or("-"),
                request.action_name().unwrap_or("-"),
            );
            if let Some(user_id) = request.user_id() {
                line.push_str(&format!(" uid={user_id}"));
            }
            if let Some(visitor) = request.forced_visitor_id() {
                line.push_str(&format!(" cid={visitor}"));
            }
            for (id, value) in request.dimensions() {
                line.push_str(&format!(" dimension{id}={value}"));
            }
            println!("{line}");
        }
        Err(error) => println!(
            "#{n} {} [{}] undecodable: {error}",
            via(hit.via),
            outcome(&hit.outcome)
        ),
    }
    for warning in warnings {
        println!("   warning: {warning}");
    }
}
