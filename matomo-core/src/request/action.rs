//! What a hit records: a page view, an event, a site search, a goal, an ecommerce interaction, a
//! content interaction, an outlink or download, or a ping. One type per Tracking API family.

/// The kind of interaction a [`TrackingRequest`](super::TrackingRequest) records.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// A page view (no family parameters).
    PageView,
    /// An event: `e_c`, `e_a`, `e_n`, `e_v` (and `ca=1`).
    Event(Event),
    /// A site search: `search`, `search_cat`, `search_count`.
    SiteSearch(SiteSearch),
    /// A goal conversion: `idgoal`, `revenue`.
    Goal(Goal),
    /// An ecommerce order: `idgoal=0`, `ec_id`, `revenue`, `ec_st`, `ec_tx`, `ec_sh`, `ec_dt`, `ec_items`.
    EcommerceOrder(EcommerceOrder),
    /// A cart update: `idgoal=0`, `revenue`, `ec_items`.
    CartUpdate(CartUpdate),
    /// A product (or category) page view: `_pks`, `_pkn`, `_pkc`, `_pkp`.
    ProductView(ProductView),
    /// A content impression: `c_n`, `c_p`, `c_t` (and `ca=1`).
    ContentImpression(Content),
    /// A content interaction: `c_i` with `c_n`, `c_p`, `c_t` (and `ca=1`).
    ContentInteraction {
        /// What the visitor did (`c_i`), e.g. `click`.
        interaction: String,
        /// The content interacted with.
        content: Content,
    },
    /// A click on a link to another site: `link`.
    Outlink(String),
    /// A download: `download`.
    Download(String),
    /// A heartbeat that keeps the visit alive: `ping=1`.
    Ping,
}

/// An event (`e_c`, `e_a`, `e_n`, `e_v`). Category and action must not be empty.
///
/// ```
/// use matomo_core::Event;
/// let event = Event::new("Video", "Play").name("Intro").value(12.5);
/// assert_eq!(event.value, Some(12.5));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// `e_c`: the event category.
    pub category: String,
    /// `e_a`: the event action.
    pub action: String,
    /// `e_n`: the event name.
    pub name: Option<String>,
    /// `e_v`: a numeric value.
    pub value: Option<f64>,
}

impl Event {
    /// An event with this category and action.
    pub fn new(category: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            category: category.into(),
            action: action.into(),
            name: None,
            value: None,
        }
    }

    /// Sets `e_n`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `e_v` (finite).
    pub fn value(mut self, value: f64) -> Self {
        self.value = Some(value);
        self
    }
}

/// A site search (`search`, `search_cat`, `search_count`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SiteSearch {
    /// `search`: the keyword.
    pub keyword: String,
    /// `search_cat`: the search category.
    pub category: Option<String>,
    /// `search_count`: how many results were shown.
    pub count: Option<u64>,
}

impl SiteSearch {
    /// A search for this keyword.
    pub fn new(keyword: impl Into<String>) -> Self {
        Self {
            keyword: keyword.into(),
            category: None,
            count: None,
        }
    }

    /// Sets `search_cat`.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Sets `search_count`.
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }
}

/// A goal conversion (`idgoal`, `revenue`). The goal id must not be 0 (that is ecommerce).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Goal {
    /// `idgoal`.
    pub id: u32,
    /// `revenue`: non-negative and finite.
    pub revenue: Option<f64>,
}

impl Goal {
    /// A conversion of goal `id`.
    pub fn new(id: u32) -> Self {
        Self { id, revenue: None }
    }

    /// Sets `revenue`.
    pub fn revenue(mut self, revenue: f64) -> Self {
        self.revenue = Some(revenue);
        self
    }
}

/// One line of an order or cart, sent inside `ec_items` as `["SKU","name",["cat1","cat2"],"10.5",2]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EcommerceItem {
    /// Stock keeping unit; must not be empty.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Up to five categories.
    pub categories: Vec<String>,
    /// Unit price; non-negative and finite.
    pub price: f64,
    /// Quantity.
    pub quantity: u32,
}

impl EcommerceItem {
    /// An item with this SKU, name, price and quantity, and no category.
    pub fn new(sku: impl Into<String>, name: impl Into<String>, price: f64, quantity: u32) -> Self {
        Self {
            sku: sku.into(),
            name: name.into(),
            categories: Vec::new(),
            price,
            quantity,
        }
    }

    /// Adds a category (Matomo keeps up to five).
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.categories.push(category.into());
        self
    }
}

/// An ecommerce order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EcommerceOrder {
    /// `ec_id`: the unique order id; must not be empty.
    pub order_id: String,
    /// `revenue`: the grand total.
    pub grand_total: f64,
    /// `ec_st`: the sub total.
    pub subtotal: Option<f64>,
    /// `ec_tx`: tax.
    pub tax: Option<f64>,
    /// `ec_sh`: shipping.
    pub shipping: Option<f64>,
    /// `ec_dt`: discount.
    pub discount: Option<f64>,
    /// `ec_items`.
    pub items: Vec<EcommerceItem>,
}

impl EcommerceOrder {
    /// An order with this id and grand total.
    pub fn new(order_id: impl Into<String>, grand_total: f64) -> Self {
        Self {
            order_id: order_id.into(),
            grand_total,
            subtotal: None,
            tax: None,
            shipping: None,
            discount: None,
            items: Vec::new(),
        }
    }

    /// Sets `ec_st`.
    pub fn subtotal(mut self, value: f64) -> Self {
        self.subtotal = Some(value);
        self
    }

    /// Sets `ec_tx`.
    pub fn tax(mut self, value: f64) -> Self {
        self.tax = Some(value);
        self
    }

    /// Sets `ec_sh`.
    pub fn shipping(mut self, value: f64) -> Self {
        self.shipping = Some(value);
        self
    }

    /// Sets `ec_dt`.
    pub fn discount(mut self, value: f64) -> Self {
        self.discount = Some(value);
        self
    }

    /// Adds an item.
    pub fn item(mut self, item: EcommerceItem) -> Self {
        self.items.push(item);
        self
    }
}

/// A cart update: the cart's new total and content.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CartUpdate {
    /// `revenue`: the cart total.
    pub grand_total: f64,
    /// `ec_items`.
    pub items: Vec<EcommerceItem>,
}

impl CartUpdate {
    /// A cart worth `grand_total`.
    pub fn new(grand_total: f64) -> Self {
        Self {
            grand_total,
            items: Vec::new(),
        }
    }

    /// Adds an item.
    pub fn item(mut self, item: EcommerceItem) -> Self {
        self.items.push(item);
        self
    }
}

/// A product or category page view (`_pks`, `_pkn`, `_pkc`, `_pkp`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProductView {
    /// `_pks`: the SKU.
    pub sku: Option<String>,
    /// `_pkn`: the product name.
    pub name: Option<String>,
    /// `_pkc`: the category.
    pub category: Option<String>,
    /// `_pkp`: the price.
    pub price: Option<f64>,
}

impl ProductView {
    /// A view of the product with this SKU and name.
    pub fn new(sku: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            sku: Some(sku.into()),
            name: Some(name.into()),
            category: None,
            price: None,
        }
    }

    /// A view of a category page.
    pub fn category_page(category: impl Into<String>) -> Self {
        Self {
            sku: None,
            name: None,
            category: Some(category.into()),
            price: None,
        }
    }

    /// Sets `_pkc`.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Sets `_pkp`.
    pub fn price(mut self, price: f64) -> Self {
        self.price = Some(price);
        self
    }
}

/// A piece of content (`c_n`, `c_p`, `c_t`). The name must not be empty.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Content {
    /// `c_n`: the content name.
    pub name: String,
    /// `c_p`: the content piece (an image path, a text).
    pub piece: Option<String>,
    /// `c_t`: where the content leads.
    pub target: Option<String>,
}

impl Content {
    /// Content with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            piece: None,
            target: None,
        }
    }

    /// Sets `c_p`.
    pub fn piece(mut self, piece: impl Into<String>) -> Self {
        self.piece = Some(piece.into());
        self
    }

    /// Sets `c_t`.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

macro_rules! into_action {
    ($($family:ident => $variant:ident),*) => {
        $(
            impl From<$family> for Action {
                fn from(value: $family) -> Self {
                    Action::$variant(value)
                }
            }
        )*
    };
}

into_action!(
    Event => Event,
    SiteSearch => SiteSearch,
    Goal => Goal,
    EcommerceOrder => EcommerceOrder,
    CartUpdate => CartUpdate,
    ProductView => ProductView
);
