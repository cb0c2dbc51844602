//! The wire form of a [`TrackingRequest`]: the query string Matomo reads.
//!
//! Every byte of a value that is not plain in a query string is percent-encoded: controls, space,
//! non-ASCII, the query's own delimiters (`&`, `=`, `+`, `#`, `%`) and what RFC 3986 does not allow
//! unescaped in a query (`"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, `[`, `]`). So CR, LF and
//! other control characters never reach a request line or a header, and the query is also a valid
//! JSON string as it stands; `/`, `:`, `?` and the like stay readable.

use super::{Action, Content, EcommerceItem, TrackingRequest};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::{Display, Write};

/// The bytes percent-encoded in a Tracking API value (non-ASCII always is).
const VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The query under construction.
struct Query(String);

impl Query {
    /// `&name=value`, the value percent-encoded; `name` is one of the API's own (plain ASCII).
    fn param(&mut self, name: &str, value: &str) {
        self.0.push('&');
        self.0.push_str(name);
        self.0.push('=');
        self.0.extend(utf8_percent_encode(value, VALUE));
    }

    fn opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.param(name, value);
        }
    }

    /// `&name=value` for a value whose text holds nothing to encode: a number, an IP address, a
    /// visitor id (digits, `.`, `:`, `-`, letters).
    fn plain(&mut self, name: &str, value: Option<impl Display>) {
        if let Some(value) = value {
            self.0.push('&');
            self.0.push_str(name);
            self.0.push('=');
            // Writing to a `String` cannot fail.
            let _ = write!(self.0, "{value}");
        }
    }

    fn flag(&mut self, name: &str, on: bool) {
        if on {
            self.plain(name, Some(1));
        }
    }
}

impl TrackingRequest {
    /// The query string Matomo reads (without a leading `?`), e.g. `idsite=1&rec=1&apiv=1&url=...`.
    pub fn to_query(&self) -> String {
        let texts = [
            &self.url,
            &self.action_name,
            &self.referrer,
            &self.user_agent,
        ]
        .iter()
        .filter_map(|text| text.as_deref())
        .map(str::len)
        .sum::<usize>();
        // Room for the texts, a few escapes and the other parameters, so it is written without
        // growing.
        let mut q = Query(String::with_capacity(256 + texts + texts / 4));
        let _ = write!(q.0, "idsite={}&rec=1&apiv=1", self.site_id);
        q.opt("url", self.url.as_deref());
        q.opt("action_name", self.action_name.as_deref());
        q.opt("urlref", self.referrer.as_deref());
        encode_action(&mut q, &self.action);
        q.opt("uid", self.user_id.as_deref());
        q.plain("_id", self.visitor_id);
        q.plain("cid", self.forced_visitor_id);
        q.opt("pv_id", self.page_view_id.as_deref());
        q.flag("new_visit", self.new_visit);
        q.plain("res", self.resolution.map(|(w, h)| format!("{w}x{h}")));
        if let Some((h, m, s)) = self.local_time {
            q.plain("h", Some(h));
            q.plain("m", Some(m));
            q.plain("s", Some(s));
        }
        q.plain("cookie", self.cookie_support.map(u8::from));
        q.opt("ua", self.user_agent.as_deref());
        q.opt("lang", self.language.as_deref());
        for (id, value) in &self.dimensions {
            let _ = write!(q.0, "&dimension{id}=");
            q.0.extend(utf8_percent_encode(value, VALUE));
        }
        if !self.visit_variables.is_empty() {
            q.param("_cvar", &variables_json(&self.visit_variables));
        }
        if !self.page_variables.is_empty() {
            q.param("cvar", &variables_json(&self.page_variables));
        }
        let pf = &self.performance;
        q.plain("pf_net", pf.network);
        q.plain("pf_srv", pf.server);
        q.plain("pf_tfr", pf.transfer);
        q.plain("pf_dm1", pf.dom_processing);
        q.plain("pf_dm2", pf.dom_completion);
        q.plain("pf_onl", pf.on_load);
        q.opt("_rcn", self.campaign_name.as_deref());
        q.opt("_rck", self.campaign_keyword.as_deref());
        q.flag("bots", self.bot);
        q.plain("cip", self.client_ip);
        q.plain("cdt", self.time);
        let geo = &self.geo;
        q.opt("country", geo.country.as_deref());
        q.opt("region", geo.region.as_deref());
        q.opt("city", geo.city.as_deref());
        q.plain("lat", geo.latitude);
        q.plain("long", geo.longitude);
        for (name, value) in &self.extra {
            // A name from outside: encoded like a value.
            q.0.push('&');
            q.0.extend(utf8_percent_encode(name, VALUE));
            q.0.push('=');
            q.0.extend(utf8_percent_encode(value, VALUE));
        }
        if !self.send_image {
            q.0.push_str("&send_image=0");
        }
        q.0
    }
}

fn encode_action(q: &mut Query, action: &Action) {
    match action {
        Action::PageView => {}
        Action::Event(event) => {
            q.param("e_c", &event.category);
            q.param("e_a", &event.action);
            q.opt("e_n", event.name.as_deref());
            q.plain("e_v", event.value);
            q.flag("ca", true);
        }
        Action::SiteSearch(search) => {
            q.param("search", &search.keyword);
            q.opt("search_cat", search.category.as_deref());
            q.plain("search_count", search.count);
        }
        Action::Goal(goal) => {
            q.plain("idgoal", Some(goal.id));
            q.plain("revenue", goal.revenue);
        }
        Action::EcommerceOrder(order) => {
            q.plain("idgoal", Some(0));
            q.param("ec_id", &order.order_id);
            q.plain("revenue", Some(order.grand_total));
            q.plain("ec_st", order.subtotal);
            q.plain("ec_tx", order.tax);
            q.plain("ec_sh", order.shipping);
            q.plain("ec_dt", order.discount);
            if !order.items.is_empty() {
                q.param("ec_items", &items_json(&order.items));
            }
        }
        Action::CartUpdate(cart) => {
            q.plain("idgoal", Some(0));
            q.plain("revenue", Some(cart.grand_total));
            if !cart.items.is_empty() {
                q.param("ec_items", &items_json(&cart.items));
            }
        }
        Action::ProductView(product) => {
            q.opt("_pks", product.sku.as_deref());
            q.opt("_pkn", product.name.as_deref());
            q.opt("_pkc", product.category.as_deref());
            q.plain("_pkp", product.price);
        }
        Action::ContentImpression(content) => {
            encode_content(q, content);
            q.flag("ca", true);
        }
        Action::ContentInteraction {
            interaction,
            content,
        } => {
            q.param("c_i", interaction);
            encode_content(q, content);
            q.flag("ca", true);
        }
        Action::Outlink(link) => q.param("link", link),
        Action::Download(link) => q.param("download", link),
        Action::Ping => q.flag("ping", true),
    }
}

fn encode_content(q: &mut Query, content: &Content) {
    q.param("c_n", &content.name);
    q.opt("c_p", content.piece.as_deref());
    q.opt("c_t", content.target.as_deref());
}

/// `ec_items`: a JSON array of `[sku, name, categories, price, quantity]`, as matomo.js sends it.
fn items_json(items: &[EcommerceItem]) -> String {
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            serde_json::json!([
                item.sku,
                item.name,
                item.categories,
                item.price.to_string(),
                item.quantity
            ])
        })
        .collect();
    Value::Array(rows).to_string()
}

/// `_cvar` and `cvar`: `{"1": ["name", "value"], ...}`.
fn variables_json(variables: &BTreeMap<u32, (String, String)>) -> String {
    let map: serde_json::Map<String, Value> = variables
        .iter()
        .map(|(slot, (name, value))| (slot.to_string(), serde_json::json!([name, value])))
        .collect();
    Value::Object(map).to_string()
}
