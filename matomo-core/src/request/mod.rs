//! `TrackingRequest`: one typed hit of the Matomo Tracking HTTP API, its builder, and its encoding.
//!
//! Every parameter family of the API is modelled: page views, events, site searches, goals, ecommerce,
//! content, outlinks and downloads, performance timings, campaigns, pings, custom dimensions and custom
//! variables, visitor and user ids, and the parameters that need a `token_auth` (`cip`, `cdt` older
//! than 24 hours, `country`, `region`, `city`, `lat`, `long`). A request is built with
//! [`TrackingRequest::builder`], which refuses invalid combinations, and encodes to the query string
//! Matomo reads ([`TrackingRequest::to_query`]); [`TrackingRequest::from_query`] decodes it back.

mod action;
mod codec;
mod rare;
mod shared_text;
mod spares;
mod texts;

pub use action::{
    Action, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Goal, ProductView,
    SiteSearch,
};
#[cfg(feature = "test-util")]
pub(crate) use codec::parse_pairs;
pub use codec::DecodeError;
pub(crate) use rare::{Rare, RareBox};
pub(crate) use shared_text::{text_hash, SharedText, TextKey};
pub use spares::SpareBuffers;
pub(crate) use texts::{Text, Texts, TextsWriter};

use crate::secret::TokenAuth;
use crate::unix_time::unix_seconds;
use crate::visitor::VisitorId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a `cdt` may be before Matomo wants a token: 24 hours
/// (`tracking_requests_require_authentication_when_custom_timestamp_newer_than`).
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
    /// `url`, `action_name`, `urlref` and `uid`, in one allocation.
    pub(crate) texts: Texts,
    /// Shared: the hits of one client hold one copy ([`crate::ClientMemory`]).
    pub(crate) user_agent: Option<Arc<SharedText>>,
    pub(crate) language: Option<Arc<SharedText>>,
    pub(crate) visitor_id: Option<VisitorId>,
    pub(crate) forced_visitor_id: Option<VisitorId>,
    pub(crate) new_visit: bool,
    pub(crate) performance: Performance,
    pub(crate) bot: bool,
    pub(crate) send_image: bool,
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) time: Option<u64>,
    /// Everything few hits carry (campaign, custom dimensions and variables, geo, ...).
    pub(crate) rare: RareBox,
}

/// Page performance timings in milliseconds (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`, `pf_dm2`, `pf_onl`).
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

/// Why a [`RequestBuilder`] refused to build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `idsite` was 0; Matomo's site ids start at 1.
    #[error("site id must be 1 or more")]
    ZeroSiteId,
    /// A required text was empty.
    #[error("`{0}` must not be empty")]
    Empty(&'static str),
    /// A number was negative, not finite or out of range.
    #[error("`{0}` must be a finite number in range (money is never negative)")]
    InvalidNumber(&'static str),
    /// A visitor id was not 16 hexadecimal digits.
    #[error("`{0}` must be exactly 16 hexadecimal digits")]
    InvalidVisitorId(&'static str),
    /// A parameter that Matomo only accepts with a `token_auth` was set without one.
    #[error(
        "`{0}` needs a token_auth: call `.token(&token)` on the builder or drop the parameter"
    )]
    NeedsToken(&'static str),
    /// An extra parameter used a name this type models; use the typed setter instead.
    #[error("parameter `{0}` is modelled: use its typed setter instead of `param`")]
    ReservedParameter(String),
    /// `page_view_id` must be 6 alphanumeric characters.
    #[error("`pv_id` must be 6 ASCII letters or digits")]
    InvalidPageViewId,
}

/// Builds a [`TrackingRequest`], checking it as a whole in [`RequestBuilder::build`].
///
/// ```
/// use matomo_core::{TokenAuth, TrackingRequest};
/// let token = TokenAuth::new("0123abcd").unwrap();
/// let hit = TrackingRequest::builder(3)
///     .url("https://example.org/")
///     .client_ip("203.0.113.9".parse().unwrap())
///     .token(&token)
///     .build()
///     .unwrap();
/// assert!(hit.to_query().contains("cip=203.0.113.9"));
/// // Without the token the same hit is refused:
/// let err = TrackingRequest::builder(3).client_ip("203.0.113.9".parse().unwrap()).build();
/// assert!(err.is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestBuilder {
    request: TrackingRequest,
    has_token: bool,
    error: Option<BuildError>,
}

impl TrackingRequest {
    /// Starts a page view for site `site_id`; the family setters turn it into another kind of hit.
    pub fn builder(site_id: u32) -> RequestBuilder {
        RequestBuilder {
            request: TrackingRequest::page_view(site_id),
            has_token: false,
            error: None,
        }
    }

    /// A page view for site `site_id` with nothing else set: what a builder starts from.
    pub(crate) fn page_view(site_id: u32) -> TrackingRequest {
        TrackingRequest {
            site_id,
            action: Action::PageView,
            texts: Texts::default(),
            user_agent: None,
            language: None,
            visitor_id: None,
            forced_visitor_id: None,
            new_visit: false,
            performance: Performance::default(),
            bot: false,
            send_image: false,
            client_ip: None,
            time: None,
            rare: RareBox::default(),
        }
    }

    /// What [`RequestBuilder::build`] checks once every parameter is set: `has_token` says whether
    /// the hit goes out with a token, which allows the token-only parameters.
    pub(crate) fn check(&self, has_token: bool) -> Result<(), BuildError> {
        validate(self)?;
        if !has_token {
            if let Some(name) = self.token_only_parameter(SystemTime::now()) {
                return Err(BuildError::NeedsToken(name));
            }
        }
        Ok(())
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
        self.texts.get(Text::Url)
    }
    /// `action_name`: the page title.
    pub fn action_name(&self) -> Option<&str> {
        self.texts.get(Text::ActionName)
    }
    /// `urlref`: the referrer.
    pub fn referrer(&self) -> Option<&str> {
        self.texts.get(Text::Referrer)
    }
    /// `ua`: the visitor's user agent.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref().map(SharedText::as_str)
    }
    /// `lang`: the visitor's `Accept-Language`.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref().map(SharedText::as_str)
    }
    /// `uid`: the application's user id.
    pub fn user_id(&self) -> Option<&str> {
        self.texts.get(Text::UserId)
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
        self.rare.get().page_view_id.as_deref()
    }
    /// `new_visit=1`: force a new visit.
    pub fn new_visit(&self) -> bool {
        self.new_visit
    }
    /// `res`: screen resolution as (width, height).
    pub fn resolution(&self) -> Option<(u32, u32)> {
        self.rare.get().resolution
    }
    /// `h`, `m`, `s`: the visitor's local time.
    pub fn local_time(&self) -> Option<(u8, u8, u8)> {
        self.rare.get().local_time
    }
    /// `cookie`: whether the visitor's browser accepts cookies.
    pub fn cookie_support(&self) -> Option<bool> {
        self.rare.get().cookie_support
    }
    /// `dimensionN`: custom dimensions by id.
    pub fn dimensions(&self) -> &BTreeMap<u32, String> {
        &self.rare.get().dimensions
    }
    /// `_cvar`: visit-scope custom variables by slot.
    pub fn visit_variables(&self) -> &BTreeMap<u32, (String, String)> {
        &self.rare.get().visit_variables
    }
    /// `cvar`: page-scope custom variables by slot.
    pub fn page_variables(&self) -> &BTreeMap<u32, (String, String)> {
        &self.rare.get().page_variables
    }
    /// `pf_*`: performance timings.
    pub fn performance(&self) -> &Performance {
        &self.performance
    }
    /// `_rcn`: campaign name.
    pub fn campaign_name(&self) -> Option<&str> {
        self.rare.get().campaign_name.as_deref()
    }
    /// `_rck`: campaign keyword.
    pub fn campaign_keyword(&self) -> Option<&str> {
        self.rare.get().campaign_keyword.as_deref()
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
        &self.rare.get().geo
    }
    /// Parameters this type does not model, in order.
    pub fn extra(&self) -> &[(String, String)] {
        &self.rare.get().extra
    }

    /// Whether this hit carries a parameter that Matomo only accepts with a token, given the time now.
    pub fn needs_token(&self, now: SystemTime) -> bool {
        self.token_only_parameter(now).is_some()
    }

    fn token_only_parameter(&self, now: SystemTime) -> Option<&'static str> {
        if self.client_ip.is_some() {
            return Some("cip");
        }
        if self.time.is_some_and(|time| cdt_needs_token(time, now)) {
            return Some("cdt");
        }
        // Most hits carry none of the rare parameters, geo among them.
        let geo = &self.rare.as_option()?.geo;
        [
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

macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $name(mut self, value: impl Into<String>) -> Self {
                self.request.texts.set(Text::$field, Some(&value.into()));
                self
            }
        )*
    };
}

impl RequestBuilder {
    text_setters! {
        /// `url`: the full URL of the page.
        url => Url;
        /// `action_name`: the page title.
        action_name => ActionName;
        /// `urlref`: the referrer.
        referrer => Referrer;
        /// `uid`: the application's user id.
        user_id => UserId;
    }

    /// `_rcn`: campaign name.
    #[inline]
    pub fn campaign_name(mut self, value: impl Into<String>) -> Self {
        self.request.rare.get_mut().campaign_name = Some(value.into());
        self
    }

    /// `_rck`: campaign keyword.
    #[inline]
    pub fn campaign_keyword(mut self, value: impl Into<String>) -> Self {
        self.request.rare.get_mut().campaign_keyword = Some(value.into());
        self
    }

    /// `ua`: the visitor's user agent.
    #[inline]
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.request.user_agent = Some(SharedText::new(value.into()));
        self
    }

    /// `lang`: the visitor's `Accept-Language` value.
    #[inline]
    pub fn language(mut self, value: impl Into<String>) -> Self {
        self.request.language = Some(SharedText::new(value.into()));
        self
    }

    /// Replaces the action with `action`.
    #[inline]
    pub fn action(mut self, action: Action) -> Self {
        self.request.action = action;
        self
    }

    /// Makes this an event.
    #[inline]
    pub fn event(self, event: Event) -> Self {
        self.action(Action::Event(event))
    }

    /// Makes this a site search.
    #[inline]
    pub fn site_search(self, search: SiteSearch) -> Self {
        self.action(Action::SiteSearch(search))
    }

    /// Makes this a goal conversion.
    #[inline]
    pub fn goal(self, goal: Goal) -> Self {
        self.action(Action::Goal(goal))
    }

    /// Makes this an ecommerce order.
    #[inline]
    pub fn ecommerce_order(self, order: EcommerceOrder) -> Self {
        self.action(Action::EcommerceOrder(order))
    }

    /// Makes this a cart update.
    #[inline]
    pub fn cart_update(self, cart: CartUpdate) -> Self {
        self.action(Action::CartUpdate(cart))
    }

    /// Makes this a product or category page view.
    #[inline]
    pub fn product_view(self, product: ProductView) -> Self {
        self.action(Action::ProductView(product))
    }

    /// Makes this a content impression.
    #[inline]
    pub fn content_impression(self, content: Content) -> Self {
        self.action(Action::ContentImpression(content))
    }

    /// Makes this a content interaction (`c_i`).
    #[inline]
    pub fn content_interaction(self, interaction: impl Into<String>, content: Content) -> Self {
        self.action(Action::ContentInteraction {
            interaction: interaction.into(),
            content,
        })
    }

    /// Makes this an outlink to `link`.
    #[inline]
    pub fn outlink(self, link: impl Into<String>) -> Self {
        self.action(Action::Outlink(link.into()))
    }

    /// Makes this a download of `link`.
    #[inline]
    pub fn download(self, link: impl Into<String>) -> Self {
        self.action(Action::Download(link.into()))
    }

    /// Makes this a ping.
    #[inline]
    pub fn ping(self) -> Self {
        self.action(Action::Ping)
    }

    /// `_id`: the visitor id read from the visitor's Matomo cookie.
    #[inline]
    pub fn visitor_id(mut self, id: VisitorId) -> Self {
        self.request.visitor_id = Some(id);
        self
    }

    /// `cid`: the visitor id Matomo must use (keeps visitors apart; see `MATOMO_ANSWERS.md`).
    #[inline]
    pub fn forced_visitor_id(mut self, id: VisitorId) -> Self {
        self.request.forced_visitor_id = Some(id);
        self
    }

    /// `pv_id`: six letters or digits tying this hit to a page view.
    #[inline]
    pub fn page_view_id(mut self, id: impl Into<String>) -> Self {
        self.request.rare.get_mut().page_view_id = Some(id.into());
        self
    }

    /// `new_visit=1`.
    #[inline]
    pub fn new_visit(mut self, new_visit: bool) -> Self {
        self.request.new_visit = new_visit;
        self
    }

    /// `res`: screen width and height.
    #[inline]
    pub fn resolution(mut self, width: u32, height: u32) -> Self {
        self.request.rare.get_mut().resolution = Some((width, height));
        self
    }

    /// `h`, `m`, `s`: the visitor's local time.
    #[inline]
    pub fn local_time(mut self, hour: u8, minute: u8, second: u8) -> Self {
        self.request.rare.get_mut().local_time = Some((hour, minute, second));
        self
    }

    /// `cookie`: whether the browser accepts cookies.
    #[inline]
    pub fn cookie_support(mut self, supported: bool) -> Self {
        self.request.rare.get_mut().cookie_support = Some(supported);
        self
    }

    /// `dimensionN`: a custom dimension.
    #[inline]
    pub fn dimension(mut self, id: u32, value: impl Into<String>) -> Self {
        self.request
            .rare
            .get_mut()
            .dimensions
            .insert(id, value.into());
        self
    }

    /// `_cvar`: a visit-scope custom variable in `slot`.
    pub fn visit_variable(
        mut self,
        slot: u32,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.request
            .rare
            .get_mut()
            .visit_variables
            .insert(slot, (name.into(), value.into()));
        self
    }

    /// `cvar`: a page-scope custom variable in `slot`.
    pub fn page_variable(
        mut self,
        slot: u32,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.request
            .rare
            .get_mut()
            .page_variables
            .insert(slot, (name.into(), value.into()));
        self
    }

    /// `pf_*`: performance timings.
    #[inline]
    pub fn performance(mut self, performance: Performance) -> Self {
        self.request.performance = performance;
        self
    }

    /// `pf_srv`: how long the server took, in milliseconds.
    #[inline]
    pub fn server_time(mut self, duration: Duration) -> Self {
        self.request.performance.server = Some(millis(duration));
        self
    }

    /// `bots=1`: record the hit even though it comes from a bot.
    #[inline]
    pub fn bot(mut self, bot: bool) -> Self {
        self.request.bot = bot;
        self
    }

    /// Ask Matomo for its 43-byte GIF instead of a 204 (off by default: `send_image=0`).
    #[inline]
    pub fn send_image(mut self, send_image: bool) -> Self {
        self.request.send_image = send_image;
        self
    }

    /// `cip`: the visitor's IP address. Needs [`RequestBuilder::token`].
    #[inline]
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.request.client_ip = Some(ip);
        self
    }

    /// `cdt`: when the hit happened. Older than 24 hours needs [`RequestBuilder::token`].
    #[inline]
    pub fn time(mut self, time: SystemTime) -> Self {
        self.request.time = Some(unix_seconds(time));
        self
    }

    /// `country`, `region`, `city`, `lat`, `long`. Needs [`RequestBuilder::token`].
    #[inline]
    pub fn geo(mut self, geo: Geo) -> Self {
        self.request.rare.get_mut().geo = geo;
        self
    }

    /// The request being built, for filling many fields in place (the adapters' hot path): the
    /// checks still run in [`RequestBuilder::build`].
    pub(crate) fn request_mut(&mut self) -> &mut TrackingRequest {
        &mut self.request
    }

    /// [`RequestBuilder::token`] in place.
    pub(crate) fn attest_token(&mut self) {
        self.has_token = true;
    }

    /// Attests that the hit will be sent with this token, which allows the token-only parameters.
    /// The token itself stays with the transport.
    #[inline]
    pub fn token(mut self, _token: &TokenAuth) -> Self {
        self.attest_token();
        self
    }

    /// A parameter this type does not model (e.g. a plugin's). Modelled names are refused.
    #[inline]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if codec::is_modelled(&name) {
            self.error
                .get_or_insert(BuildError::ReservedParameter(name));
        } else {
            self.request.rare.get_mut().extra.push((name, value.into()));
        }
        self
    }

    /// Checks the request as a whole and returns it.
    pub fn build(self) -> Result<TrackingRequest, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        // Checked where it is, then moved once: a request is a few hundred bytes.
        self.request.check(self.has_token)?;
        Ok(self.request)
    }
}

/// `duration` in whole milliseconds, at most `u32::MAX` (about 50 days).
#[inline]
pub(crate) fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// Whether a hit recorded at `cdt` (seconds since the Unix epoch) is too old, at `now`, for Matomo
/// to take without a token.
#[inline]
pub(crate) fn cdt_needs_token(cdt: u64, now: SystemTime) -> bool {
    // Older than the limit: `now`, in whole seconds, is past `cdt` plus the limit. Said as a
    // comparison of times, which costs less than turning `now` into seconds.
    let limit = cdt.saturating_add(CDT_WITHOUT_TOKEN_MAX_AGE.as_secs() + 1);
    UNIX_EPOCH
        .checked_add(Duration::from_secs(limit))
        .is_some_and(|limit| now >= limit)
}

/// Checks everything but the token rules; shared by the builder and the decoder.
pub(crate) fn validate(request: &TrackingRequest) -> Result<(), BuildError> {
    if request.site_id == 0 {
        return Err(BuildError::ZeroSiteId);
    }
    let rare = request.rare.get();
    if let Some(id) = &rare.page_view_id {
        if id.len() != 6 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BuildError::InvalidPageViewId);
        }
    }
    let geo = &rare.geo;
    check_number("lat", geo.latitude, -90.0, 90.0)?;
    check_number("long", geo.longitude, -180.0, 180.0)?;
    match &request.action {
        Action::PageView | Action::Ping => {}
        Action::Event(event) => {
            non_empty("e_c", &event.category)?;
            non_empty("e_a", &event.action)?;
            check_number("e_v", event.value, f64::MIN, f64::MAX)?;
        }
        Action::SiteSearch(search) => non_empty("search", &search.keyword)?,
        Action::Goal(goal) => {
            if goal.id == 0 {
                return Err(BuildError::InvalidNumber("idgoal"));
            }
            money("revenue", goal.revenue)?;
        }
        Action::EcommerceOrder(order) => {
            non_empty("ec_id", &order.order_id)?;
            money("revenue", Some(order.grand_total))?;
            money("ec_st", order.subtotal)?;
            money("ec_tx", order.tax)?;
            money("ec_sh", order.shipping)?;
            money("ec_dt", order.discount)?;
            items(&order.items)?;
        }
        Action::CartUpdate(cart) => {
            money("revenue", Some(cart.grand_total))?;
            items(&cart.items)?;
        }
        Action::ProductView(product) => {
            if product.sku.is_none() && product.name.is_none() && product.category.is_none() {
                return Err(BuildError::Empty("_pks"));
            }
            money("_pkp", product.price)?;
        }
        Action::ContentImpression(content) => non_empty("c_n", &content.name)?,
        Action::ContentInteraction {
            interaction,
            content,
        } => {
            non_empty("c_i", interaction)?;
            non_empty("c_n", &content.name)?;
        }
        Action::Outlink(link) => non_empty("link", link)?,
        Action::Download(link) => non_empty("download", link)?,
    }
    Ok(())
}

fn non_empty(name: &'static str, value: &str) -> Result<(), BuildError> {
    if value.trim().is_empty() {
        Err(BuildError::Empty(name))
    } else {
        Ok(())
    }
}

fn check_number(
    name: &'static str,
    value: Option<f64>,
    min: f64,
    max: f64,
) -> Result<(), BuildError> {
    match value {
        Some(v) if !v.is_finite() || v < min || v > max => Err(BuildError::InvalidNumber(name)),
        _ => Ok(()),
    }
}

fn money(name: &'static str, value: Option<f64>) -> Result<(), BuildError> {
    check_number(name, value, 0.0, f64::MAX)
}

fn items(items: &[EcommerceItem]) -> Result<(), BuildError> {
    items.iter().try_for_each(|item| {
        non_empty("ec_items sku", &item.sku)?;
        money("ec_items price", Some(item.price))
    })
}
