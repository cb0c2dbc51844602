//! How Matomo judges and answers hits, as a real Matomo 4 and 5 do (the rules are listed in the
//! [`testing`](super) module; `core/Tracker/Request.php` holds them in Matomo).
//! Pure functions: [`super::MockMatomo`] serves them over HTTP.

use crate::request::{DecodeError, TrackingRequest};
use std::collections::BTreeSet;
use std::time::SystemTime;

/// The notice `matomo.php` serves without a hit (200) and with a refused one (400).
pub const TRACKER_NOTICE: &str = "This resource is part of Matomo. Keep full control of your data with the leading free and open source <a href='https://matomo.org' target='_blank' rel='noopener noreferrer nofollow'>web analytics & conversion optimisation platform</a>.<br>\nThis file is the endpoint for the Matomo tracking API. If you want to access the Matomo UI or use the Reporting API, please use <a href='index.php'>index.php</a> instead.\n";

/// What another path of a Matomo server serves: the login page.
pub const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html id=\"ng-app\"><head><meta charset=\"utf-8\"><title>Sign in - Matomo</title></head><body><div id=\"loginPage\"><form method=\"post\" action=\"index.php?module=Login\"><input name=\"form_login\"><input name=\"form_password\" type=\"password\"></form></div></body></html>\n";

/// The 43-byte transparent GIF Matomo answers with when `send_image` is not `0`.
pub const TRANSPARENT_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// How a hit reached the stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// A GET with the hit in the query string.
    Get,
    /// A POST with the hit as a form body.
    Post,
    /// One hit of a bulk POST, at this index.
    Bulk(usize),
}

/// What Matomo made of a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HitOutcome {
    /// Tracked.
    Tracked,
    /// Not recorded: `rec=1` was missing (Matomo answers 204 all the same).
    NotRecorded,
    /// Refused: the site id is unknown.
    UnknownSite,
    /// Refused: a token-only parameter (`cip`, old `cdt`, geo) came without a valid token.
    BadToken,
    /// Refused: the parameters do not make a valid hit.
    Invalid(DecodeError),
}

impl HitOutcome {
    /// Whether Matomo counts this hit as invalid.
    pub fn is_invalid(&self) -> bool {
        matches!(
            self,
            HitOutcome::UnknownSite | HitOutcome::BadToken | HitOutcome::Invalid(_)
        )
    }
}

/// One hit the stand-in received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceivedHit {
    /// How it came.
    pub via: Via,
    /// Its raw parameters, in order (`token_auth` shown as `***`).
    pub params: Vec<(String, String)>,
    /// The decoded hit, or why it does not decode.
    pub request: Result<TrackingRequest, DecodeError>,
    /// Whether a token came with it: `None` none, `Some(valid)` otherwise.
    pub token: Option<bool>,
    /// What Matomo made of it.
    pub outcome: HitOutcome,
}

impl ReceivedHit {
    /// The value of a raw parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        last_param(&self.params, name)
    }
}

/// The value of the parameter `name` in `params`: its last one when it repeats, as PHP's
/// `parse_str` keeps it.
pub(crate) fn last_param<'p, K: AsRef<str>, V: AsRef<str>>(
    params: &'p [(K, V)],
    name: &str,
) -> Option<&'p str> {
    params
        .iter()
        .rev()
        .find(|(n, _)| n.as_ref() == name)
        .map(|(_, v)| v.as_ref())
}

/// Judges one hit like Matomo: `params` as received, `token` the `token_auth` that came with it.
/// The raw parameters are copied into the [`ReceivedHit`] only when `keep_params` (someone keeps
/// or watches the hits); the outcome is the same either way.
pub(crate) fn judge<K: AsRef<str>, V: AsRef<str>>(
    via: Via,
    params: &[(K, V)],
    keep_params: bool,
    token: Option<&str>,
    valid_token: Option<&str>,
    sites: &BTreeSet<u32>,
    now: SystemTime,
) -> ReceivedHit {
    let token_state = token.map(|t| Some(t) == valid_token);
    let request =
        TrackingRequest::from_params(params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    let recorded = params
        .iter()
        .any(|(k, v)| k.as_ref() == "rec" && v.as_ref().trim() == "1");
    let outcome = match &request {
        _ if !recorded => HitOutcome::NotRecorded,
        Err(DecodeError::Missing("idsite")) => HitOutcome::UnknownSite,
        Err(error) => HitOutcome::Invalid(error.clone()),
        Ok(hit) if !sites.contains(&hit.site_id()) => HitOutcome::UnknownSite,
        Ok(hit) if hit.needs_token(now) && token_state != Some(true) => HitOutcome::BadToken,
        Ok(_) => HitOutcome::Tracked,
    };
    let params = if keep_params {
        params
            .iter()
            .map(|(k, v)| {
                let k = k.as_ref();
                let v = if k == "token_auth" { "***" } else { v.as_ref() };
                (k.to_owned(), v.to_owned())
            })
            .collect()
    } else {
        Vec::new()
    };
    ReceivedHit {
        via,
        params,
        request,
        token: token_state,
        outcome,
    }
}

/// What real Matomo would misread or refuse in a hit, in plain words (for `listen` and logs).
pub fn warnings(hit: &ReceivedHit, sites: &BTreeSet<u32>) -> Vec<String> {
    let mut out = Vec::new();
    if hit.param("rec").map(str::trim) != Some("1") {
        out.push("no rec=1: Matomo answers 204 but records nothing".to_owned());
    }
    match hit.param("idsite").map(|s| s.trim().parse::<u32>()) {
        None => out.push("no idsite: Matomo refuses the hit".to_owned()),
        Some(Ok(id)) if !sites.contains(&id) => out.push(format!(
            "idsite={id} is not a site here: Matomo answers 400"
        )),
        Some(Err(_)) => out.push("idsite is not a number: Matomo refuses the hit".to_owned()),
        Some(Ok(_)) => {}
    }
    if hit.param("cip").is_some() && hit.token != Some(true) {
        out.push("cip without a valid token_auth: Matomo refuses the hit".to_owned());
    }
    for name in ["_id", "cid"] {
        if let Some(id) = hit.param(name) {
            if id.parse::<crate::VisitorId>().is_err() {
                out.push(format!(
                    "{name}={id} is not 16 hexadecimal digits: Matomo refuses it"
                ));
            }
        }
    }
    match hit.param("url") {
        None => out.push("no url: Matomo records the page with an empty URL".to_owned()),
        Some(url) if url::Url::parse(url).is_err() => out.push(format!(
            "url={url} is not absolute: Matomo cannot attribute it to a page"
        )),
        Some(_) => {}
    }
    if let Some(cdt) = hit.param("cdt").and_then(|c| c.trim().parse::<u64>().ok()) {
        if crate::request::cdt_needs_token(cdt, SystemTime::now()) && hit.token != Some(true) {
            out.push(
                "cdt is older than 24 hours and no valid token came: Matomo refuses it".to_owned(),
            );
        }
    }
    if let HitOutcome::Invalid(error) = &hit.outcome {
        out.push(format!("not a valid hit: {error}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{judge, warnings, Via};
    use crate::unix_time::unix_seconds;
    use std::collections::BTreeSet;
    use std::time::SystemTime;

    #[test]
    fn a_cdt_older_than_a_day_is_warned_about_unless_a_valid_token_came() {
        let sites = BTreeSet::from([1]);
        let day = crate::request::CDT_WITHOUT_TOKEN_MAX_AGE.as_secs();
        let now = unix_seconds(SystemTime::now());
        let warned = |cdt: u64, token: Option<&str>| {
            let cdt = cdt.to_string();
            let params = [("idsite", "1"), ("rec", "1"), ("cdt", cdt.as_str())];
            let hit = judge(
                Via::Get,
                &params,
                true,
                token,
                Some("good"),
                &sites,
                SystemTime::now(),
            );
            warnings(&hit, &sites)
                .iter()
                .any(|w| w.starts_with("cdt is older than 24 hours"))
        };
        assert!(warned(now - day - 5, None));
        assert!(warned(now - day - 5, Some("bad")));
        assert!(!warned(now - day - 5, Some("good")));
        assert!(!warned(now - day + 5, None));
        assert!(
            !warned(now + 60, None),
            "a time ahead of the clock is not old"
        );
    }
}
