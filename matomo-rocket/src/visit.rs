//! The `Visit` request guard: what a handler adds to the tracking of its request.

use matomo_core::{
    Action, CartUpdate, EcommerceOrder, Event, Extras, Goal, ProductView, SiteSearch,
};
use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use std::sync::{Mutex, MutexGuard};

/// Everything the fairing keeps per request, in one entry of Rocket's request-local cache: when
/// the request started, and what handlers added through [`Visit`].
#[derive(Debug)]
pub(crate) struct VisitState {
    pub started: std::time::Instant,
    data: Mutex<VisitData>,
}

impl Default for VisitState {
    fn default() -> Self {
        Self {
            started: std::time::Instant::now(),
            data: Mutex::default(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct VisitData {
    pub user_id: Option<String>,
    pub action_name: Option<String>,
    pub extras: Extras,
    pub skip: bool,
}

impl VisitState {
    pub(crate) fn lock(&self) -> MutexGuard<'_, VisitData> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request guard for the current visitor: set the user id and the page view's action name, add
/// custom dimensions, and send events, goals, site searches and ecommerce hits that share the page
/// view's visitor id, IP handling and privacy rules. Everything is sent when the response leaves;
/// when the request is not tracked (ignored path, Do-Not-Track, ...), nothing is.
///
/// ```no_run
/// # #[macro_use] extern crate rocket;
/// use matomo_rocket::Visit;
/// use matomo_rocket::core::Event;
///
/// #[post("/cart/<sku>")]
/// fn add_to_cart(sku: &str, visit: Visit<'_>) -> &'static str {
///     visit.user_id("customer-42");
///     visit.dimension(1, "premium");
///     visit.event(Event::new("Cart", "Add").name(sku));
///     "added"
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Visit<'r> {
    state: &'r VisitState,
}

impl Visit<'_> {
    /// Sets `uid`, the application's user id, for this request's hits.
    pub fn user_id(&self, user_id: impl Into<String>) {
        self.state.lock().user_id = Some(user_id.into());
    }

    /// Sets the page view's action name (otherwise the HTML title, the route name or the path).
    pub fn action_name(&self, name: impl Into<String>) {
        self.state.lock().action_name = Some(name.into());
    }

    /// Adds a custom dimension to this request's hits.
    pub fn dimension(&self, id: u32, value: impl Into<String>) {
        self.state.lock().extras.dimensions.insert(id, value.into());
    }

    /// Sends one more hit of any kind for this visitor.
    pub fn track(&self, action: impl Into<Action>) {
        self.state.lock().extras.actions.push(action.into());
    }

    /// Sends an event.
    pub fn event(&self, event: Event) {
        self.track(event);
    }

    /// Sends a goal conversion.
    pub fn goal(&self, goal: Goal) {
        self.track(goal);
    }

    /// Sends a site search.
    pub fn site_search(&self, search: SiteSearch) {
        self.track(search);
    }

    /// Sends an ecommerce order.
    pub fn ecommerce_order(&self, order: EcommerceOrder) {
        self.track(order);
    }

    /// Sends a cart update.
    pub fn cart_update(&self, cart: CartUpdate) {
        self.track(cart);
    }

    /// Sends a product view.
    pub fn product_view(&self, product: ProductView) {
        self.track(product);
    }

    /// Sends the added hits without this request's page view.
    pub fn skip_page_view(&self) {
        self.state.lock().extras.skip_page_view = true;
    }

    /// Tracks nothing for this request.
    pub fn do_not_track(&self) {
        self.state.lock().skip = true;
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visit<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Visit {
            state: req.local_cache(VisitState::default),
        })
    }
}
