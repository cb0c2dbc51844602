//! `MatomoFairing`: configuration at ignite, capture at response, flush at shutdown.

use crate::capture;
use crate::visit::VisitState;
use bytes::Bytes;
use matomo_core::{
    visitor_cookie, visitor_id_from_cookies, ConfigError, Enqueued, Event, Field, Tracker,
    TrackerConfig, Transport,
};
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::figment::Figment;
use rocket::tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use rocket::{Build, Orbit, Request, Response, Rocket};
use std::io::Cursor;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest sized HTML body that is read for its `<title>`; larger and streamed bodies are
/// passed through untouched.
pub const MAX_TITLE_BODY: usize = 256 * 1024;
/// How many bytes of a body the core sees (title, HTML sniffing).
const PREFIX: usize = 16 * 1024;
/// How long the visitor cookie lives: 13 months, as Matomo's own.
const COOKIE_MAX_AGE: u64 = 13 * 30 * 24 * 3600;

/// Tracks every request of a Rocket application in Matomo. See the [crate documentation](crate).
#[derive(Clone, Default)]
pub struct MatomoFairing {
    transport: Option<Arc<dyn Transport>>,
    /// Set at ignite; read by every response without a lookup in Rocket's managed state.
    matomo: OnceLock<Arc<Matomo>>,
}

impl std::fmt::Debug for MatomoFairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatomoFairing")
            .field("custom_transport", &self.transport.is_some())
            .finish()
    }
}

/// The tracker and the config it follows, set up at ignite.
struct Matomo {
    tracker: Tracker,
    config: Arc<TrackerConfig>,
}

impl MatomoFairing {
    /// A fairing that sends over HTTP(S) to the configured Matomo.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fairing that sends through `transport` (a test double, a queue of your own).
    pub fn with_transport(transport: impl Transport) -> Self {
        Self {
            transport: Some(Arc::new(transport)),
            matomo: OnceLock::new(),
        }
    }
}

/// Reads the `matomo` table of a Rocket figment, with the `MATOMO_*` variables on top.
/// `Ok(None)` when `enabled = false`.
///
/// ```
/// use rocket::figment::Figment;
/// let figment = Figment::from(rocket::Config::default())
///     .merge(("matomo", rocket::figment::util::map!["url" => "https://m.example/matomo.php"]));
/// let err = matomo_rocket::config_from_figment(&figment).unwrap_err();
/// assert_eq!(err.key(), Some("site_id"));
/// ```
pub fn config_from_figment(figment: &Figment) -> Result<Option<TrackerConfig>, ConfigError> {
    let table = figment.focus("matomo").merge(TrackerConfig::env_provider());
    if table.extract_inner::<bool>("enabled").ok() == Some(false) {
        return Ok(None);
    }
    TrackerConfig::from_figment(&table).map(Some)
}

#[rocket::async_trait]
impl Fairing for MatomoFairing {
    fn info(&self) -> Info {
        Info {
            name: "matomo",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Request | Kind::Response | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let config = match config_from_figment(rocket.figment()) {
            Ok(Some(config)) => config,
            Ok(None) => {
                tracing::info!("matomo: tracking is disabled (enabled = false)");
                // Handlers that take `&State<Tracker>` or `Visit` keep working; nothing is sent.
                return match Tracker::disabled() {
                    Ok(tracker) => Ok(rocket.manage(tracker)),
                    Err(error) => {
                        tracing::error!("matomo: {error}");
                        Err(rocket)
                    }
                };
            }
            Err(error) => {
                tracing::error!("{error}");
                return Err(rocket);
            }
        };
        let tracker = match &self.transport {
            Some(transport) => Tracker::with_transport(&config, Arc::clone(transport)),
            None => Tracker::new(&config),
        };
        match tracker {
            Ok(tracker) => {
                let state = Matomo {
                    tracker: tracker.clone(),
                    config: Arc::new(config),
                };
                if self.matomo.set(Arc::new(state)).is_err() {
                    // Rocket ignites a fairing once; a second time would mean two apps sharing it.
                    tracing::error!("matomo: this fairing was ignited twice; attach a new one");
                    return Err(rocket);
                }
                Ok(rocket.manage(tracker))
            }
            Err(error) => {
                tracing::error!("matomo: {error}");
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, _rocket: &Rocket<Orbit>) {
        if let Some(matomo) = self.matomo.get() {
            let config = &matomo.config;
            tracing::info!(
                "matomo: tracking site {} into {} (token_auth {})",
                config.site_id,
                config.url.as_ref().map_or("", |url| url.as_str()),
                if config.token_auth.is_some() {
                    "set"
                } else {
                    "not set"
                }
            );
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _data: &mut rocket::Data<'_>) {
        req.local_cache(VisitState::default);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some(matomo) = self.matomo.get() else {
            return;
        };
        let visit = req.local_cache(VisitState::default);
        let started = visit.started;
        let (user_id, action_name, mut extras) = {
            let mut data = visit.lock();
            if data.skip {
                return;
            }
            (
                data.user_id.take(),
                data.action_name.take(),
                std::mem::take(&mut data.extras),
            )
        };
        let (mut builder, content_type) = capture::exchange(req, res, started.elapsed());
        let is_html = matomo_core::is_html(content_type, None);
        if let Some(user_id) = &user_id {
            builder = builder.field(Field::UserId, user_id);
        }
        if let Some(name) = &action_name {
            builder = builder.field(Field::ActionName, name);
        }
        if let Some(prefix) = body_prefix(&matomo.config, res, is_html).await {
            builder = builder.body_prefix(prefix);
        }
        let exchange = builder.build();
        if (500..600).contains(&res.status().code) {
            extras.actions.push(
                Event::new("HTTP Error", res.status().code.to_string())
                    .name(req.uri().path().as_str())
                    .into(),
            );
        }
        let cookie = wants_cookie(&matomo.config, &exchange).then(|| {
            let created = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            visitor_cookie(
                matomo.config.site_id,
                matomo.tracker.visitor_id(&exchange),
                created,
            )
        });
        if matomo.tracker.track_exchange_with(exchange, extras) == Enqueued::Queued {
            if let Some((name, value)) = cookie {
                res.adjoin_raw_header(
                    "Set-Cookie",
                    format!("{name}={value}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax"),
                );
            }
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let Some(matomo) = self.matomo.get() {
            let grace = Duration::from_secs(u64::from(rocket.config().shutdown.grace));
            let report = matomo.tracker.shutdown(grace).await;
            if report.completed {
                tracing::info!(
                    sent = report.stats.sent,
                    "matomo: all hits delivered at shutdown"
                );
            } else {
                tracing::warn!(
                    pending = report.pending,
                    "matomo: shutdown grace period over; {} hits not delivered",
                    report.pending
                );
            }
        }
    }
}

fn wants_cookie(config: &TrackerConfig, exchange: &matomo_core::HttpExchange) -> bool {
    config.visitor_cookie
        && exchange
            .get(Field::Cookie)
            .and_then(|cookies| visitor_id_from_cookies(cookies, config.site_id))
            .is_none()
}

/// The first bytes of a sized body the title or the HTML rule needs (`is_html`: the response's
/// `Content-Type` says HTML); the body is put back intact.
async fn body_prefix(
    config: &TrackerConfig,
    res: &mut Response<'_>,
    is_html: bool,
) -> Option<Bytes> {
    if !is_html && !config.ignore_html {
        return None;
    }
    let size = res.body().preset_size()?;
    if size > MAX_TITLE_BODY {
        return None;
    }
    let mut bytes = Vec::with_capacity(size);
    if let Err(error) = res.body_mut().read_to_end(&mut bytes).await {
        tracing::debug!(%error, "matomo: could not read a response body for its title");
        // What was read, then the same failure: the client sees what Rocket would have sent.
        res.set_streamed_body(Cursor::new(bytes).chain(Failed(Some(error))));
        return None;
    }
    let prefix = Bytes::copy_from_slice(&bytes[..bytes.len().min(PREFIX)]);
    res.set_sized_body(bytes.len(), Cursor::new(bytes));
    Some(prefix)
}

/// A body that fails once with the error its reading met, then ends.
struct Failed(Option<std::io::Error>);

impl AsyncRead for Failed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.take().map_or(Ok(()), Err))
    }
}
