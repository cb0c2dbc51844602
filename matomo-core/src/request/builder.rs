//! [`RequestBuilder`]: builds a [`TrackingRequest`] and checks it as a whole.

use super::{
    is_modelled, millis, Action, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Geo,
    Goal, Performance, ProductView, SiteSearch, TrackingRequest,
};
use crate::secret::TokenAuth;
use crate::unix_time::unix_seconds;
use crate::visitor::VisitorId;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

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
        "`{0}` needs a token_auth (of a user with write access to the site): send the hit with a token, or leave `{0}` out"
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

impl RequestBuilder {
    pub(super) fn new(request: TrackingRequest) -> Self {
        Self::for_hit(request, false)
    }

    /// A builder holding `request`, which goes out with a token when `has_token`.
    pub(crate) fn for_hit(request: TrackingRequest, has_token: bool) -> Self {
        Self {
            request,
            has_token,
            error: None,
        }
    }

    /// `url`: the full URL of the page.
    pub fn url(mut self, value: impl Into<String>) -> Self {
        self.request.url = Some(value.into());
        self
    }

    /// `action_name`: the page title.
    pub fn action_name(mut self, value: impl Into<String>) -> Self {
        self.request.action_name = Some(value.into());
        self
    }

    /// `urlref`: the referrer.
    pub fn referrer(mut self, value: impl Into<String>) -> Self {
        self.request.referrer = Some(value.into());
        self
    }

    /// `uid`: the application's user id.
    pub fn user_id(mut self, value: impl Into<String>) -> Self {
        self.request.user_id = Some(value.into());
        self
    }

    /// `_rcn`: campaign name.
    pub fn campaign_name(mut self, value: impl Into<String>) -> Self {
        self.request.campaign_name = Some(value.into());
        self
    }

    /// `_rck`: campaign keyword.
    pub fn campaign_keyword(mut self, value: impl Into<String>) -> Self {
        self.request.campaign_keyword = Some(value.into());
        self
    }

    /// `ua`: the visitor's user agent.
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.request.user_agent = Some(value.into());
        self
    }

    /// `lang`: the visitor's `Accept-Language` value.
    pub fn language(mut self, value: impl Into<String>) -> Self {
        self.request.language = Some(value.into());
        self
    }

    /// Replaces the action with `action`.
    pub fn action(mut self, action: Action) -> Self {
        self.request.action = action;
        self
    }

    /// Makes this an event.
    pub fn event(self, event: Event) -> Self {
        self.action(Action::Event(event))
    }

    /// Makes this a site search.
    pub fn site_search(self, search: SiteSearch) -> Self {
        self.action(Action::SiteSearch(search))
    }

    /// Makes this a goal conversion.
    pub fn goal(self, goal: Goal) -> Self {
        self.action(Action::Goal(goal))
    }

    /// Makes this an ecommerce order.
    pub fn ecommerce_order(self, order: EcommerceOrder) -> Self {
        self.action(Action::EcommerceOrder(order))
    }

    /// Makes this a cart update.
    pub fn cart_update(self, cart: CartUpdate) -> Self {
        self.action(Action::CartUpdate(cart))
    }

    /// Makes this a product or category page view.
    pub fn product_view(self, product: ProductView) -> Self {
        self.action(Action::ProductView(product))
    }

    /// Makes this a content impression.
    pub fn content_impression(self, content: Content) -> Self {
        self.action(Action::ContentImpression(content))
    }

    /// Makes this a content interaction (`c_i`).
    pub fn content_interaction(self, interaction: impl Into<String>, content: Content) -> Self {
        self.action(Action::ContentInteraction {
            interaction: interaction.into(),
            content,
        })
    }

    /// Makes this an outlink to `link`.
    pub fn outlink(self, link: impl Into<String>) -> Self {
        self.action(Action::Outlink(link.into()))
    }

    /// Makes this a download of `link`.
    pub fn download(self, link: impl Into<String>) -> Self {
        self.action(Action::Download(link.into()))
    }

    /// Makes this a ping.
    pub fn ping(self) -> Self {
        self.action(Action::Ping)
    }

    /// `_id`: the visitor id read from the visitor's Matomo cookie.
    pub fn visitor_id(mut self, id: VisitorId) -> Self {
        self.request.visitor_id = Some(id);
        self
    }

    /// `cid`: the visitor id Matomo must use (keeps apart visitors who share a browser: without `cip`, Matomo sees only the server's IP address).
    pub fn forced_visitor_id(mut self, id: VisitorId) -> Self {
        self.request.forced_visitor_id = Some(id);
        self
    }

    /// `pv_id`: six letters or digits tying this hit to a page view.
    pub fn page_view_id(mut self, id: impl Into<String>) -> Self {
        self.request.page_view_id = Some(id.into());
        self
    }

    /// `new_visit=1`.
    pub fn new_visit(mut self, new_visit: bool) -> Self {
        self.request.new_visit = new_visit;
        self
    }

    /// `res`: screen width and height.
    pub fn resolution(mut self, width: u32, height: u32) -> Self {
        self.request.resolution = Some((width, height));
        self
    }

    /// `h`, `m`, `s`: the visitor's local time.
    pub fn local_time(mut self, hour: u8, minute: u8, second: u8) -> Self {
        self.request.local_time = Some((hour, minute, second));
        self
    }

    /// `cookie`: whether the browser accepts cookies.
    pub fn cookie_support(mut self, supported: bool) -> Self {
        self.request.cookie_support = Some(supported);
        self
    }

    /// `dimensionN`: a custom dimension.
    pub fn dimension(mut self, id: u32, value: impl Into<String>) -> Self {
        self.request.dimensions.insert(id, value.into());
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
            .page_variables
            .insert(slot, (name.into(), value.into()));
        self
    }

    /// `pf_*`: performance timings.
    pub fn performance(mut self, performance: Performance) -> Self {
        self.request.performance = performance;
        self
    }

    /// `pf_srv`: how long the server took, in milliseconds.
    pub fn server_time(mut self, duration: Duration) -> Self {
        self.request.performance.server = Some(millis(duration));
        self
    }

    /// `bots=1`: record the hit even though it comes from a bot.
    pub fn bot(mut self, bot: bool) -> Self {
        self.request.bot = bot;
        self
    }

    /// Ask Matomo for its 43-byte GIF instead of a 204 (off by default: `send_image=0`).
    pub fn send_image(mut self, send_image: bool) -> Self {
        self.request.send_image = send_image;
        self
    }

    /// `cip`: the visitor's IP address. Needs [`RequestBuilder::token`].
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.request.client_ip = Some(ip);
        self
    }

    /// `cdt`: when the hit happened. Older than 24 hours needs [`RequestBuilder::token`].
    pub fn time(mut self, time: SystemTime) -> Self {
        self.request.time = Some(unix_seconds(time));
        self
    }

    /// `country`, `region`, `city`, `lat`, `long`. Needs [`RequestBuilder::token`].
    pub fn geo(mut self, geo: Geo) -> Self {
        self.request.geo = geo;
        self
    }

    /// Attests that the hit will be sent with this token, which allows the token-only parameters.
    /// The token itself stays with the transport.
    pub fn token(mut self, _token: &TokenAuth) -> Self {
        self.has_token = true;
        self
    }

    /// A parameter this type does not model (e.g. a plugin's). Modelled names are refused.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if is_modelled(&name) {
            self.error
                .get_or_insert(BuildError::ReservedParameter(name));
        } else {
            self.request.extra.push((name, value.into()));
        }
        self
    }

    /// Checks the request as a whole and returns it.
    pub fn build(self) -> Result<TrackingRequest, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.request.check(self.has_token)?;
        Ok(self.request)
    }
}

/// Checks everything but the token rules; shared by the builder and the decoder.
pub(super) fn validate(request: &TrackingRequest) -> Result<(), BuildError> {
    if request.site_id == 0 {
        return Err(BuildError::ZeroSiteId);
    }
    if let Some(id) = &request.page_view_id {
        if id.len() != 6 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BuildError::InvalidPageViewId);
        }
    }
    let geo = &request.geo;
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
