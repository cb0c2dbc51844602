//! Reading a hit back from the query string (or form body) Matomo receives.
//!
//! Decoding accepts any `application/x-www-form-urlencoded` form (`+` for a space included), as
//! Matomo's PHP reads it: a repeated parameter's last value counts. Unknown parameters are kept, in
//! order, as [`TrackingRequest::extra`]; `token_auth` is dropped.

use super::builder::validate;
use super::{
    Action, BuildError, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Geo, Goal,
    Performance, ProductView, SiteSearch, TrackingRequest,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Why a query string is not a valid Matomo hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A parameter every hit needs is absent.
    #[error("parameter `{0}` is missing")]
    Missing(&'static str),
    /// A parameter holds a value of the wrong form.
    #[error("parameter `{name}` is not {expected}")]
    Invalid {
        /// The parameter's name.
        name: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// The parameters are well-formed but do not make a valid hit.
    #[error(transparent)]
    Rejected(#[from] BuildError),
}

/// The parameters [`TrackingRequest`] models (and the token, which is never one of its parameters),
/// besides `dimensionN`. The decoder reads each of them; a test checks that none is left unread.
#[rustfmt::skip]
const MODELLED: &[&str] = &[
    "idsite", "rec", "apiv", "url", "action_name", "urlref", "ua", "lang", "uid", "_id", "cid",
    "pv_id", "new_visit", "res", "h", "m", "s", "cookie", "_cvar", "cvar", "pf_net", "pf_srv",
    "pf_tfr", "pf_dm1", "pf_dm2", "pf_onl", "_rcn", "_rck", "bots", "send_image", "cip", "cdt",
    "country", "region", "city", "lat", "long", "e_c", "e_a", "e_n", "e_v", "ca", "search",
    "search_cat", "search_count", "idgoal", "revenue", "ec_id", "ec_st", "ec_tx", "ec_sh", "ec_dt",
    "ec_items", "_pks", "_pkn", "_pkc", "_pkp", "c_n", "c_p", "c_t", "c_i", "link", "download",
    "ping", "token_auth",
];

/// Whether `name` is a parameter [`TrackingRequest`] models (or the token).
pub(crate) fn is_modelled(name: &str) -> bool {
    MODELLED.contains(&name) || dimension_id(name).is_some()
}

/// The id of a `dimensionN` parameter.
fn dimension_id(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("dimension")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl TrackingRequest {
    /// Decodes a query string (a leading `?` is allowed), the inverse of [`TrackingRequest::to_query`].
    ///
    /// Unknown parameters are kept in order as [`TrackingRequest::extra`]; `token_auth` is dropped.
    /// `rec` is not checked here: a hit without `rec=1` decodes, and Matomo would not record it.
    ///
    /// ```
    /// use matomo_core::TrackingRequest;
    /// let hit = TrackingRequest::from_query("?idsite=7&rec=1&url=https%3A%2F%2Fa.example%2F").unwrap();
    /// assert_eq!(hit.site_id(), 7);
    /// assert_eq!(hit.url(), Some("https://a.example/"));
    /// assert!(TrackingRequest::from_query("rec=1").is_err());
    /// ```
    pub fn from_query(query: &str) -> Result<Self, DecodeError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        Self::from_params(form_urlencoded::parse(query.as_bytes()))
    }

    /// Decodes already split parameters (e.g. a GET query merged with a POST form body).
    ///
    /// ```
    /// use matomo_core::TrackingRequest;
    /// let hit = TrackingRequest::from_params([("idsite", "2"), ("e_c", "Video"), ("e_a", "Play")]).unwrap();
    /// assert_eq!(hit.site_id(), 2);
    /// ```
    pub fn from_params<K, V>(params: impl IntoIterator<Item = (K, V)>) -> Result<Self, DecodeError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut fields = Fields::default();
        let mut dimensions = BTreeMap::new();
        let mut extra = Vec::new();
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref().to_owned());
            if let Some(known) = MODELLED.iter().find(|known| **known == name) {
                // A repeated parameter: the last one counts, as in PHP.
                fields.0.insert(known, value);
            } else if let Some(id) = dimension_id(name) {
                dimensions.insert(id, value);
            } else {
                extra.push((name.to_owned(), value));
            }
        }
        fields.decode(dimensions, extra)
    }
}

/// The modelled parameters of one hit, by name; each is taken out as it is read.
#[derive(Default)]
struct Fields(HashMap<&'static str, String>);

impl Fields {
    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The value of `name` parsed, without surrounding blanks.
    fn parse<T: std::str::FromStr>(
        &mut self,
        name: &str,
        expected: &'static str,
    ) -> Result<Option<T>, DecodeError> {
        self.take(name)
            .map(|raw| raw.trim().parse().map_err(|_| invalid(name, expected)))
            .transpose()
    }

    /// A `0`/`1` (or `false`/`true`) flag; empty reads as `0`.
    fn flag(&mut self, name: &str) -> Result<Option<bool>, DecodeError> {
        self.take(name)
            .map(|raw| match raw.trim() {
                "1" | "true" => Ok(true),
                "0" | "false" | "" => Ok(false),
                _ => Err(invalid(name, "0 or 1")),
            })
            .transpose()
    }

    fn decode(
        mut self,
        dimensions: BTreeMap<u32, String>,
        mut extra: Vec<(String, String)>,
    ) -> Result<TrackingRequest, DecodeError> {
        let site_id = self
            .parse::<u32>("idsite", "a site id (a whole number)")?
            .ok_or(DecodeError::Missing("idsite"))?;
        for ignored in ["rec", "apiv", "ca", "token_auth"] {
            self.take(ignored);
        }
        let action = self.action()?;
        // Read in the order of the wire form, so the first invalid parameter is the one reported.
        let request = TrackingRequest {
            site_id,
            action,
            url: self.take("url"),
            action_name: self.take("action_name"),
            referrer: self.take("urlref"),
            user_id: self.take("uid"),
            visitor_id: self.parse("_id", "16 hexadecimal digits")?,
            forced_visitor_id: self.parse("cid", "16 hexadecimal digits")?,
            page_view_id: self.take("pv_id"),
            new_visit: self.flag("new_visit")?.unwrap_or(false),
            resolution: self.resolution()?,
            local_time: self.local_time()?,
            cookie_support: self.flag("cookie")?,
            user_agent: self.take("ua"),
            language: self.take("lang"),
            dimensions,
            visit_variables: self.variables("_cvar")?,
            page_variables: self.variables("cvar")?,
            performance: Performance {
                network: self.parse("pf_net", "milliseconds")?,
                server: self.parse("pf_srv", "milliseconds")?,
                transfer: self.parse("pf_tfr", "milliseconds")?,
                dom_processing: self.parse("pf_dm1", "milliseconds")?,
                dom_completion: self.parse("pf_dm2", "milliseconds")?,
                on_load: self.parse("pf_onl", "milliseconds")?,
            },
            campaign_name: self.take("_rcn"),
            campaign_keyword: self.take("_rck"),
            bot: self.flag("bots")?.unwrap_or(false),
            send_image: self.flag("send_image")?.unwrap_or(true),
            client_ip: self.parse("cip", "an IP address")?,
            time: self.timestamp()?,
            geo: Geo {
                country: self.take("country"),
                region: self.take("region"),
                city: self.take("city"),
                latitude: self.parse("lat", "a latitude")?,
                longitude: self.parse("long", "a longitude")?,
            },
            extra: Vec::new(),
        };
        // What is left belongs to another kind of hit than the one decoded (an `e_c` on a ping):
        // kept with the unknown parameters, in name order, rather than lost.
        let mut left: Vec<_> = self.0.into_iter().collect();
        left.sort();
        extra.extend(
            left.into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        let request = TrackingRequest { extra, ..request };
        validate(&request)?;
        Ok(request)
    }

    fn action(&mut self) -> Result<Action, DecodeError> {
        if self.flag("ping")? == Some(true) {
            return Ok(Action::Ping);
        }
        if self.has("e_c") || self.has("e_a") {
            return Ok(Action::Event(Event {
                category: self.take("e_c").unwrap_or_default(),
                action: self.take("e_a").unwrap_or_default(),
                name: self.take("e_n"),
                value: self.parse("e_v", "a number")?,
            }));
        }
        if let Some(keyword) = self.take("search") {
            return Ok(Action::SiteSearch(SiteSearch {
                keyword,
                category: self.take("search_cat"),
                count: self.parse("search_count", "a whole number")?,
            }));
        }
        if self.has("c_n") || self.has("c_i") {
            let interaction = self.take("c_i");
            let content = Content {
                name: self.take("c_n").unwrap_or_default(),
                piece: self.take("c_p"),
                target: self.take("c_t"),
            };
            return Ok(match interaction {
                Some(interaction) => Action::ContentInteraction {
                    interaction,
                    content,
                },
                None => Action::ContentImpression(content),
            });
        }
        if let Some(link) = self.take("link") {
            return Ok(Action::Outlink(link));
        }
        if let Some(link) = self.take("download") {
            return Ok(Action::Download(link));
        }
        if let Some(goal) = self.parse::<u32>("idgoal", "a goal id")? {
            let revenue = self.parse::<f64>("revenue", "a number")?;
            if goal != 0 {
                return Ok(Action::Goal(Goal { id: goal, revenue }));
            }
            let items = self.items()?;
            let grand_total = revenue.unwrap_or(0.0);
            return Ok(match self.take("ec_id") {
                Some(order_id) => Action::EcommerceOrder(EcommerceOrder {
                    order_id,
                    grand_total,
                    subtotal: self.parse("ec_st", "a number")?,
                    tax: self.parse("ec_tx", "a number")?,
                    shipping: self.parse("ec_sh", "a number")?,
                    discount: self.parse("ec_dt", "a number")?,
                    items,
                }),
                None => Action::CartUpdate(CartUpdate { grand_total, items }),
            });
        }
        if ["_pks", "_pkn", "_pkc", "_pkp"]
            .iter()
            .any(|name| self.has(name))
        {
            return Ok(Action::ProductView(ProductView {
                sku: self.take("_pks"),
                name: self.take("_pkn"),
                category: self.take("_pkc"),
                price: self.parse("_pkp", "a number")?,
            }));
        }
        Ok(Action::PageView)
    }

    fn resolution(&mut self) -> Result<Option<(u32, u32)>, DecodeError> {
        let Some(raw) = self.take("res") else {
            return Ok(None);
        };
        let parsed = raw
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
        parsed
            .map(Some)
            .ok_or_else(|| invalid("res", "WIDTHxHEIGHT"))
    }

    fn local_time(&mut self) -> Result<Option<(u8, u8, u8)>, DecodeError> {
        let hour = self.parse::<u8>("h", "an hour")?;
        let minute = self.parse::<u8>("m", "a minute")?;
        let second = self.parse::<u8>("s", "a second")?;
        Ok(match (hour, minute, second) {
            (None, None, None) => None,
            (h, m, s) => Some((h.unwrap_or(0), m.unwrap_or(0), s.unwrap_or(0))),
        })
    }

    fn timestamp(&mut self) -> Result<Option<u64>, DecodeError> {
        let Some(raw) = self.take("cdt") else {
            return Ok(None);
        };
        let raw = raw.trim();
        if let Ok(seconds) = raw.parse::<u64>() {
            return Ok(Some(seconds));
        }
        match raw.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Some(seconds as u64)),
            _ => Err(invalid("cdt", "a Unix timestamp")),
        }
    }

    fn variables(&mut self, name: &str) -> Result<BTreeMap<u32, (String, String)>, DecodeError> {
        let Some(raw) = self.take(name) else {
            return Ok(BTreeMap::new());
        };
        let expected = "a JSON object of [name, value] pairs by slot";
        let map: BTreeMap<String, (String, String)> =
            serde_json::from_str(&raw).map_err(|_| invalid(name, expected))?;
        map.into_iter()
            .map(|(slot, pair)| Ok((slot.parse().map_err(|_| invalid(name, expected))?, pair)))
            .collect()
    }

    fn items(&mut self) -> Result<Vec<EcommerceItem>, DecodeError> {
        let Some(raw) = self.take("ec_items") else {
            return Ok(Vec::new());
        };
        let expected = "a JSON array of [sku, name, category, price, quantity]";
        let rows: Vec<Vec<Value>> =
            serde_json::from_str(&raw).map_err(|_| invalid("ec_items", expected))?;
        rows.into_iter()
            .map(|row| item_from_json(&row).ok_or_else(|| invalid("ec_items", expected)))
            .collect()
    }
}

fn invalid(name: &str, expected: &'static str) -> DecodeError {
    DecodeError::Invalid {
        name: name.to_owned(),
        expected,
    }
}

fn item_from_json(row: &[Value]) -> Option<EcommerceItem> {
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => None,
    };
    let number = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Some(0.0),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => Some(0.0),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    let categories = match row.get(2) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
        Some(_) => return None,
    };
    let quantity = number(row.get(4))?;
    if !(0.0..=f64::from(u32::MAX)).contains(&quantity) {
        return None;
    }
    Some(EcommerceItem {
        sku: text(row.first())?,
        name: text(row.get(1))?,
        categories,
        price: number(row.get(3))?,
        quantity: quantity as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One query per kind of hit, each with every parameter of its kind, and the parameters every
    /// kind shares on the first.
    const EVERY_PARAMETER: &[&str] = &[
        "idsite=1&rec=1&apiv=1&url=u&action_name=a&urlref=r&ua=b&lang=l&uid=i&_id=0123456789abcdef\
         &cid=0123456789abcdef&pv_id=abc123&new_visit=1&res=1x2&h=1&m=2&s=3&cookie=1\
         &_cvar=%7B%7D&cvar=%7B%7D&pf_net=1&pf_srv=1&pf_tfr=1&pf_dm1=1&pf_dm2=1&pf_onl=1&_rcn=c\
         &_rck=k&bots=1&send_image=0&cip=192.0.2.1&cdt=1&country=de&region=b&city=c&lat=1&long=1\
         &token_auth=t&dimension3=d",
        "idsite=1&e_c=c&e_a=a&e_n=n&e_v=1&ca=1",
        "idsite=1&search=s&search_cat=c&search_count=1",
        "idsite=1&c_i=i&c_n=n&c_p=p&c_t=t",
        "idsite=1&link=l",
        "idsite=1&download=d",
        "idsite=1&idgoal=1&revenue=1",
        "idsite=1&idgoal=0&revenue=1&ec_id=o&ec_st=1&ec_tx=1&ec_sh=1&ec_dt=1&ec_items=%5B%5D",
        "idsite=1&_pks=s&_pkn=n&_pkc=c&_pkp=1",
        "idsite=1&ping=1",
    ];

    #[test]
    fn every_modelled_parameter_is_read_and_none_is_left_over() {
        let mut named = BTreeSet::new();
        for query in EVERY_PARAMETER {
            let hit = TrackingRequest::from_query(query).unwrap();
            assert_eq!(hit.extra(), &[], "{query}");
            named.extend(
                form_urlencoded::parse(query.as_bytes())
                    .map(|(name, _)| name.into_owned())
                    .filter(|name| dimension_id(name).is_none()),
            );
        }
        let modelled: BTreeSet<String> = MODELLED.iter().map(|name| name.to_string()).collect();
        assert_eq!(named, modelled);
    }

    #[test]
    fn parameters_of_another_kind_of_hit_are_kept_as_extra() {
        let hit =
            TrackingRequest::from_query("idsite=1&ping=1&e_c=Video&token_auth=secret").unwrap();
        assert_eq!(hit.action(), &Action::Ping);
        assert_eq!(hit.extra(), &[("e_c".to_owned(), "Video".to_owned())]);
    }
}
