//! `matomo-cli check`: the path of a hit, step by step, stopping at the first broken one.

use crate::args::CheckArgs;
use crate::exit::Outcome;
use crate::setup;
use matomo_core::{
    looks_like_tracker, Event, HyperTransport, TrackerConfig, TrackingRequest, Transport,
    TransportError,
};
use std::net::{IpAddr, SocketAddr};

/// One step of the walk.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its short name (`url`, `proxy`, `dns`, `tcp`, `tls`, `tracker`, `hit`, `token`).
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

struct Walk {
    steps: Vec<Step>,
    json: bool,
}

impl Walk {
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        let step = Step {
            name,
            ok: true,
            detail: detail.into(),
        };
        if !self.json {
            println!("[ok]   {:<8} {}", step.name, step.detail);
        }
        self.steps.push(step);
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>, outcome: Outcome) -> Outcome {
        let step = Step {
            name,
            ok: false,
            detail: detail.into(),
        };
        if self.json {
            self.steps.push(step);
            self.print_json(outcome);
        } else {
            println!("[FAIL] {:<8} {}", step.name, step.detail);
            println!("       what to do: {}", outcome.advice());
            self.steps.push(step);
        }
        outcome
    }

    fn print_json(&self, outcome: Outcome) {
        let steps: Vec<_> = self
            .steps
            .iter()
            .map(|s| serde_json::json!({"step": s.name, "ok": s.ok, "detail": s.detail}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"ok": outcome == Outcome::Ok, "steps": steps, "advice": outcome.advice(), "exit_code": outcome as u8})
        );
    }
}

/// Runs `check`.
pub async fn run(args: CheckArgs) -> Outcome {
    let mut walk = Walk {
        steps: Vec::new(),
        json: args.target.json,
    };
    let config = match setup::config(&args.target) {
        Ok(config) => config,
        Err(usage) => return walk.fail("url", usage.0, Outcome::Usage),
    };
    // A config that validated has its url.
    let Some(url) = config.url.clone() else {
        return walk.fail("url", "--url is required", Outcome::Usage);
    };
    walk.pass("url", format!("{url} (site {})", config.site_id));
    let transport = match HyperTransport::new(&config) {
        Ok(transport) => transport,
        Err(error) => return walk.fail("url", error.to_string(), Outcome::Usage),
    };
    // Through a proxy, this machine looks up and reaches the proxy, and the proxy Matomo: the DNS
    // and TCP steps check the path the hits take.
    let proxy = transport
        .proxy()
        .and_then(|proxy| url::Url::parse(proxy).ok());
    let target = proxy.as_ref().unwrap_or(&url);
    if let Some(proxy) = transport.proxy() {
        walk.pass(
            "proxy",
            format!("hits go through {proxy} (the `proxy` setting, or HTTPS_PROXY/HTTP_PROXY)"),
        );
    }
    let whom = if proxy.is_some() { "the proxy " } else { "" };
    let host = target
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = target.port_or_known_default().unwrap_or(80);

    // DNS
    let address: SocketAddr = match host.parse::<IpAddr>() {
        Ok(ip) => {
            walk.pass("dns", format!("{ip} is an address, no lookup needed"));
            SocketAddr::new(ip, port)
        }
        Err(_) => match tokio::time::timeout(
            config.timeout,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(mut addresses)) => match addresses.next() {
                Some(address) => {
                    walk.pass("dns", format!("{host} resolves to {}", address.ip()));
                    address
                }
                None => {
                    return walk.fail(
                        "dns",
                        format!("{host} resolves to no address"),
                        Outcome::Dns,
                    )
                }
            },
            Ok(Err(error)) => {
                return walk.fail(
                    "dns",
                    format!("{host} does not resolve: {error}"),
                    Outcome::Dns,
                )
            }
            Err(_) => {
                return walk.fail(
                    "dns",
                    format!("looking up {host} took longer than {:?}", config.timeout),
                    Outcome::Timeout,
                )
            }
        },
    };

    // TCP: to Matomo, or to the proxy.
    match tokio::time::timeout(
        config.connect_timeout,
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => walk.pass("tcp", format!("connected to {whom}{address}")),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            return walk.fail(
                "tcp",
                format!("{whom}{address} refused the connection: nothing listens on port {port}"),
                Outcome::Connect,
            )
        }
        Ok(Err(error)) => {
            return walk.fail(
                "tcp",
                format!("cannot connect to {whom}{address}: {error}"),
                Outcome::Connect,
            )
        }
        Err(_) => {
            return walk.fail(
                "tcp",
                format!(
                    "no connection to {whom}{address} within {:?} (a firewall dropping packets?)",
                    config.connect_timeout
                ),
                Outcome::Timeout,
            )
        }
    }

    // TLS and the tracker's fingerprint, from one plain GET of the endpoint.
    let https = url.scheme() == "https";
    let answer = match transport.exchange(None, None).await {
        Ok(answer) => answer,
        Err(error) => {
            let outcome = Outcome::of(&error, false);
            let step = if outcome == Outcome::Tls {
                "tls"
            } else {
                "tracker"
            };
            return walk.fail(step, error.to_string(), outcome);
        }
    };
    if https {
        let matomo_host = url.host_str().unwrap_or_default();
        walk.pass("tls", format!("certificate valid for {matomo_host}"));
    }
    if answer.status == 200 && looks_like_tracker(&answer.body) {
        walk.pass("tracker", "the URL answers with Matomo's tracker notice");
    } else {
        let what = answer.describe();
        let outcome = if answer.status >= 500 {
            Outcome::Http
        } else {
            Outcome::NotMatomo
        };
        let error = TransportError::NotMatomo {
            endpoint: transport.endpoint().to_owned(),
            status: answer.status,
            what,
        };
        return walk.fail("tracker", error.to_string(), outcome);
    }

    if args.no_hit {
        walk.pass("hit", "skipped (--no-hit)");
        return finish(walk);
    }
    let hit = match test_hit(&config, "check", false) {
        Ok(hit) => hit,
        Err(error) => return walk.fail("hit", error.to_string(), Outcome::Failed),
    };
    match transport.send(&[hit]).await {
        Ok(_) => walk.pass(
            "hit",
            format!(
                "site {} accepted a test hit (event matomo-cli / check)",
                config.site_id
            ),
        ),
        Err(error) => {
            let outcome = Outcome::of(&error, false);
            let detail = if outcome == Outcome::SiteRejected {
                format!(
                    "Matomo refused site id {}: no such site, or it does not accept hits",
                    config.site_id
                )
            } else {
                error.to_string()
            };
            return walk.fail("hit", detail, outcome);
        }
    }

    if config.token_auth.is_some() {
        let hit = match test_hit(&config, "token", true) {
            Ok(hit) => hit,
            Err(error) => return walk.fail("token", error.to_string(), Outcome::Failed),
        };
        match transport.send(&[hit]).await {
            Ok(_) => walk.pass("token", "the token is accepted for cip (write access)"),
            Err(error) => {
                let outcome = Outcome::of(&error, true);
                let detail = if outcome == Outcome::TokenRejected {
                    "Matomo refused a hit with cip: the token is wrong or has no write access to this site".to_owned()
                } else {
                    error.to_string()
                };
                return walk.fail("token", detail, outcome);
            }
        }
    } else {
        walk.pass(
            "token",
            "none given (MATOMO_TOKEN_AUTH or --token-file): cip and old hits cannot be sent",
        );
    }
    finish(walk)
}

fn finish(walk: Walk) -> Outcome {
    if walk.json {
        walk.print_json(Outcome::Ok);
    } else {
        println!("all checks passed");
    }
    Outcome::Ok
}

/// The recognisable test hit: an event with category `matomo-cli`, action `check`.
fn test_hit(
    config: &TrackerConfig,
    name: &str,
    with_ip: bool,
) -> Result<TrackingRequest, matomo_core::BuildError> {
    let mut builder = TrackingRequest::builder(config.site_id)
        .url("https://matomo-cli.check/")
        .user_agent(concat!("matomo-cli/", env!("CARGO_PKG_VERSION")))
        .event(Event::new("matomo-cli", "check").name(name));
    if let (true, Some(token)) = (with_ip, &config.token_auth) {
        builder = builder.client_ip(IpAddr::from([127, 0, 0, 1])).token(token);
    }
    builder.build()
}
