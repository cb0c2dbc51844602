//! The wire form of a [`TrackingRequest`]: the query string Matomo reads, and back.
//!
//! Encoding percent-encodes every byte of a value that is not plain in a query string (controls,
//! space, non-ASCII, and the delimiters `&`, `=`, `+`, `#`, `%`), so CR, LF and other control
//! characters can never reach a request line or a header unescaped; `/`, `:`, `?` and the like stay
//! readable, as RFC 3986 allows in a query. Decoding accepts any `application/x-www-form-urlencoded`
//! form, `+` for space included.

use super::{
    validate, Action, BuildError, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Geo,
    Goal, Performance, ProductView, Rare, RareBox, SharedText, SiteSearch, Text, Texts,
    TrackingRequest,
};
use crate::form_scan::next_form_byte;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

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

/// Whether a byte is escaped in a query value: controls, space, non-ASCII, the delimiters of the
/// query itself (`&`, `=`, `+`, `#`, `%`), and the characters RFC 3986 does not allow unescaped in
/// a query. Everything else (`/`, `:`, `?`, `;`, `,`, `(`, `)`, ...) stays as it is.
const ESCAPED: [bool; 256] = {
    let mut table = [true; 256];
    let mut byte = 0x21;
    while byte < 0x7f {
        table[byte] = matches!(
            byte as u8,
            b'"' | b'#'
                | b'%'
                | b'&'
                | b'+'
                | b'<'
                | b'='
                | b'>'
                | b'['
                | b'\\'
                | b']'
                | b'^'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
        );
        byte += 1;
    }
    table
};

/// Appends `value` percent-encoded under [`ESCAPED`].
///
/// This is what `percent_encoding::utf8_percent_encode` does, as one table lookup per byte and one
/// copy per unescaped run: encoding is most of the dispatcher's work per hit, and the iterator form
/// costs about three times as many instructions. What it appends is always ASCII.
#[inline(never)]
pub(super) fn push_escaped(out: &mut Vec<u8>, value: &str) {
    push_escaped_with(out, value, |_| {});
}

/// [`push_escaped`], also telling where in `out` the escaped form of `value[part]` was written:
/// a text that is part of another (a page view's action name is most often its URL's path) is then
/// copied from there rather than escaped again. `part` must lie within `value`.
#[inline(never)]
pub(super) fn push_escaped_marking(
    out: &mut Vec<u8>,
    value: &str,
    part: Range<usize>,
) -> Range<usize> {
    let start = out.len();
    // Each escape before a byte moves it two further on.
    let (mut before_start, mut before_end) = (0, 0);
    push_escaped_with(out, value, |at| {
        before_start += usize::from(at < part.start);
        before_end += usize::from(at < part.end);
    });
    start + part.start + 2 * before_start..start + part.end + 2 * before_end
}

/// [`push_escaped`]'s loop, calling `escaped` with the position in `value` of each byte it escapes.
#[inline(always)]
fn push_escaped_with(out: &mut Vec<u8>, value: &str, mut escaped: impl FnMut(usize)) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = value.as_bytes();
    loop {
        let (run, tail) = rest.split_at(plain_prefix(rest));
        out.extend_from_slice(run);
        let Some((&byte, tail)) = tail.split_first() else {
            return;
        };
        escaped(value.len() - tail.len() - 1);
        out.extend_from_slice(&[
            b'%',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0x0f)],
        ]);
        rest = tail;
    }
}

/// How many bytes at the start of `bytes` need no escape.
///
/// Eight bytes per step, each its own lookup and test, with one bounds check per step: a plain
/// `position` loop spends as much on its counter as on the lookup.
#[inline(always)]
fn plain_prefix(bytes: &[u8]) -> usize {
    let escaped = |b: u8| ESCAPED[usize::from(b)];
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        for (i, &b) in chunk.iter().enumerate() {
            if escaped(b) {
                return start + i;
            }
        }
        start += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| escaped(b))
        .map_or(bytes.len(), |i| start + i)
}

/// The text of bytes that [`push_escaped`] and ASCII literals (or other UTF-8) wrote.
fn ascii_text(bytes: Vec<u8>) -> String {
    // Never fails: every byte written is ASCII or whole UTF-8. Lossy rather than a panic all the
    // same.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The `name=value` pairs of an `application/x-www-form-urlencoded` string, decoded: exactly what
/// `form_urlencoded::parse` yields (`&`-separated, empty pieces skipped, `+` for a space, invalid
/// `%` sequences kept as they are, UTF-8 read lossily), but in one pass over each pair that jumps
/// from one separator or escape to the next ([`next_form_byte`]), finds the pair's end, its `=` and
/// its first escapes together, and borrows every component that holds no escape. Decoding is most
/// of what the Matomo stand-in does per hit, and the byte-at-a-time iterator form costs several
/// times as much.
pub(crate) fn parse_pairs(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    // `&`, `=`, `%` and `+` are ASCII, so every cut is a character boundary.
    let bytes = input.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || loop {
        if start > bytes.len() {
            return None;
        }
        let (mut end, mut equals) = (start, None);
        let (mut name_escape, mut value_escape) = (None, None);
        loop {
            end = next_form_byte(bytes, end);
            match bytes.get(end) {
                None | Some(b'&') => break,
                Some(b'=') => {
                    equals.get_or_insert(end);
                }
                // `%` or `+`.
                Some(_) => {
                    if equals.is_none() {
                        name_escape.get_or_insert(end);
                    } else {
                        // The value's first escape: all that is left to find is the pair's end
                        // (a user agent holds a dozen escaped spaces).
                        value_escape = Some(end);
                        end =
                            memchr::memchr(b'&', &bytes[end..]).map_or(bytes.len(), |at| end + at);
                        break;
                    }
                }
            }
            end += 1;
        }
        let pair_start = start;
        start = end + 1;
        if end == pair_start {
            continue;
        }
        let (name, value, value_start) = match equals {
            Some(equals) => (
                input.get(pair_start..equals)?,
                input.get(equals + 1..end)?,
                equals + 1,
            ),
            None => (input.get(pair_start..end)?, "", end),
        };
        return Some((
            decode_component(name, name_escape.map(|at| at - pair_start)),
            decode_component(value, value_escape.map(|at| at - value_start)),
        ));
    })
}

/// `text` decoded; `first_escape` is where its first `%` or `+` is, if it has one. Inlined for
/// the usual case, a component without an escape, which is borrowed as it is.
#[inline(always)]
fn decode_component(text: &str, first_escape: Option<usize>) -> Cow<'_, str> {
    match first_escape {
        None => Cow::Borrowed(text),
        Some(first) => Cow::Owned(unescape(text, first)),
    }
}

/// `text` decoded from its first escape at `first` on.
#[inline(never)]
fn unescape(text: &str, first: usize) -> String {
    let bytes = text.as_bytes();
    let hex = |b: Option<&u8>| crate::visitor::hex_value(*b?);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte.
                    out.push(high * 16 + low);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            _ => {
                // Up to the next escape, eight bytes per step (`=` in a value is plain text).
                let mut run_end = next_form_byte(bytes, i);
                while bytes.get(run_end).is_some_and(|&b| b == b'=' || b == b'&') {
                    run_end = next_form_byte(bytes, run_end + 1);
                }
                out.extend_from_slice(&bytes[i..run_end]);
                i = run_end;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => decoded,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// `name`, escaped like a value when it needs to be (a parameter name from outside).
fn escaped_name(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| ESCAPED[usize::from(b)]) {
        let mut out = Vec::with_capacity(name.len() * 3);
        push_escaped(&mut out, name);
        Cow::Owned(ascii_text(out))
    } else {
        Cow::Borrowed(name)
    }
}

/// The parameters [`TrackingRequest`] models (and the token, which is never a parameter): one
/// [`Slot`] each, so a decoder keeps their values in an array instead of searching a list.
macro_rules! modelled_parameters {
    ($($slot:ident = $name:literal,)*) => {
        #[derive(Clone, Copy)]
        enum Slot {
            $($slot,)*
        }

        impl Slot {
            /// The parameter's name.
            fn name(self) -> &'static str {
                match self {
                    $(Slot::$slot => $name,)*
                }
            }
        }

        /// How many parameters are modelled.
        const SLOTS: usize = [$($name),*].len();

        /// The slot of a modelled parameter name; `None` for any other name. A `match` rather than
        /// a scan of a list: it runs for every parameter of every hit decoded.
        fn slot(name: &str) -> Option<Slot> {
            Some(match name {
                $($name => Slot::$slot,)*
                _ => return None,
            })
        }
    };
}

modelled_parameters! {
    Idsite = "idsite",
    Rec = "rec",
    Apiv = "apiv",
    Url = "url",
    ActionName = "action_name",
    Urlref = "urlref",
    Ua = "ua",
    Lang = "lang",
    Uid = "uid",
    Id = "_id",
    Cid = "cid",
    PvId = "pv_id",
    NewVisit = "new_visit",
    Res = "res",
    H = "h",
    M = "m",
    S = "s",
    Cookie = "cookie",
    VisitCvar = "_cvar",
    Cvar = "cvar",
    PfNet = "pf_net",
    PfSrv = "pf_srv",
    PfTfr = "pf_tfr",
    PfDm1 = "pf_dm1",
    PfDm2 = "pf_dm2",
    PfOnl = "pf_onl",
    Rcn = "_rcn",
    Rck = "_rck",
    Bots = "bots",
    SendImage = "send_image",
    Cip = "cip",
    Cdt = "cdt",
    Country = "country",
    Region = "region",
    City = "city",
    Lat = "lat",
    Long = "long",
    EC = "e_c",
    EA = "e_a",
    EN = "e_n",
    EV = "e_v",
    Ca = "ca",
    Search = "search",
    SearchCat = "search_cat",
    SearchCount = "search_count",
    Idgoal = "idgoal",
    Revenue = "revenue",
    EcId = "ec_id",
    EcSt = "ec_st",
    EcTx = "ec_tx",
    EcSh = "ec_sh",
    EcDt = "ec_dt",
    EcItems = "ec_items",
    Pks = "_pks",
    Pkn = "_pkn",
    Pkc = "_pkc",
    Pkp = "_pkp",
    CN = "c_n",
    CP = "c_p",
    CT = "c_t",
    CI = "c_i",
    Link = "link",
    Download = "download",
    Ping = "ping",
    TokenAuth = "token_auth",
}

/// Whether `name` is a parameter [`TrackingRequest`] models (or the token, which is never a parameter).
pub(crate) fn is_modelled(name: &str) -> bool {
    slot(name).is_some() || dimension_id(name).is_some()
}

fn dimension_id(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("dimension")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl TrackingRequest {
    /// The query string Matomo reads (without a leading `?`), e.g. `idsite=1&rec=1&apiv=1&url=...`.
    pub fn to_query(&self) -> String {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.write_query(&mut out);
        ascii_text(out)
    }

    /// Appends [`TrackingRequest::to_query`] to `out`: only ASCII, with `"`, `\\` and every
    /// control byte percent-encoded (so it is also a JSON string as it stands).
    pub(crate) fn write_query(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len_hint());
        // Every hit starts alike; numbers and ids are plain text, written without an escaping
        // pass.
        out.extend_from_slice(b"idsite=");
        out.extend_from_slice(itoa::Buffer::new().format(self.site_id).as_bytes());
        out.extend_from_slice(b"&rec=1&apiv=1");
        let url = self.texts.get(Text::Url);
        match (url, self.texts.within(Text::ActionName, Text::Url)) {
            // The action name is part of the URL (its path): copied from the escaped URL.
            (Some(url), Some(part)) => {
                param_name(out, "&url=");
                let escaped = push_escaped_marking(out, url, part);
                param_name(out, "&action_name=");
                out.extend_from_within(escaped);
            }
            _ => {
                opt(out, "&url=", url);
                opt(out, "&action_name=", self.texts.get(Text::ActionName));
            }
        }
        opt(out, "&urlref=", self.texts.get(Text::Referrer));
        encode_action(out, &self.action);
        opt(out, "&uid=", self.texts.get(Text::UserId));
        for (name, id) in [
            ("&_id=", self.visitor_id),
            ("&cid=", self.forced_visitor_id),
        ] {
            if let Some(id) = id {
                plain_param(out, name, &id.to_hex());
            }
        }
        // The rare parameters: one test when a hit has none of them.
        let rare = self.rare.as_option();
        if let Some(rare) = rare {
            opt(out, "&pv_id=", rare.page_view_id.as_deref());
        }
        if self.new_visit {
            param(out, "&new_visit=", "1");
        }
        if let Some(rare) = rare {
            if let Some((w, h)) = rare.resolution {
                param(out, "&res=", &format!("{w}x{h}"));
            }
            if let Some((h, m, s)) = rare.local_time {
                param(out, "&h=", &h.to_string());
                param(out, "&m=", &m.to_string());
                param(out, "&s=", &s.to_string());
            }
            if let Some(cookie) = rare.cookie_support {
                param(out, "&cookie=", if cookie { "1" } else { "0" });
            }
        }
        // Shared with the other hits of the client, and escaped once for all of them.
        for (name, text) in [("&ua=", &self.user_agent), ("&lang=", &self.language)] {
            if let Some(text) = text {
                param_name(out, name);
                out.extend_from_slice(text.escaped());
            }
        }
        if let Some(rare) = rare {
            for (id, value) in &rare.dimensions {
                out.extend_from_slice(b"&dimension");
                out.extend_from_slice(itoa::Buffer::new().format(*id).as_bytes());
                out.push(b'=');
                push_escaped(out, value);
            }
            if !rare.visit_variables.is_empty() {
                param(out, "&_cvar=", &variables_json(&rare.visit_variables));
            }
            if !rare.page_variables.is_empty() {
                param(out, "&cvar=", &variables_json(&rare.page_variables));
            }
        }
        let pf = &self.performance;
        for (name, value) in [
            ("&pf_net=", pf.network),
            ("&pf_srv=", pf.server),
            ("&pf_tfr=", pf.transfer),
            ("&pf_dm1=", pf.dom_processing),
            ("&pf_dm2=", pf.dom_completion),
            ("&pf_onl=", pf.on_load),
        ] {
            opt_int(out, name, value);
        }
        if let Some(rare) = rare {
            opt(out, "&_rcn=", rare.campaign_name.as_deref());
            opt(out, "&_rck=", rare.campaign_keyword.as_deref());
        }
        if self.bot {
            param(out, "&bots=", "1");
        }
        opt_display(out, "&cip=", self.client_ip);
        opt_int(out, "&cdt=", self.time);
        if let Some(rare) = rare {
            let geo = &rare.geo;
            opt(out, "&country=", geo.country.as_deref());
            opt(out, "&region=", geo.region.as_deref());
            opt(out, "&city=", geo.city.as_deref());
            opt_display(out, "&lat=", geo.latitude);
            opt_display(out, "&long=", geo.longitude);
            for (name, value) in &rare.extra {
                out.push(b'&');
                out.extend_from_slice(escaped_name(name).as_bytes());
                out.push(b'=');
                push_escaped(out, value);
            }
        }
        if !self.send_image {
            out.extend_from_slice(b"&send_image=0");
        }
    }

    /// About how long [`TrackingRequest::to_query`] will be, so it is written without regrowing.
    fn encoded_len_hint(&self) -> usize {
        let text = self.texts.len()
            + [&self.user_agent, &self.language]
                .into_iter()
                .flatten()
                .map(|text| text.as_str().len())
                .sum::<usize>();
        let extra: usize = self
            .rare
            .get()
            .extra
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum();
        // Names, ids, numbers, and room for some escapes.
        160 + text + text / 8 + extra
    }

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
        Self::from_params(parse_pairs(query))
    }

    /// Decodes already split parameters (e.g. a GET query merged with a POST form body).
    pub fn from_params<K, V>(params: impl IntoIterator<Item = (K, V)>) -> Result<Self, DecodeError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // Held here so the modelled values are read in place: only what the request keeps as text
        // is copied.
        let params: Vec<(K, V)> = params.into_iter().collect();
        Self::from_param_slice(&params)
    }

    /// [`TrackingRequest::from_params`] for parameters a caller holds already, without a copy of
    /// the list.
    pub(crate) fn from_param_slice<K, V>(params: &[(K, V)]) -> Result<Self, DecodeError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut fields = Fields([None; SLOTS]);
        // Made only when a hit has one (an empty map costs a walk to drop).
        let mut dimensions = None;
        let mut extra = Vec::new();
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref());
            if let Some(slot) = slot(name) {
                // A repeated parameter: the last one counts, as in PHP.
                fields.0[slot as usize] = Some(value);
            } else if let Some(id) = dimension_id(name) {
                dimensions
                    .get_or_insert_with(BTreeMap::new)
                    .insert(id, value.to_owned());
            } else {
                extra.push((name.to_owned(), value.to_owned()));
            }
        }
        // Most hits carry none of the rare parameters: then no `Rare` is made (nor dropped).
        let any_rare = fields.any_rare() || dimensions.is_some() || !extra.is_empty();
        let site_id = fields
            .parse::<u32>(Slot::Idsite, "a site id (a whole number)")?
            .ok_or(DecodeError::Missing("idsite"))?;
        let action = decode_action(&mut fields)?;
        // Read in the order of the wire form, so the first invalid parameter is the one reported.
        let texts = Texts::from_all([
            fields.take_str(Slot::Url),
            fields.take_str(Slot::ActionName),
            fields.take_str(Slot::Urlref),
            fields.take_str(Slot::Uid),
        ]);
        let user_agent = fields.take(Slot::Ua).map(SharedText::new);
        let language = fields.take(Slot::Lang).map(SharedText::new);
        let visitor_id = fields.parse(Slot::Id, "16 hexadecimal digits")?;
        let forced_visitor_id = fields.parse(Slot::Cid, "16 hexadecimal digits")?;
        let page_view_id = fields.take(Slot::PvId);
        let new_visit = fields.flag(Slot::NewVisit)?.unwrap_or(false);
        let resolution = fields.resolution()?;
        let local_time = fields.local_time()?;
        let cookie_support = fields.flag(Slot::Cookie)?;
        let visit_variables = fields.variables(Slot::VisitCvar)?;
        let page_variables = fields.variables(Slot::Cvar)?;
        let performance = Performance {
            network: fields.parse(Slot::PfNet, "milliseconds")?,
            server: fields.parse(Slot::PfSrv, "milliseconds")?,
            transfer: fields.parse(Slot::PfTfr, "milliseconds")?,
            dom_processing: fields.parse(Slot::PfDm1, "milliseconds")?,
            dom_completion: fields.parse(Slot::PfDm2, "milliseconds")?,
            on_load: fields.parse(Slot::PfOnl, "milliseconds")?,
        };
        let campaign_name = fields.take(Slot::Rcn);
        let campaign_keyword = fields.take(Slot::Rck);
        let bot = fields.flag(Slot::Bots)?.unwrap_or(false);
        let send_image = fields.flag(Slot::SendImage)?.unwrap_or(true);
        let client_ip = fields.parse(Slot::Cip, "an IP address")?;
        let time = fields.timestamp()?;
        let geo = Geo {
            country: fields.take(Slot::Country),
            region: fields.take(Slot::Region),
            city: fields.take(Slot::City),
            latitude: fields.parse(Slot::Lat, "a latitude")?,
            longitude: fields.parse(Slot::Long, "a longitude")?,
        };
        let request = TrackingRequest {
            site_id,
            action,
            texts,
            user_agent,
            language,
            visitor_id,
            forced_visitor_id,
            new_visit,
            performance,
            bot,
            send_image,
            client_ip,
            time,
            rare: if !any_rare {
                RareBox::default()
            } else {
                RareBox::new(Rare {
                    page_view_id,
                    resolution,
                    local_time,
                    cookie_support,
                    dimensions: dimensions.unwrap_or_default(),
                    visit_variables: visit_variables.unwrap_or_default(),
                    page_variables: page_variables.unwrap_or_default(),
                    campaign_name,
                    campaign_keyword,
                    geo,
                    extra,
                })
            },
        };
        validate(&request)?;
        Ok(request)
    }
}

/// Appends `&name=value`, the value escaped. `name` is the literal `"&name="`: with the call
/// inlined, it is written with a single fixed-size store.
#[inline(always)]
fn param(out: &mut Vec<u8>, name: &str, value: &str) {
    param_name(out, name);
    push_escaped(out, value);
}

/// Appends `&name=value` for a value that holds nothing to escape (digits, hex digits); `name` as
/// in [`param`].
#[inline(always)]
fn plain_param(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    debug_assert!(!value.iter().any(|&b| ESCAPED[usize::from(b)]));
    param_name(out, name);
    out.extend_from_slice(value);
}

/// Appends `&name=` (passed whole, as in [`param`]), the start [`param`] and [`plain_param`]
/// share.
#[inline(always)]
fn param_name(out: &mut Vec<u8>, name: &str) {
    debug_assert!(name.starts_with('&') && name.ends_with('='));
    out.extend_from_slice(name.as_bytes());
}

#[inline(always)]
fn opt(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        param(out, name, value);
    }
}

#[inline(always)]
fn opt_int<T: itoa::Integer>(out: &mut Vec<u8>, name: &str, value: Option<T>) {
    if let Some(value) = value {
        // Digits and a minus sign: nothing to escape.
        plain_param(out, name, itoa::Buffer::new().format(value).as_bytes());
    }
}

#[inline(always)]
fn opt_display<T: std::fmt::Display>(out: &mut Vec<u8>, name: &str, value: Option<T>) {
    if let Some(value) = value {
        param(out, name, &value.to_string());
    }
}

fn encode_action(out: &mut Vec<u8>, action: &Action) {
    match action {
        Action::PageView => {}
        Action::Event(event) => {
            param(out, "&e_c=", &event.category);
            param(out, "&e_a=", &event.action);
            opt(out, "&e_n=", event.name.as_deref());
            opt_display(out, "&e_v=", event.value);
            param(out, "&ca=", "1");
        }
        Action::SiteSearch(search) => {
            param(out, "&search=", &search.keyword);
            opt(out, "&search_cat=", search.category.as_deref());
            opt_display(out, "&search_count=", search.count);
        }
        Action::Goal(goal) => {
            param(out, "&idgoal=", &goal.id.to_string());
            opt_display(out, "&revenue=", goal.revenue);
        }
        Action::EcommerceOrder(order) => {
            param(out, "&idgoal=", "0");
            param(out, "&ec_id=", &order.order_id);
            param(out, "&revenue=", &order.grand_total.to_string());
            opt_display(out, "&ec_st=", order.subtotal);
            opt_display(out, "&ec_tx=", order.tax);
            opt_display(out, "&ec_sh=", order.shipping);
            opt_display(out, "&ec_dt=", order.discount);
            if !order.items.is_empty() {
                param(out, "&ec_items=", &items_json(&order.items));
            }
        }
        Action::CartUpdate(cart) => {
            param(out, "&idgoal=", "0");
            param(out, "&revenue=", &cart.grand_total.to_string());
            if !cart.items.is_empty() {
                param(out, "&ec_items=", &items_json(&cart.items));
            }
        }
        Action::ProductView(product) => {
            opt(out, "&_pks=", product.sku.as_deref());
            opt(out, "&_pkn=", product.name.as_deref());
            opt(out, "&_pkc=", product.category.as_deref());
            opt_display(out, "&_pkp=", product.price);
        }
        Action::ContentImpression(content) => {
            encode_content(out, content);
            param(out, "&ca=", "1");
        }
        Action::ContentInteraction {
            interaction,
            content,
        } => {
            param(out, "&c_i=", interaction);
            encode_content(out, content);
            param(out, "&ca=", "1");
        }
        Action::Outlink(link) => param(out, "&link=", link),
        Action::Download(link) => param(out, "&download=", link),
        Action::Ping => param(out, "&ping=", "1"),
    }
}

fn encode_content(out: &mut Vec<u8>, content: &Content) {
    param(out, "&c_n=", &content.name);
    opt(out, "&c_p=", content.piece.as_deref());
    opt(out, "&c_t=", content.target.as_deref());
}

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

/// Custom variables by slot: (name, value).
type Variables = BTreeMap<u32, (String, String)>;

fn variables_json(variables: &Variables) -> String {
    let map: serde_json::Map<String, Value> = variables
        .iter()
        .map(|(slot, (name, value))| (slot.to_string(), serde_json::json!([name, value])))
        .collect();
    Value::Object(map).to_string()
}

/// The modelled parameters of one hit, by [`Slot`]; each is read once.
struct Fields<'a>([Option<&'a str>; SLOTS]);

impl<'a> Fields<'a> {
    fn take_str(&mut self, slot: Slot) -> Option<&'a str> {
        self.0[slot as usize].take()
    }

    fn take(&mut self, slot: Slot) -> Option<String> {
        self.take_str(slot).map(str::to_owned)
    }

    fn has(&self, slot: Slot) -> bool {
        self.0[slot as usize].is_some()
    }

    /// Whether any parameter a [`Rare`] holds is here. A field added to `Rare` adds its slot here
    /// (and to the test `each_rare_parameter_alone_survives_decoding`), or its value is lost.
    fn any_rare(&self) -> bool {
        const RARE: [Slot; 15] = [
            Slot::PvId,
            Slot::Res,
            Slot::H,
            Slot::M,
            Slot::S,
            Slot::Cookie,
            Slot::VisitCvar,
            Slot::Cvar,
            Slot::Rcn,
            Slot::Rck,
            Slot::Country,
            Slot::Region,
            Slot::City,
            Slot::Lat,
            Slot::Long,
        ];
        RARE.iter().any(|&slot| self.has(slot))
    }

    /// The value in `slot` parsed, after [`trimmed`]. Inlined: most slots of a hit are empty,
    /// and that answer should cost a load and a test, not a call.
    #[inline(always)]
    fn parse<T: std::str::FromStr>(
        &mut self,
        slot: Slot,
        expected: &'static str,
    ) -> Result<Option<T>, DecodeError> {
        match self.take_str(slot) {
            None => Ok(None),
            Some(raw) => parse_value(raw, slot, expected).map(Some),
        }
    }

    /// A `0`/`1` (or `false`/`true`) flag; empty reads as `0`. Inlined like [`Fields::parse`].
    #[inline(always)]
    fn flag(&mut self, slot: Slot) -> Result<Option<bool>, DecodeError> {
        match self.take_str(slot) {
            None => Ok(None),
            Some(raw) => flag_value(raw, slot).map(Some),
        }
    }

    fn resolution(&mut self) -> Result<Option<(u32, u32)>, DecodeError> {
        let Some(raw) = self.take_str(Slot::Res) else {
            return Ok(None);
        };
        let parsed = raw
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
        parsed
            .map(Some)
            .ok_or_else(|| invalid(Slot::Res.name(), "WIDTHxHEIGHT"))
    }

    fn local_time(&mut self) -> Result<Option<(u8, u8, u8)>, DecodeError> {
        let hour = self.parse::<u8>(Slot::H, "an hour")?;
        let minute = self.parse::<u8>(Slot::M, "a minute")?;
        let second = self.parse::<u8>(Slot::S, "a second")?;
        Ok(match (hour, minute, second) {
            (None, None, None) => None,
            (h, m, s) => Some((h.unwrap_or(0), m.unwrap_or(0), s.unwrap_or(0))),
        })
    }

    fn timestamp(&mut self) -> Result<Option<u64>, DecodeError> {
        let Some(raw) = self.take_str(Slot::Cdt) else {
            return Ok(None);
        };
        let raw = trimmed(raw);
        if let Ok(seconds) = raw.parse::<u64>() {
            return Ok(Some(seconds));
        }
        match raw.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Some(seconds as u64)),
            _ => Err(invalid(Slot::Cdt.name(), "a Unix timestamp")),
        }
    }

    #[inline(always)]
    fn variables(&mut self, slot: Slot) -> Result<Option<Variables>, DecodeError> {
        match self.take_str(slot) {
            None => Ok(None),
            Some(raw) => variables_value(raw, slot).map(Some),
        }
    }

    fn items(&mut self) -> Result<Vec<EcommerceItem>, DecodeError> {
        let Some(raw) = self.take_str(Slot::EcItems) else {
            return Ok(Vec::new());
        };
        let expected = "a JSON array of [sku, name, category, price, quantity]";
        let rows: Vec<Vec<Value>> =
            serde_json::from_str(raw).map_err(|_| invalid(Slot::EcItems.name(), expected))?;
        rows.into_iter()
            .map(|row| item_from_json(&row).ok_or_else(|| invalid(Slot::EcItems.name(), expected)))
            .collect()
    }
}

fn invalid(name: &str, expected: &'static str) -> DecodeError {
    DecodeError::Invalid {
        name: name.to_owned(),
        expected,
    }
}

/// `raw` without surrounding whitespace. Most values have none: when both ends are ASCII and not
/// whitespace (every ASCII whitespace is at most a space), the `char`-by-`char` trim is skipped.
#[inline(always)]
fn trimmed(raw: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b.is_ascii());
    let bytes = raw.as_bytes();
    if plain(bytes.first()) && plain(bytes.last()) {
        raw
    } else {
        raw.trim()
    }
}

/// A present value of `slot` parsed (see [`Fields::parse`]).
#[inline(never)]
fn parse_value<T: std::str::FromStr>(
    raw: &str,
    slot: Slot,
    expected: &'static str,
) -> Result<T, DecodeError> {
    trimmed(raw)
        .parse()
        .map_err(|_| invalid(slot.name(), expected))
}

/// A present flag of `slot` read (see [`Fields::flag`]).
#[inline(never)]
fn flag_value(raw: &str, slot: Slot) -> Result<bool, DecodeError> {
    match trimmed(raw) {
        "1" | "true" => Ok(true),
        "0" | "false" | "" => Ok(false),
        _ => Err(invalid(slot.name(), "0 or 1")),
    }
}

/// A present custom-variables value of `slot` read (see [`Fields::variables`]).
#[inline(never)]
fn variables_value(raw: &str, slot: Slot) -> Result<Variables, DecodeError> {
    let name = slot.name();
    let expected = "a JSON object of [name, value] pairs by slot";
    let map: BTreeMap<String, (String, String)> =
        serde_json::from_str(raw).map_err(|_| invalid(name, expected))?;
    map.into_iter()
        .map(|(slot, pair)| {
            let slot = slot.parse().map_err(|_| invalid(name, expected))?;
            Ok((slot, pair))
        })
        .collect()
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

fn decode_action(fields: &mut Fields<'_>) -> Result<Action, DecodeError> {
    let _ = fields.take_str(Slot::Ca);
    let _ = fields.take_str(Slot::Rec);
    let _ = fields.take_str(Slot::Apiv);
    let _ = fields.take_str(Slot::TokenAuth);
    if fields.flag(Slot::Ping)? == Some(true) {
        return Ok(Action::Ping);
    }
    if fields.has(Slot::EC) || fields.has(Slot::EA) {
        return Ok(Action::Event(Event {
            category: fields.take(Slot::EC).unwrap_or_default(),
            action: fields.take(Slot::EA).unwrap_or_default(),
            name: fields.take(Slot::EN),
            value: fields.parse(Slot::EV, "a number")?,
        }));
    }
    if let Some(keyword) = fields.take(Slot::Search) {
        return Ok(Action::SiteSearch(SiteSearch {
            keyword,
            category: fields.take(Slot::SearchCat),
            count: fields.parse(Slot::SearchCount, "a whole number")?,
        }));
    }
    if fields.has(Slot::CN) || fields.has(Slot::CI) {
        let interaction = fields.take(Slot::CI);
        let content = Content {
            name: fields.take(Slot::CN).unwrap_or_default(),
            piece: fields.take(Slot::CP),
            target: fields.take(Slot::CT),
        };
        return Ok(match interaction {
            Some(interaction) => Action::ContentInteraction {
                interaction,
                content,
            },
            None => Action::ContentImpression(content),
        });
    }
    if let Some(link) = fields.take(Slot::Link) {
        return Ok(Action::Outlink(link));
    }
    if let Some(link) = fields.take(Slot::Download) {
        return Ok(Action::Download(link));
    }
    if let Some(goal) = fields.parse::<u32>(Slot::Idgoal, "a goal id")? {
        let revenue = fields.parse::<f64>(Slot::Revenue, "a number")?;
        if goal != 0 {
            return Ok(Action::Goal(Goal { id: goal, revenue }));
        }
        let items = fields.items()?;
        let grand_total = revenue.unwrap_or(0.0);
        return Ok(match fields.take(Slot::EcId) {
            Some(order_id) => Action::EcommerceOrder(EcommerceOrder {
                order_id,
                grand_total,
                subtotal: fields.parse(Slot::EcSt, "a number")?,
                tax: fields.parse(Slot::EcTx, "a number")?,
                shipping: fields.parse(Slot::EcSh, "a number")?,
                discount: fields.parse(Slot::EcDt, "a number")?,
                items,
            }),
            None => Action::CartUpdate(CartUpdate { grand_total, items }),
        });
    }
    if [Slot::Pks, Slot::Pkn, Slot::Pkc, Slot::Pkp]
        .into_iter()
        .any(|slot| fields.has(slot))
    {
        return Ok(Action::ProductView(ProductView {
            sku: fields.take(Slot::Pks),
            name: fields.take(Slot::Pkn),
            category: fields.take(Slot::Pkc),
            price: fields.parse(Slot::Pkp, "a number")?,
        }));
    }
    Ok(Action::PageView)
}

#[cfg(test)]
mod tests {
    use super::{parse_pairs, push_escaped, push_escaped_marking, trimmed, ESCAPED};
    use proptest::prelude::*;

    /// Percent-encoding as the docs say it, one byte at a time.
    fn escaped_by_the_book(value: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in value.as_bytes() {
            if ESCAPED[usize::from(b)] {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
            } else {
                out.push(b);
            }
        }
        out
    }

    proptest! {
        /// Runs of every length around the copy block's 16 bytes, escapes anywhere (first, last,
        /// back to back), multi-byte characters, after text already in the buffer.
        #[test]
        fn escaping_matches_the_byte_by_byte_reading(
            before in "[a-z]{0,20}",
            value in prop_oneof![
                "([a-zA-Z0-9/:.;,()-]{0,40}[ &=+#%\"\r\n\\\\é]?){0,8}",
                "\\PC{0,120}",
                "[a-z]{14,18}|[a-z]{30,34}| {1,20}",
            ],
        ) {
            let mut out = before.clone().into_bytes();
            push_escaped(&mut out, &value);
            let mut expected = before.into_bytes();
            expected.extend(escaped_by_the_book(&value));
            prop_assert_eq!(out, expected);
        }

        /// Marking a part changes nothing in what is written, and the range it returns holds
        /// exactly the part's escaped form: escapes before, inside and after the part, or none.
        #[test]
        fn a_marked_part_is_where_its_escaped_form_was_written(
            before in "[a-z]{0,20}",
            value in prop_oneof![
                "([a-zA-Z0-9/:.;,()-]{0,12}[ &=+#%\"é]?){0,6}",
                "\\PC{0,40}",
            ],
            ends in (0..=40usize, 0..=40usize),
        ) {
            // A part on character boundaries, as a text's span always is.
            let cut = |at: usize| {
                let mut at = at.min(value.len());
                while !value.is_char_boundary(at) {
                    at -= 1;
                }
                at
            };
            let (a, b) = (cut(ends.0), cut(ends.1));
            let part = a.min(b)..a.max(b);
            let mut out = before.clone().into_bytes();
            let marked = push_escaped_marking(&mut out, &value, part.clone());
            let mut expected = before.into_bytes();
            expected.extend(escaped_by_the_book(&value));
            prop_assert_eq!(&out, &expected);
            prop_assert_eq!(&out[marked], &escaped_by_the_book(&value[part])[..]);
        }
    }

    fn owned<'a>(
        pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Vec<(String, String)> {
        pairs
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn pairs_decode_like_form_urlencoded_on_the_edge_cases() {
        for input in [
            "",
            "&&",
            "a",
            "a=",
            "=b",
            "a=1&a=2",
            "a=%",
            "a=%4",
            "a=%zz%41",
            "a=%2B+%20",
            "%C3%BC=%FF%FE",
            "a=b=c",
            "ü=ä+ö",
            "a+b=c+d",
            "a%3D=b%3D=c",
            "=&=",
            "a=b&&c=%2",
            "+",
            "%=+",
        ] {
            assert_eq!(
                owned(parse_pairs(input)),
                owned(form_urlencoded::parse(input.as_bytes())),
                "{input}"
            );
        }
    }

    proptest! {
        #[test]
        fn pairs_decode_like_form_urlencoded(input in "([a-z%+=&A-F0-9 ü]|%[0-9A-Fa-f]{2}|%[C-F][0-9A-F]){0,40}") {
            prop_assert_eq!(
                owned(parse_pairs(&input)),
                owned(form_urlencoded::parse(input.as_bytes()))
            );
        }

        #[test]
        fn pairs_decode_any_text_like_form_urlencoded(input in "\\PC{0,80}") {
            prop_assert_eq!(
                owned(parse_pairs(&input)),
                owned(form_urlencoded::parse(input.as_bytes()))
            );
        }

        #[test]
        fn values_are_trimmed_like_str_trim(input in "[ \t\n\u{0B}\u{0C}\r\u{A0}\u{3000}]{0,2}\\PC{0,6}[ \t\u{A0}\u{2028}]{0,2}") {
            prop_assert_eq!(trimmed(&input), input.trim());
        }
    }
}
