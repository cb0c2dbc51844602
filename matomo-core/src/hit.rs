//! From a served request to a hit: [`HitBuilder`] turns an [`HttpExchange`] into a
//! [`TrackingRequest`] under a [`TrackerConfig`].
//!
//! What goes out, field by field:
//! - `url`: `site_base_url` (or the request's scheme and `Host`) + the path after `url_masks` + the
//!   query after redaction (the seed dropped the query; here it is kept, minus secrets).
//! - `action_name`: the name the application set, else the HTML `<title>`, else the route name,
//!   else the masked path.
//! - `urlref` from `Referer` only; `ua`; `lang` from `Accept-Language`; `uid` from the application.
//! - `cid`: the visitor id from Matomo's `_pk_id` cookie, else derived from IP and user agent.
//! - `cip`: the client IP, anonymised, and only when a token is configured.
//! - `pf_srv`: the server time in milliseconds; `cdt`: when the request was served, so queued and
//!   retried hits keep their time; `bots=1` for a bot tracked under `bots = "track"`;
//!   `send_image=0`, `rec=1`, `apiv=1`.
//!
//! A hit whose `cdt` is older than 24 hours needs a token (Matomo refuses it otherwise). Without a
//! token, [`HitBuilder::build`] refuses such a hit with [`BuildError::NeedsToken`]`("cdt")` rather than
//! send it with the wrong time; the dispatcher counts it as dropped for age.

use crate::config::{BotPolicy, ConfigError, TrackerConfig};
use crate::exchange::{Field, HttpExchange};
use crate::identity::{client_ip, visitor_id_from_cookies, VisitorIdDeriver};
use crate::privacy::{anonymize_ip, mask_path, redact_query};
use crate::request::{millis, Action, BuildError, Performance, RequestBuilder, TrackingRequest};
use crate::rules::{is_bot, is_html};
use crate::secret::Salt;
use crate::title::html_title;
use crate::unix_time::unix_seconds;
use crate::visitor::VisitorId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// What an application adds to the page view of one served request: custom dimensions, and more
/// hits (events, goals, site searches, ecommerce) for the same visitor, built under the same
/// identity, IP and privacy rules as the page view.
///
/// ```
/// use matomo_core::{Event, Extras};
/// let mut extras = Extras::default();
/// extras.dimensions.insert(1, "premium".into());
/// extras.actions.push(Event::new("Cart", "Add").into());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Extras {
    /// Custom dimensions for every hit of this request.
    pub dimensions: BTreeMap<u32, String>,
    /// More hits for the same visitor, sent after the page view.
    pub actions: Vec<Action>,
    /// Send the additional hits only, without the page view.
    pub skip_page_view: bool,
}

impl Extras {
    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.dimensions.is_empty() && self.actions.is_empty() && !self.skip_page_view
    }
}

/// Builds hits from exchanges under one config.
///
/// ```
/// use matomo_core::{HitBuilder, HttpExchange, TrackerConfig};
/// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 4).unwrap();
/// let builder = HitBuilder::new(&config).unwrap();
/// let exchange = HttpExchange::builder("GET", "/search?q=rust&token=s3cret")
///     .header("host", "example.org")
///     .header("user-agent", "Mozilla/5.0")
///     .build();
/// let hit = builder.build(&exchange).unwrap();
/// assert_eq!(hit.url(), Some("http://example.org/search?q=rust&token=REDACTED"));
/// assert_eq!(hit.action_name(), Some("/search"));
/// assert!(hit.client_ip().is_none()); // no token, no cip
/// ```
#[derive(Debug, Clone)]
pub struct HitBuilder {
    config: Arc<TrackerConfig>,
    deriver: VisitorIdDeriver,
    /// `site_base_url` without a trailing `/`.
    base_url: Option<String>,
}

impl HitBuilder {
    /// A builder for `config`, which is validated first.
    pub fn new(config: &TrackerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let salt = config.visitor_id_salt.clone().unwrap_or_else(Salt::random);
        let base_url = config
            .site_base_url
            .as_ref()
            .map(|base| base.as_str().trim_end_matches('/').to_owned());
        Ok(Self {
            config: Arc::new(config.clone()),
            deriver: VisitorIdDeriver::new(&salt),
            base_url,
        })
    }

    /// The config this builder follows.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The visitor id this exchange's visitor gets: the `_pk_id` cookie's, else derived from the
    /// client IP and user agent.
    ///
    /// ```
    /// use matomo_core::{HitBuilder, HttpExchange, TrackerConfig};
    /// let builder = HitBuilder::new(&TrackerConfig::new("https://m.example/matomo.php", 1).unwrap()).unwrap();
    /// let exchange = HttpExchange::builder("GET", "/")
    ///     .header("cookie", "_pk_id.1.abcd=0123456789abcdef.1700000000.")
    ///     .build();
    /// assert_eq!(builder.visitor_id(&exchange).to_string(), "0123456789abcdef");
    /// ```
    pub fn visitor_id(&self, exchange: &HttpExchange) -> VisitorId {
        self.visitor_id_for(exchange, client_ip(exchange, &self.config.trusted_proxies))
    }

    fn visitor_id_for(&self, exchange: &HttpExchange, ip: Option<IpAddr>) -> VisitorId {
        exchange
            .get(Field::Cookie)
            .and_then(|cookies| visitor_id_from_cookies(cookies, self.config.site_id))
            .unwrap_or_else(|| self.deriver.derive(ip, exchange.get(Field::UserAgent)))
    }

    /// Starts the hit for an exchange: everything but the action, so an application can turn it
    /// into an event or a goal of the same visitor.
    ///
    /// ```
    /// use matomo_core::{Event, HitBuilder, HttpExchange, TrackerConfig};
    /// let builder = HitBuilder::new(&TrackerConfig::new("https://m.example/matomo.php", 1).unwrap()).unwrap();
    /// let exchange = HttpExchange::builder("GET", "/video").header("user-agent", "Firefox").build();
    /// let event = builder.builder_for(&exchange).event(Event::new("Video", "Play")).build().unwrap();
    /// assert_eq!(event.user_agent(), Some("Firefox"));
    /// ```
    pub fn builder_for(&self, exchange: &HttpExchange) -> RequestBuilder {
        RequestBuilder::for_hit(self.page_view(exchange), self.config.token_auth.is_some())
    }

    /// The page view of an exchange, not yet checked.
    fn page_view(&self, exchange: &HttpExchange) -> TrackingRequest {
        let config = &*self.config;
        let path = match exchange.get(Field::RouteTemplate) {
            Some(template) if config.mask_with_route_template => template,
            _ => exchange.path(),
        };
        let path = mask_path(path, &config.url_masks);
        let mut url = String::with_capacity(256);
        match &self.base_url {
            Some(base) => url.push_str(base),
            None => {
                url.push_str(exchange.scheme().as_str());
                url.push_str("://");
                url.push_str(exchange.get(Field::Host).unwrap_or("localhost"));
            }
        }
        url.push_str(&path);
        if let Some(query) = exchange.query().filter(|query| !query.is_empty()) {
            url.push('?');
            url.push_str(&redact_query(query, &config.redact_query_params));
        }
        let action_name = exchange
            .get(Field::ActionName)
            .map(str::to_owned)
            .or_else(|| self.title(exchange))
            .or_else(|| exchange.get(Field::RouteName).map(str::to_owned))
            .unwrap_or_else(|| path.into_owned());
        let ip = client_ip(exchange, &config.trusted_proxies);
        let user_agent = exchange.get(Field::UserAgent);
        let text = |field| exchange.get(field).map(str::to_owned);
        let non_empty = |field| {
            exchange
                .get(field)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let has_token = config.token_auth.is_some();
        TrackingRequest {
            url: Some(url),
            action_name: Some(action_name),
            referrer: non_empty(Field::Referer),
            user_id: non_empty(Field::UserId),
            user_agent: text(Field::UserAgent),
            language: text(Field::AcceptLanguage),
            forced_visitor_id: Some(self.visitor_id_for(exchange, ip)),
            performance: Performance {
                server: Some(millis(exchange.duration())),
                ..Performance::default()
            },
            time: Some(unix_seconds(exchange.served_at())),
            bot: config.bots == BotPolicy::Track && is_bot(user_agent),
            // `cip` only with a token, anonymised.
            client_ip: ip
                .filter(|_| has_token)
                .map(|ip| anonymize_ip(ip, config.anonymize_ip_bytes)),
            ..TrackingRequest::page_view(config.site_id)
        }
    }

    /// The page-view hit for an exchange.
    ///
    /// A hit whose `cdt` is older than 24 hours needs a token; without one it is refused with
    /// [`BuildError::NeedsToken`]`("cdt")` rather than sent with the wrong time.
    pub fn build(&self, exchange: &HttpExchange) -> Result<TrackingRequest, BuildError> {
        let hit = self.page_view(exchange);
        hit.check(self.config.token_auth.is_some())?;
        Ok(hit)
    }

    /// Every hit of an exchange: the page view (unless skipped), then each extra action, all with
    /// the extra dimensions.
    ///
    /// ```
    /// use matomo_core::{Event, Extras, HitBuilder, HttpExchange, TrackerConfig};
    /// let builder = HitBuilder::new(&TrackerConfig::new("https://m.example/matomo.php", 1).unwrap()).unwrap();
    /// let mut extras = Extras::default();
    /// extras.dimensions.insert(2, "premium".into());
    /// extras.actions.push(Event::new("Cart", "Add").into());
    /// let hits = builder.build_all(&HttpExchange::builder("GET", "/cart").build(), &extras);
    /// assert_eq!(hits.len(), 2);
    /// assert!(hits.iter().all(|hit| hit.as_ref().unwrap().dimensions()[&2] == "premium"));
    /// ```
    pub fn build_all(
        &self,
        exchange: &HttpExchange,
        extras: &Extras,
    ) -> Vec<Result<TrackingRequest, BuildError>> {
        let mut base = self.builder_for(exchange);
        for (id, value) in &extras.dimensions {
            base = base.dimension(*id, value.clone());
        }
        let page_view = (!extras.skip_page_view).then(|| base.clone().build());
        page_view
            .into_iter()
            .chain(
                extras
                    .actions
                    .iter()
                    .map(|action| base.clone().action(action.clone()).build()),
            )
            .collect()
    }

    fn title(&self, exchange: &HttpExchange) -> Option<String> {
        let body = exchange.body_prefix()?;
        is_html(exchange.get(Field::ContentType), Some(body))
            .then(|| html_title(body))
            .flatten()
    }
}
