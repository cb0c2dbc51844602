//! `matomo-cli send`: one test hit, or many from standard input, and what Matomo made of them.

use crate::args::{Kind, SendArgs};
use crate::bulk;
use crate::exit::Outcome;
use crate::setup::{self, Usage};
use matomo_core::{
    Event, Goal, HyperTransport, SiteSearch, TokenAuth, TrackerConfig, TrackingRequest, Transport,
    TransportError,
};
use std::io::BufRead;

/// Runs `send`.
pub async fn run(args: SendArgs) -> Outcome {
    let json = args.target.json;
    let config = match setup::config(&args.target) {
        Ok(config) => config,
        Err(usage) => return usage_error(&usage, json),
    };
    let hits = if args.bulk {
        match read_bulk(std::io::stdin().lock(), config.site_id) {
            Ok(hits) => hits,
            Err(usage) => return usage_error(&usage, json),
        }
    } else {
        match build(&args, &config) {
            Ok(hit) => vec![hit],
            Err(usage) => return usage_error(&usage, json),
        }
    };
    if args.dry_run {
        print_dry_run(&config, &hits, json);
        return Outcome::Ok;
    }
    let transport = match HyperTransport::new(&config) {
        Ok(transport) => transport,
        Err(error) => return usage_error(&Usage(error.to_string()), json),
    };
    if args.bulk {
        send_bulk(&transport, &hits, json).await
    } else {
        send_one(&transport, &config, &hits[0], json).await
    }
}

fn usage_error(usage: &Usage, json: bool) -> Outcome {
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "error": usage.0, "exit_code": Outcome::Usage as u8})
        );
    } else {
        eprintln!("error: {usage}");
    }
    Outcome::Usage
}

/// The hit the flags describe.
pub fn build(args: &SendArgs, config: &TrackerConfig) -> Result<TrackingRequest, Usage> {
    let mut builder = TrackingRequest::builder(config.site_id)
        .url(&args.page_url)
        .action_name(&args.action_name)
        .user_agent(&args.user_agent);
    let need = |flag: &str, kind: &str| Usage(format!("--kind {kind} needs {flag}"));
    builder = match args.kind {
        Kind::Pageview => builder,
        Kind::Event => {
            let category = args
                .event_category
                .clone()
                .ok_or_else(|| need("--event-category", "event"))?;
            let action = args
                .event_action
                .clone()
                .ok_or_else(|| need("--event-action", "event"))?;
            let mut event = Event::new(category, action);
            event.name = args.event_name.clone();
            event.value = args.event_value;
            builder.event(event)
        }
        Kind::Goal => {
            let mut goal = Goal::new(args.goal_id.ok_or_else(|| need("--goal-id", "goal"))?);
            goal.revenue = args.revenue;
            builder.goal(goal)
        }
        Kind::Search => {
            let mut search = SiteSearch::new(
                args.search
                    .clone()
                    .ok_or_else(|| need("--search", "search"))?,
            );
            search.category = args.search_category.clone();
            search.count = args.search_count;
            builder.site_search(search)
        }
        Kind::Outlink => {
            builder.outlink(args.link.clone().ok_or_else(|| need("--link", "outlink"))?)
        }
        Kind::Download => builder.download(
            args.link
                .clone()
                .ok_or_else(|| need("--link", "download"))?,
        ),
        Kind::Ping => builder.ping(),
    };
    if let Some(id) = &args.visitor_id {
        let id = id.parse().map_err(|_| {
            Usage(format!(
                "--visitor-id must be exactly 16 hexadecimal digits, not `{id}`"
            ))
        })?;
        builder = builder.forced_visitor_id(id);
    }
    if let Some(user) = &args.user_id {
        builder = builder.user_id(user);
    }
    if let Some(ip) = &args.ip {
        let ip = ip
            .parse()
            .map_err(|_| Usage(format!("--ip must be an IP address, not `{ip}`")))?;
        builder = builder.client_ip(ip);
    }
    for dimension in &args.dimensions {
        let (id, value) = dimension
            .split_once('=')
            .and_then(|(id, value)| Some((id.trim().parse::<u32>().ok()?, value)))
            .ok_or_else(|| {
                Usage(format!(
                    "--dimension must look like 3=value, not `{dimension}`"
                ))
            })?;
        builder = builder.dimension(id, value);
    }
    if let Some(token) = &config.token_auth {
        builder = builder.token(token);
    }
    builder.build().map_err(|e| match e {
        matomo_core::BuildError::NeedsToken(_) => {
            Usage(format!("{e}; set MATOMO_TOKEN_AUTH or --token-file"))
        }
        other => Usage(other.to_string()),
    })
}

/// Reads hits from lines (for site `site_id` when a line names none); every bad line is named, and
/// then nothing is sent.
pub fn read_bulk(input: impl BufRead, site_id: u32) -> Result<Vec<TrackingRequest>, Usage> {
    let mut hits = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Usage(format!("standard input could not be read ({e})")))?;
        match bulk::parse_line(&line, site_id) {
            Ok(Some(hit)) => hits.push(hit),
            Ok(None) => {}
            Err(error) => errors.push(format!("line {}: {error}", index + 1)),
        }
    }
    if !errors.is_empty() {
        let shown: Vec<_> = errors.iter().take(10).cloned().collect();
        let more = errors.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        return Err(Usage(format!(
            "{} bad line(s) on standard input, nothing sent: {}{tail}",
            errors.len(),
            shown.join("; ")
        )));
    }
    if hits.is_empty() {
        return Err(Usage(
            "standard input holds no hits (one query string or JSON object per line)".into(),
        ));
    }
    Ok(hits)
}

fn masked_token(token: Option<&TokenAuth>) -> Option<&'static str> {
    token.map(|_| "***")
}

fn print_dry_run(config: &TrackerConfig, hits: &[TrackingRequest], json: bool) {
    let token = masked_token(config.token_auth.as_ref());
    let endpoint = config
        .url
        .as_ref()
        .map_or("", |url| url.as_str())
        .to_owned();
    let (method, url, body) = match (hits, token) {
        ([hit], None) => ("GET", format!("{endpoint}?{}", hit.to_query()), None),
        ([hit], Some(mask)) => (
            "POST",
            endpoint,
            Some(format!("{}&token_auth={mask}", hit.to_query())),
        ),
        (many, mask) => {
            let requests: Vec<String> = many.iter().map(|h| format!("?{}", h.to_query())).collect();
            let mut body = serde_json::json!({ "requests": requests });
            if let Some(mask) = mask {
                body["token_auth"] = serde_json::json!(mask);
            }
            ("POST", endpoint, Some(body.to_string()))
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"dry_run": true, "method": method, "url": url, "body": body})
        );
    } else {
        println!("{method} {url}");
        if let Some(body) = body {
            println!("\n{body}");
        }
        println!("\n(dry run: nothing was sent)");
    }
}

async fn send_one(
    transport: &HyperTransport,
    config: &TrackerConfig,
    hit: &TrackingRequest,
    json: bool,
) -> Outcome {
    let result = transport.send(std::slice::from_ref(hit)).await;
    let token_hit = hit.needs_token(std::time::SystemTime::now());
    report(result.map(|a| a.tracked), 1, config, token_hit, json)
}

async fn send_bulk(transport: &HyperTransport, hits: &[TrackingRequest], json: bool) -> Outcome {
    const CHUNK: usize = 100;
    let progress = indicatif::ProgressBar::new(hits.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} hits ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut tracked, mut rejected, mut last_error) = (0usize, 0usize, None);
    for chunk in hits.chunks(CHUNK) {
        match transport.send(chunk).await {
            Ok(accepted) => tracked += accepted.tracked,
            Err(TransportError::Rejected {
                tracked: t,
                invalid,
                reason,
                indices,
            }) => {
                tracked += t;
                rejected += invalid;
                last_error = Some(TransportError::Rejected {
                    tracked: t,
                    invalid,
                    reason,
                    indices,
                });
            }
            Err(error) => {
                progress.abandon();
                let token_hit = chunk
                    .iter()
                    .any(|h| h.needs_token(std::time::SystemTime::now()));
                let outcome = Outcome::of(&error, token_hit);
                print_failure(&error, outcome, json, tracked);
                return outcome;
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let outcome = last_error
        .as_ref()
        .map_or(Outcome::Ok, |e| Outcome::of(e, false));
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": outcome == Outcome::Ok, "sent": hits.len(), "tracked": tracked, "rejected": rejected, "exit_code": outcome as u8})
        );
    } else {
        println!(
            "sent {} hit(s): {tracked} tracked, {rejected} rejected",
            hits.len()
        );
        if let Some(error) = &last_error {
            println!("{error}");
        }
    }
    outcome
}

fn report(
    result: Result<usize, TransportError>,
    sent: usize,
    config: &TrackerConfig,
    token_hit: bool,
    json: bool,
) -> Outcome {
    match result {
        Ok(tracked) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "sent": sent, "tracked": tracked, "exit_code": 0})
                );
            } else {
                println!(
                    "tracked: Matomo at {} accepted the hit for site {}",
                    config.url.as_ref().map_or("", |url| url.as_str()),
                    config.site_id
                );
            }
            Outcome::Ok
        }
        Err(error) => {
            let outcome = Outcome::of(&error, token_hit);
            print_failure(&error, outcome, json, 0);
            outcome
        }
    }
}

fn print_failure(error: &TransportError, outcome: Outcome, json: bool, tracked: usize) {
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "tracked": tracked, "error": error.to_string(), "advice": outcome.advice(), "exit_code": outcome as u8})
        );
    } else {
        eprintln!("not tracked: {error}");
        eprintln!("what to do: {}", outcome.advice());
    }
}
