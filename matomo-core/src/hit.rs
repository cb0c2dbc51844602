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

use crate::client_memory::Recalled;
use crate::config::{BotPolicy, ConfigError, TrackerConfig};
use crate::derived_ids::{DerivedIds, UserAgent};
use crate::exchange::{Field, HttpExchange};
use crate::identity::{client_ip, PkIdName, VisitorIdDeriver};
use crate::privacy::{anonymize_ip, mask_path_parts, name_filter, redact_query_with};
use crate::request::{
    cdt_needs_token, millis, Action, BuildError, SharedText, SpareBuffers, Text, TextsWriter,
    TrackingRequest,
};
use crate::rules::{is_bot, is_html};
use crate::secret::Salt;
use crate::title::html_title;
use crate::unix_time::unix_seconds;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// What an application adds to the page view of one served request: custom dimensions, and more
/// hits (events, goals, site searches, ecommerce) for the same visitor, built under the same
/// identity, IP and privacy rules as the page view.
///
/// ```
/// use matomo_core::{hit::Extras, Event};
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
/// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 4);
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
    /// The ids `deriver` worked out, by IP and user agent.
    derived: DerivedIds,
    base_url: Option<String>,
    /// The filter for the names in `redact_query_params`, worked out once.
    redacted_filter: u64,
    /// How the site's `_pk_id` cookie name starts.
    pk_id_name: PkIdName,
}

impl HitBuilder {
    /// A builder for `config`, which is validated first.
    pub fn new(config: &TrackerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let salt = config.visitor_id_salt.clone().unwrap_or_else(Salt::random);
        let base_url = config
            .site_base_url
            .as_ref()
            .map(|base| base.trim().trim_end_matches('/').to_owned());
        Ok(Self {
            config: Arc::new(config.clone()),
            deriver: VisitorIdDeriver::new(&salt),
            derived: DerivedIds::default(),
            base_url,
            redacted_filter: name_filter(&config.redact_query_params),
            pk_id_name: PkIdName::new(config.site_id),
        })
    }

    /// The config this builder follows.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The visitor id this exchange's visitor gets: the `_pk_id` cookie's, else derived.
    pub fn visitor_id(&self, exchange: &HttpExchange) -> crate::VisitorId {
        self.visitor_id_with(
            exchange,
            client_ip(exchange, &self.config.trusted_proxies),
            exchange.get(Field::UserAgent).map(UserAgent::Text),
        )
    }

    /// [`HitBuilder::visitor_id`] when the client IP is known already.
    /// `user_agent` is the exchange's, as text or as the shared copy a client memory keeps.
    fn visitor_id_with(
        &self,
        exchange: &HttpExchange,
        ip: Option<IpAddr>,
        user_agent: Option<UserAgent<'_>>,
    ) -> crate::VisitorId {
        exchange
            .get(Field::Cookie)
            .and_then(|cookies| self.pk_id_name.visitor_id(cookies))
            .unwrap_or_else(|| self.derived.get(&self.deriver, ip, user_agent))
    }

    /// Starts the hit for an exchange: everything above but the action, so an application can turn
    /// it into an event or a goal of the same visitor.
    pub fn builder_for(&self, exchange: &HttpExchange) -> crate::RequestBuilder {
        self.builder_recalled(exchange, self.recall_once(exchange))
    }

    /// What [`HitBuilder::builder_for`] needs to know about the client when no
    /// [`ClientMemory`](crate::ClientMemory) is at hand: the texts copied, the bot rule run only
    /// when its verdict is sent.
    fn recall_once(&self, exchange: &HttpExchange) -> Recalled {
        let user_agent = exchange.get(Field::UserAgent);
        Recalled {
            bot: self.config.bots == BotPolicy::Track && is_bot(user_agent),
            user_agent: user_agent.map(SharedText::new),
            language: exchange.get(Field::AcceptLanguage).map(SharedText::new),
        }
    }

    /// [`HitBuilder::builder_for`] with what [`ClientMemory::recall`](crate::ClientMemory::recall)
    /// returned for this same exchange: its user agent and language texts (shared, not copied)
    /// and its bot verdict (not worked out again). The verdict only matters under
    /// [`BotPolicy::Track`], where it sets `bots=1`. This is how the dispatcher builds.
    ///
    /// ```
    /// use matomo_core::{BotPolicy, ClientMemory, HitBuilder, HttpExchange, TrackerConfig};
    /// let mut config = TrackerConfig::new("https://matomo.example.org/matomo.php", 4);
    /// config.bots = BotPolicy::Track;
    /// let builder = HitBuilder::new(&config).unwrap();
    /// let exchange = HttpExchange::builder("GET", "/")
    ///     .header("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")
    ///     .build();
    /// let mut memory = ClientMemory::new();
    /// let recalled = memory.recall(&exchange);
    /// assert!(recalled.bot());
    /// let hit = builder.builder_recalled(&exchange, recalled).build().unwrap();
    /// assert!(hit.bot());
    /// assert_eq!(hit, builder.build(&exchange).unwrap());
    /// ```
    pub fn builder_recalled(
        &self,
        exchange: &HttpExchange,
        recalled: Recalled,
    ) -> crate::RequestBuilder {
        let mut builder = TrackingRequest::builder(self.config.site_id);
        if self.config.token_auth.is_some() {
            builder.attest_token();
        }
        self.fill(exchange, recalled, String::new(), builder.request_mut());
        builder
    }

    /// Sets everything [`HitBuilder::builder_recalled`] sets on `hit`, a page view with nothing
    /// else set: filled in place, as a chain of by-value setters would copy the whole request at
    /// each step.
    /// `buffer` is where the texts are written (see [`SpareBuffers`]).
    fn fill(
        &self,
        exchange: &HttpExchange,
        recalled: Recalled,
        buffer: String,
        hit: &mut TrackingRequest,
    ) {
        let config = &*self.config;
        let path = match exchange.get(Field::RouteTemplate) {
            Some(template) if config.mask_with_route_template => template,
            _ => exchange.path(),
        };
        let masked = mask_path_parts(path, &config.url_masks);
        let masked = masked.parts();
        let query = exchange.query().filter(|q| !q.is_empty()).map(|query| {
            redact_query_with(query, &config.redact_query_params, self.redacted_filter)
        });
        let host = exchange.get(Field::Host).unwrap_or("localhost");
        let query = query.as_deref().map_or(["", ""], |query| ["?", query]);
        let scheme = exchange.scheme();
        // The URL's parts: the configured base, or the request's scheme and host; the masked
        // path; the redacted query.
        let origin: [&str; 3] = match &self.base_url {
            Some(base) => [base, "", ""],
            None => [scheme.as_str(), "://", host],
        };
        let url = [
            origin[0], origin[1], origin[2], masked[0], masked[1], masked[2], query[0], query[1],
        ];
        let ip = client_ip(exchange, &config.trusted_proxies);
        let named = exchange.get(Field::ActionName);
        let title = named.is_none().then(|| self.title(exchange)).flatten();
        // Else the masked path, which the URL holds already.
        let action_name = named
            .or(title.as_deref())
            .or_else(|| exchange.get(Field::RouteName));
        let referrer = exchange.get(Field::Referer).filter(|r| !r.is_empty());
        let user_id = exchange.get(Field::UserId).filter(|u| !u.is_empty());
        // One buffer for all four texts.
        let mut texts = TextsWriter::reusing(
            buffer,
            url.iter().map(|part| part.len()).sum::<usize>()
                + action_name.map_or(0, str::len)
                + referrer.map_or(0, str::len)
                + user_id.map_or(0, str::len),
        );
        let path_start = texts.written() + origin.iter().map(|part| part.len()).sum::<usize>();
        texts.push(Text::Url, &url);
        match action_name {
            Some(name) => texts.push(Text::ActionName, &[name]),
            None => {
                let path_len: usize = masked.iter().map(|part| part.len()).sum();
                texts.repeat(Text::ActionName, path_start..path_start + path_len);
            }
        }
        if let Some(referrer) = referrer {
            texts.push(Text::Referrer, &[referrer]);
        }
        if let Some(user_id) = user_id {
            texts.push(Text::UserId, &[user_id]);
        }
        hit.performance.server = Some(millis(exchange.duration()));
        hit.time = Some(unix_seconds(exchange.served_at()));
        hit.texts = texts.finish();
        hit.forced_visitor_id = Some(self.visitor_id_with(
            exchange,
            ip,
            recalled.user_agent.as_ref().map(UserAgent::Shared),
        ));
        hit.user_agent = recalled.user_agent;
        hit.language = recalled.language;
        hit.bot = config.bots == BotPolicy::Track && recalled.bot;
        if config.token_auth.is_some() {
            hit.client_ip = ip.map(|ip| anonymize_ip(ip, config.anonymize_ip_bytes));
        }
    }

    /// The page-view hit for an exchange.
    pub fn build(&self, exchange: &HttpExchange) -> Result<TrackingRequest, BuildError> {
        self.builder_for(exchange).build()
    }

    /// [`HitBuilder::build`] with what a [`ClientMemory`](crate::ClientMemory) recalled (see
    /// [`HitBuilder::builder_recalled`]).
    pub fn build_recalled(
        &self,
        exchange: &HttpExchange,
        recalled: Recalled,
    ) -> Result<TrackingRequest, BuildError> {
        self.builder_recalled(exchange, recalled).build()
    }

    /// [`HitBuilder::build_recalled`] straight into the end of `hits`, as a dispatcher fills a
    /// batch: the hit is built where it stays, not moved there (a hit is a few hundred bytes), and
    /// its texts are written in one of the `spares` when there is one (see [`SpareBuffers`]).
    /// On error nothing is added.
    ///
    /// ```
    /// use matomo_core::{ClientMemory, HitBuilder, HttpExchange, SpareBuffers, TrackerConfig};
    /// let builder = HitBuilder::new(&TrackerConfig::new("https://m.example/matomo.php", 1)).unwrap();
    /// let exchange = HttpExchange::builder("GET", "/pricing").header("host", "example.org").build();
    /// let mut memory = ClientMemory::new();
    /// let mut batch = Vec::new();
    /// let recalled = memory.recall(&exchange);
    /// builder.build_recalled_into(&exchange, recalled, &mut SpareBuffers::new(), &mut batch).unwrap();
    /// assert_eq!(batch, vec![builder.build(&exchange).unwrap()]);
    /// ```
    pub fn build_recalled_into(
        &self,
        exchange: &HttpExchange,
        recalled: Recalled,
        spares: &mut SpareBuffers,
        hits: &mut Vec<TrackingRequest>,
    ) -> Result<(), BuildError> {
        // Of everything `TrackingRequest::check` checks, a page view filled from an exchange can
        // only break the age rule: its site id is the validated config's, and `cip` is set only
        // with a token. The tests compare this with `build`, which checks everything.
        let has_token = self.config.token_auth.is_some();
        let at = hits.len();
        hits.push(TrackingRequest::page_view(self.config.site_id));
        let hit = &mut hits[at];
        self.fill(exchange, recalled, spares.take(), hit);
        if !has_token
            && hit
                .time
                .is_some_and(|cdt| cdt_needs_token(cdt, SystemTime::now()))
        {
            spares.keep(hit);
            hits.truncate(at);
            return Err(BuildError::NeedsToken("cdt"));
        }
        debug_assert_eq!(hit.check(has_token), Ok(()));
        Ok(())
    }

    /// Every hit of an exchange: the page view (unless skipped), then each extra action, all with
    /// the extra dimensions.
    pub fn build_all(
        &self,
        exchange: &HttpExchange,
        extras: &Extras,
    ) -> Vec<Result<TrackingRequest, BuildError>> {
        self.build_all_recalled(exchange, extras, self.recall_once(exchange))
    }

    /// [`HitBuilder::build_all`] with what a [`ClientMemory`](crate::ClientMemory) recalled (see
    /// [`HitBuilder::builder_recalled`]).
    pub fn build_all_recalled(
        &self,
        exchange: &HttpExchange,
        extras: &Extras,
        recalled: Recalled,
    ) -> Vec<Result<TrackingRequest, BuildError>> {
        let base = self.builder_recalled(exchange, recalled);
        let with_dimensions = |mut builder: crate::RequestBuilder| {
            for (id, value) in &extras.dimensions {
                builder = builder.dimension(*id, value.clone());
            }
            builder
        };
        let page_view = (!extras.skip_page_view).then(|| with_dimensions(base.clone()).build());
        page_view
            .into_iter()
            .chain(
                extras
                    .actions
                    .iter()
                    .map(|action| with_dimensions(base.clone().action(action.clone())).build()),
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
