//! `TrackingRequest`: one typed hit of the Matomo Tracking HTTP API, its builder, and its encoding.
//!
//! Every parameter family of the API is modelled: page views, events, site searches, goals, ecommerce,
//! content, outlinks and downloads, performance timings, campaigns, pings, custom dimensions and custom
//! variables, visitor and user ids, and the parameters that need a `token_auth` (`cip`, `cdt` older
//! than 24 hours, `country`, `region`, `city`, `lat`, `long`). A request is built with
//! [`TrackingRequest::builder`], which refuses invalid combinations, and encodes to the query string
//! Matomo reads ([`TrackingRequest::to_query`]); [`TrackingRequest::from_query`] decodes it back.

mod action;
mod builder;
mod decode;
mod encode;

pub use action::{
    Action, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Goal, ProductView,
    SiteSearch,
};
pub use builder::{BuildError, RequestBuilder};
pub(crate) use decode::is_modelled;
pub use decode::DecodeError;

use crate::visitor::VisitorId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a `cdt` may be before Matomo wants a token: 24 hours
/// (`tracking_requests_require_authentication_when_custom_timestamp_newer_than` in Matomo's
/// `config/global.ini.php`).
pub const CDT_WITHOUT_TOKEN_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// One hit of the Matomo Tracking HTTP API.
///
/// Built with [`TrackingRequest::builder`]; read with its getters; sent by a
/// [`Transport`](crate::Transport). The token is not part of a request: the transport adds it to the
/// request body.
///
/// ```
/// use matomo_core::{Event, TrackingRequest};
/// let hit = TrackingRequest::builder(1)
///     .url("https://example.org/watch")
///     .event(Event::new("Video", "Play").name("Intro"))
///     .build()
///     .unwrap();
/// let query = hit.to_query();
/// assert!(query.starts_with("idsite=1&rec=1&apiv=1&url=https://example.org/watch"));
/// assert!(query.contains("&e_c=Video&e_a=Play&e_n=Intro&ca=1"));
/// assert_eq!(TrackingRequest::from_query(&query).unwrap(), hit);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingRequest {
    pub(crate) site_id: u32,
    pub(crate) action: Action,
    pub(crate) url: Option<String>,
    pub(crate) action_name: Option<String>,
    pub(crate) referrer: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) visitor_id: Option<VisitorId>,
    pub(crate) forced_visitor_id: Option<VisitorId>,
    pub(crate) page_view_id: Option<String>,
    pub(crate) new_visit: bool,
    pub(crate) resolution: Option<(u32, u32)>,
    pub(crate) local_time: Option<(u8, u8, u8)>,
    pub(crate) cookie_support: Option<bool>,
    pub(crate) dimensions: BTreeMap<u32, String>,
    pub(crate) visit_variables: BTreeMap<u32, (String, String)>,
    pub(crate) page_variables: BTreeMap<u32, (String, String)>,
    pub(crate) performance: Performance,
    pub(crate) campaign_name: Option<String>,
    pub(crate) campaign_keyword: Option<String>,
    pub(crate) bot: bool,
    pub(crate) send_image: bool,
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) time: Option<u64>,
    pub(crate) geo: Geo,
    pub(crate) extra: Vec<(String, String)>,
}

/// Page performance timings in milliseconds (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`, `pf_dm2`, `pf_onl`).
///
/// ```
/// use matomo_core::{Performance, TrackingRequest};
/// let timings = Performance { network: Some(12), server: Some(40), ..Performance::default() };
/// let hit = TrackingRequest::builder(1).performance(timings).build().unwrap();
/// assert!(hit.to_query().contains("&pf_net=12&pf_srv=40"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Performance {
    /// `pf_net`: network time.
    pub network: Option<u32>,
    /// `pf_srv`: server time (how long the server took to answer).
    pub server: Option<u32>,
    /// `pf_tfr`: transfer time.
    pub transfer: Option<u32>,
    /// `pf_dm1`: DOM processing time.
    pub dom_processing: Option<u32>,
    /// `pf_dm2`: DOM completion time.
    pub dom_completion: Option<u32>,
    /// `pf_onl`: on-load time.
    pub on_load: Option<u32>,
}

/// Visitor location overrides (`country`, `region`, `city`, `lat`, `long`); they need a token.
///
/// ```
/// use matomo_core::{Geo, TokenAuth, TrackingRequest};
/// let geo = Geo { country: Some("de".into()), ..Geo::default() };
/// assert!(TrackingRequest::builder(1).geo(geo.clone()).build().is_err());
/// let token = TokenAuth::new("0123abcd").unwrap();
/// let hit = TrackingRequest::builder(1).geo(geo).token(&token).build().unwrap();
/// assert_eq!(hit.geo().country.as_deref(), Some("de"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// `country`: two-letter country code.
    pub country: Option<String>,
    /// `region`: region code.
    pub region: Option<String>,
    /// `city`: city name.
    pub city: Option<String>,
    /// `lat`: latitude, -90 to 90.
    pub latitude: Option<f64>,
    /// `long`: longitude, -180 to 180.
    pub longitude: Option<f64>,
}

impl TrackingRequest {
    /// Starts a page view for site `site_id`; the family setters turn it into another kind of hit.
    pub fn builder(site_id: u32) -> RequestBuilder {
        RequestBuilder::new(TrackingRequest::page_view(site_id))
    }

    /// A page view for site `site_id` with nothing else set: what a builder starts from.
    pub(crate) fn page_view(site_id: u32) -> TrackingRequest {
        TrackingRequest {
            site_id,
            action: Action::PageView,
            url: None,
            action_name: None,
            referrer: None,
            user_agent: None,
            language: None,
            user_id: None,
            visitor_id: None,
            forced_visitor_id: None,
            page_view_id: None,
            new_visit: false,
            resolution: None,
            local_time: None,
            cookie_support: None,
            dimensions: BTreeMap::new(),
            visit_variables: BTreeMap::new(),
            page_variables: BTreeMap::new(),
            performance: Performance::default(),
            campaign_name: None,
            campaign_keyword: None,
            bot: false,
            send_image: false,
            client_ip: None,
            time: None,
            geo: Geo::default(),
            extra: Vec::new(),
        }
    }

    /// `idsite`.
    pub fn site_id(&self) -> u32 {
        self.site_id
    }
    /// What the hit records.
    pub fn action(&self) -> &Action {
        &self.action
    }
    /// `url`: the full URL of the page.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
    /// `action_name`: the page title.
    pub fn action_name(&self) -> Option<&str> {
        self.action_name.as_deref()
    }
    /// `urlref`: the referrer.
    pub fn referrer(&self) -> Option<&str> {
        self.referrer.as_deref()
    }
    /// `ua`: the visitor's user agent.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
    /// `lang`: the visitor's `Accept-Language`.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }
    /// `uid`: the application's user id.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
    /// `_id`: the visitor id from the visitor's own Matomo cookie.
    pub fn visitor_id(&self) -> Option<VisitorId> {
        self.visitor_id
    }
    /// `cid`: the visitor id Matomo must use.
    pub fn forced_visitor_id(&self) -> Option<VisitorId> {
        self.forced_visitor_id
    }
    /// `pv_id`: the page view id that ties events and timings to a page view.
    pub fn page_view_id(&self) -> Option<&str> {
        self.page_view_id.as_deref()
    }
    /// `new_visit=1`: force a new visit.
    pub fn new_visit(&self) -> bool {
        self.new_visit
    }
    /// `res`: screen resolution as (width, height).
    pub fn resolution(&self) -> Option<(u32, u32)> {
        self.resolution
    }
    /// `h`, `m`, `s`: the visitor's local time.
    pub fn local_time(&self) -> Option<(u8, u8, u8)> {
        self.local_time
    }
    /// `cookie`: whether the visitor's browser accepts cookies.
    pub fn cookie_support(&self) -> Option<bool> {
        self.cookie_support
    }
    /// `dimensionN`: custom dimensions by id.
    pub fn dimensions(&self) -> &BTreeMap<u32, String> {
        &self.dimensions
    }
    /// `_cvar`: visit-scope custom variables by slot.
    pub fn visit_variables(&self) -> &BTreeMap<u32, (String, String)> {
        &self.visit_variables
    }
    /// `cvar`: page-scope custom variables by slot.
    pub fn page_variables(&self) -> &BTreeMap<u32, (String, String)> {
        &self.page_variables
    }
    /// `pf_*`: performance timings.
    pub fn performance(&self) -> &Performance {
        &self.performance
    }
    /// `_rcn`: campaign name.
    pub fn campaign_name(&self) -> Option<&str> {
        self.campaign_name.as_deref()
    }
    /// `_rck`: campaign keyword.
    pub fn campaign_keyword(&self) -> Option<&str> {
        self.campaign_keyword.as_deref()
    }
    /// `bots=1`: the hit comes from a bot and must be recorded anyway.
    pub fn bot(&self) -> bool {
        self.bot
    }
    /// Whether Matomo answers with a GIF (`send_image` absent) rather than 204 (`send_image=0`).
    pub fn send_image(&self) -> bool {
        self.send_image
    }
    /// `cip`: the visitor's IP address (needs a token).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }
    /// `cdt`: when the hit happened, in Unix seconds.
    pub fn time(&self) -> Option<u64> {
        self.time
    }
    /// `country`, `region`, `city`, `lat`, `long`.
    pub fn geo(&self) -> &Geo {
        &self.geo
    }
    /// Parameters this type does not model, in order.
    pub fn extra(&self) -> &[(String, String)] {
        &self.extra
    }

    /// Whether this hit carries a parameter that Matomo only accepts with a token, given the time now.
    ///
    /// ```
    /// use matomo_core::TrackingRequest;
    /// use std::time::{Duration, SystemTime};
    /// let now = SystemTime::now();
    /// let fresh = TrackingRequest::builder(1).time(now).build().unwrap();
    /// assert!(!fresh.needs_token(now));
    /// assert!(fresh.needs_token(now + Duration::from_secs(25 * 3600)));
    /// ```
    pub fn needs_token(&self, now: SystemTime) -> bool {
        self.token_only_parameter(now).is_some()
    }

    /// What [`RequestBuilder::build`] checks: the hit as a whole, and that it carries no parameter
    /// that needs a token unless it goes out with one (`has_token`).
    pub(crate) fn check(&self, has_token: bool) -> Result<(), BuildError> {
        builder::validate(self)?;
        match self.token_only_parameter(SystemTime::now()) {
            Some(name) if !has_token => Err(BuildError::NeedsToken(name)),
            _ => Ok(()),
        }
    }

    /// The first parameter this hit carries that Matomo only accepts with a token.
    fn token_only_parameter(&self, now: SystemTime) -> Option<&'static str> {
        let geo = &self.geo;
        [
            ("cip", self.client_ip.is_some()),
            (
                "cdt",
                self.time.is_some_and(|time| cdt_needs_token(time, now)),
            ),
            ("country", geo.country.is_some()),
            ("region", geo.region.is_some()),
            ("city", geo.city.is_some()),
            ("lat", geo.latitude.is_some()),
            ("long", geo.longitude.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }
}

/// `duration` in whole milliseconds, at most `u32::MAX` (about 50 days).
pub(crate) fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// Whether a hit recorded at `cdt` (seconds since the Unix epoch) is too old, at `now`, for Matomo
/// to take without a token.
pub(crate) fn cdt_needs_token(cdt: u64, now: SystemTime) -> bool {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    now.saturating_sub(cdt) > CDT_WITHOUT_TOKEN_MAX_AGE.as_secs()
}
