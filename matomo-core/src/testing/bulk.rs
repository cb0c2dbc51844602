//! How Matomo reads and answers a bulk tracking request (a JSON `POST` to `matomo.php`), as
//! observed on real Matomo 4 and 5 (`plugins/BulkTracking/Tracker/` in Matomo): always a 200 with
//! counts, never an HTTP error,
//! even for a bad token or a body that is not JSON.

use super::matomo::{judge, last_param, HitOutcome, ReceivedHit, Via};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::SystemTime;

/// What Matomo makes of a bulk request body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BulkJudgement {
    /// The JSON Matomo answers with: `status`, `tracked`, `invalid`, and `invalid_indices` when the
    /// body carries the valid token.
    pub answer: serde_json::Value,
    /// The hits read, in order; empty unless they were asked for.
    pub hits: Vec<ReceivedHit>,
    /// Whether Matomo sends the answer: not when the body's `send_image` is `0` (then it answers
    /// 204 without a body, having tracked the hits all the same).
    pub answered: bool,
}

/// Judges a bulk request body as Matomo does, for sites `sites` whose valid token is
/// `valid_token`, at `now`, as `BulkTracking` reads it:
/// - each entry of `requests` is one hit: a string is a URL (or just `?` and a query) whose query
///   holds the parameters, and an entry without a query is skipped, taking no index; a JSON object
///   holds the parameters as members; anything else is a hit without parameters, which counts as
///   neither tracked nor invalid;
/// - a hit is authenticated with the body's `token_auth` or, when the body has none (or an empty
///   one), with its own;
/// - a body that is not JSON, or holds no `requests` array, tracks nothing;
/// - with `send_image` `0` in the body, the hits are tracked and no answer is sent (204).
///
/// The hits are returned only when `keep_hits` (each one's raw parameters copied); the answer is
/// the same either way. This is what [`MockMatomo`](super::MockMatomo) answers, and what
/// `matomo-cli listen` does with outside input.
///
/// ```
/// use matomo_core::testing::judge_bulk;
/// use std::collections::BTreeSet;
/// let body = br#"{"requests":["?idsite=1&rec=1&url=https%3A%2F%2Fa.example%2F","?idsite=9&rec=1"]}"#;
/// let judged = judge_bulk(body, &BTreeSet::from([1]), None, true, std::time::SystemTime::now());
/// assert_eq!(judged.answer["tracked"], 1);
/// assert_eq!(judged.answer["invalid"], 1);
/// // Without the token, no indices: Matomo shows them only to a caller it trusts.
/// assert!(judged.answer.get("invalid_indices").is_none());
/// assert_eq!(judged.hits[0].request.as_ref().unwrap().url(), Some("https://a.example/"));
/// ```
pub fn judge_bulk(
    body: &[u8],
    sites: &BTreeSet<u32>,
    valid_token: Option<&str>,
    keep_hits: bool,
    now: SystemTime,
) -> BulkJudgement {
    let Some(BulkBody {
        requests,
        token,
        answered,
    }) = BulkBody::parse(body)
    else {
        return BulkJudgement {
            answer: serde_json::json!({"status": "success", "tracked": 0, "invalid": 0}),
            hits: Vec::new(),
            answered: true,
        };
    };
    let mut hits = Vec::new();
    let (mut tracked, mut invalid, mut indices) = (0, 0, Vec::new());
    // Room for a usual hit's parameters, so collecting them does not regrow; one list for all.
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(32);
    // Matomo numbers the hits it reads: an entry it skips takes no index.
    let mut index = 0;
    for entry in &requests {
        params.clear();
        match entry {
            BulkEntry::Text(text) => match url_query(text) {
                Some(query) => params.extend(form_urlencoded::parse(query.as_bytes())),
                None => continue,
            },
            BulkEntry::Params(pairs) => params.extend(
                pairs
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()))),
            ),
            BulkEntry::Empty => {}
        }
        let hit_token = entry_token(token.as_deref(), last_param(&params, "token_auth"));
        let hit = judge(
            Via::Bulk(index),
            &params,
            keep_hits,
            hit_token,
            valid_token,
            sites,
            now,
        );
        if hit.outcome == HitOutcome::Tracked {
            tracked += 1;
        } else if hit.outcome.is_invalid() {
            invalid += 1;
            indices.push(index);
        }
        if keep_hits {
            hits.push(hit);
        }
        index += 1;
    }
    let mut answer =
        serde_json::json!({"status": "success", "tracked": tracked, "invalid": invalid});
    if token.is_some() && token.as_deref() == valid_token {
        answer["invalid_indices"] = serde_json::json!(indices);
    }
    BulkJudgement {
        answer,
        hits,
        answered,
    }
}

/// The token Matomo authenticates a bulk entry with (`Request::authenticateTrackingApi`): the
/// body's, unless PHP's `empty()` holds for it (`""` or `"0"`); then the entry's own `token_auth`,
/// the last one when it repeats (as `parse_str` keeps).
fn entry_token<'t>(body: Option<&'t str>, own: Option<&'t str>) -> Option<&'t str> {
    match body {
        Some(token) if !matches!(token, "" | "0") => Some(token),
        _ => own,
    }
}

/// The query of a bulk entry, as PHP's `parse_url` finds it: from the first `?` to a `#`, if no `#`
/// comes first; `None` when there is none or it is empty (Matomo then skips the entry).
fn url_query(entry: &str) -> Option<&str> {
    let at = entry.find(['?', '#'])?;
    let rest = entry.get(at..)?.strip_prefix('?')?;
    let query = rest.split_once('#').map_or(rest, |(query, _)| query);
    (!query.is_empty()).then_some(query)
}

/// One entry of a bulk body's `requests`.
#[derive(Debug, PartialEq)]
enum BulkEntry<'a> {
    /// A string: a URL, or `?` and a query.
    Text(Cow<'a, str>),
    /// A JSON object: its members, as PHP reads them as strings (a number as written, `true` as
    /// `1`, `false` as empty; `null`, arrays and objects left out).
    Params(Vec<(String, String)>),
    /// Any other JSON value: a hit without parameters.
    Empty,
}

impl BulkEntry<'_> {
    fn from_value(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::String(text) => BulkEntry::Text(Cow::Owned(text.clone())),
            Value::Object(members) => BulkEntry::Params(
                members
                    .iter()
                    .filter_map(|(name, value)| Some((name.clone(), php_string(value)?)))
                    .collect(),
            ),
            _ => BulkEntry::Empty,
        }
    }
}

/// A bulk request body as Matomo reads it: the `requests`, the `token_auth`, and whether the
/// answer is sent (`send_image` other than `0`).
struct BulkBody<'a> {
    requests: Vec<BulkEntry<'a>>,
    token: Option<Cow<'a, str>>,
    answered: bool,
}

/// A JSON value as PHP reads it as a string: a number as written, `true` as `1`, `false` as empty;
/// `None` for `null`, arrays and objects.
fn php_string(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(true) => Some("1".to_owned()),
        Value::Bool(false) => Some(String::new()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A member of the body as Matomo reads it with `Common::getRequestVar(name, default, 'string')`:
/// a non-empty string as it is, a number as PHP writes it as a string; `None` (Matomo takes the
/// default) for an empty string, `true`, `false`, `null`, an array or an object.
///
/// Of a fractional number PHP writes at most 14 significant digits and this writes them all; the
/// text matters only for a zero (`send_image`), which both write `0`, or `-0` for a negative zero
/// (serde_json reads the integer `-0` as a negative zero too, where PHP reads `0`).
fn request_var_string(value: &serde_json::Value) -> Option<Cow<'_, str>> {
    use serde_json::Value;
    match value {
        Value::String(text) if !text.is_empty() => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(match number.as_f64() {
            Some(zero) if zero == 0.0 && !number.is_i64() && !number.is_u64() => {
                Cow::Borrowed(if zero.is_sign_negative() { "-0" } else { "0" })
            }
            _ => Cow::Owned(number.to_string()),
        }),
        _ => None,
    }
}

/// Whether a body's `send_image`, read as [`request_var_string`] reads it (`1` by default), lets
/// Matomo send its answer: PHP's `!!` is false only for `"0"`.
fn sends_answer(send_image: Option<&str>) -> bool {
    send_image != Some("0")
}

impl<'a> BulkBody<'a> {
    /// `None` when the body is not JSON or holds no `requests` array.
    fn parse(body: &'a [u8]) -> Option<Self> {
        // Read whole, as PHP's `json_decode` reads it: invalid UTF-8 anywhere refuses the body.
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let requests = value
            .get("requests")?
            .as_array()?
            .iter()
            .map(BulkEntry::from_value)
            .collect();
        let token = value
            .get("token_auth")
            .and_then(request_var_string)
            .map(|token| Cow::Owned(token.into_owned()));
        Some(BulkBody {
            requests,
            token,
            answered: sends_answer(
                value
                    .get("send_image")
                    .and_then(request_var_string)
                    .as_deref(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{judge_bulk, url_query, BulkBody, BulkEntry};
    use crate::testing::{HitOutcome, Via};
    use std::borrow::Cow;
    use std::collections::BTreeSet;
    use std::time::SystemTime;

    fn outcomes(body: &[u8], valid_token: Option<&str>) -> Vec<HitOutcome> {
        let judged = judge_bulk(
            body,
            &BTreeSet::from([1]),
            valid_token,
            true,
            SystemTime::now(),
        );
        judged.hits.into_iter().map(|hit| hit.outcome).collect()
    }

    #[test]
    fn a_bulk_body_is_judged_hit_by_hit_and_answered_with_counts() {
        let sites = BTreeSet::from([1]);
        let body = br#"{"requests":["?idsite=1&rec=1","?idsite=2&rec=1","?idsite=1","https://m.example/matomo.php?idsite=1&rec=1&cip=1.2.3.4"],"token_auth":"good"}"#;
        let judged = judge_bulk(body, &sites, Some("good"), true, SystemTime::now());
        assert_eq!(
            judged.answer,
            serde_json::json!({"status": "success", "tracked": 2, "invalid": 1, "invalid_indices": [1]})
        );
        let outcomes: Vec<_> = judged.hits.iter().map(|hit| hit.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                HitOutcome::Tracked,
                HitOutcome::UnknownSite,
                HitOutcome::NotRecorded,
                HitOutcome::Tracked
            ]
        );
        assert_eq!(judged.hits[3].via, Via::Bulk(3));
        // A wrong token: the hit needing one is refused, and the indices are not shown.
        let body = br#"{"requests":["?idsite=1&rec=1&cip=1.2.3.4"],"token_auth":"bad"}"#;
        let judged = judge_bulk(body, &sites, Some("good"), false, SystemTime::now());
        assert_eq!(
            judged.answer,
            serde_json::json!({"status": "success", "tracked": 0, "invalid": 1})
        );
        assert!(
            judged.hits.is_empty(),
            "hits are returned only when asked for"
        );
        // Not JSON: nothing tracked, still no error.
        let judged = judge_bulk(b"{requests", &sites, None, true, SystemTime::now());
        assert_eq!(
            judged.answer,
            serde_json::json!({"status": "success", "tracked": 0, "invalid": 0})
        );
    }

    #[test]
    fn an_entry_without_a_query_is_skipped_and_takes_no_index() {
        let sites = BTreeSet::from([1]);
        let body = br##"{"requests":["idsite=1&rec=1","?","?idsite=9&rec=1","#x?idsite=1&rec=1","?idsite=1&rec=1#idsite=9"],"token_auth":"good"}"##;
        let judged = judge_bulk(body, &sites, Some("good"), true, SystemTime::now());
        // Only the third and the last are read: the unknown site is hit 0 of what Matomo read.
        assert_eq!(
            judged.answer,
            serde_json::json!({"status": "success", "tracked": 1, "invalid": 1, "invalid_indices": [0]})
        );
        let vias: Vec<_> = judged.hits.iter().map(|hit| hit.via).collect();
        assert_eq!(vias, [Via::Bulk(0), Via::Bulk(1)]);
        assert_eq!(
            judged.hits[1].param("idsite"),
            Some("1"),
            "a fragment is not the query"
        );
        assert_eq!(url_query("https://a.example/p?x=1#f"), Some("x=1"));
        assert_eq!(url_query("?x=1?y=2"), Some("x=1?y=2"));
        assert_eq!(url_query("/p?#f"), None);
        assert_eq!(url_query("no query"), None);
    }

    #[test]
    fn the_bodys_token_counts_before_an_entrys_own() {
        let cip = "idsite=1&rec=1&cip=1.2.3.4";
        let judge = |body: String| outcomes(body.as_bytes(), Some("good"));
        // The body's valid token wins over a bad one of the entry, and the other way round.
        assert_eq!(
            judge(format!(
                r#"{{"requests":["?{cip}&token_auth=bad"],"token_auth":"good"}}"#
            )),
            [HitOutcome::Tracked]
        );
        assert_eq!(
            judge(format!(
                r#"{{"requests":["?{cip}&token_auth=good"],"token_auth":"bad"}}"#
            )),
            [HitOutcome::BadToken]
        );
        // Without a body token, or with one PHP deems empty, the entry's own counts: its last.
        for token in [
            String::new(),
            r#","token_auth":"""#.to_owned(),
            r#","token_auth":"0""#.to_owned(),
        ] {
            let body =
                format!(r#"{{"requests":["?{cip}&token_auth=bad&token_auth=good"]{token}}}"#);
            assert_eq!(judge(body.clone()), [HitOutcome::Tracked], "{body}");
            let body =
                format!(r#"{{"requests":["?{cip}&token_auth=good&token_auth=bad"]{token}}}"#);
            assert_eq!(judge(body.clone()), [HitOutcome::BadToken], "{body}");
        }
    }

    #[test]
    fn a_number_as_the_bodys_token_is_read_as_php_writes_it() {
        let judge = |body: &[u8], valid: &str| {
            judge_bulk(
                body,
                &BTreeSet::from([1]),
                Some(valid),
                true,
                SystemTime::now(),
            )
        };
        let body = br#"{"requests":["?idsite=1&rec=1&cip=1.2.3.4"],"token_auth":12345}"#;
        let judged = judge(body, "12345");
        assert_eq!(judged.hits[0].outcome, HitOutcome::Tracked);
        assert_eq!(
            judged.answer["invalid_indices"],
            serde_json::json!([]),
            "the body's token is the valid one"
        );
        assert_eq!(judge(body, "54321").hits[0].outcome, HitOutcome::BadToken);
        // Not a string or a number: no token in the body, so the entry's own counts.
        for token in ["true", "[\"good\"]", "{}", "null"] {
            let body = format!(
                r#"{{"requests":["?idsite=1&rec=1&cip=1.2.3.4&token_auth=good"],"token_auth":{token}}}"#
            );
            let judged = judge(body.as_bytes(), "good");
            assert_eq!(judged.hits[0].outcome, HitOutcome::Tracked, "{body}");
            assert!(judged.answer.get("invalid_indices").is_none(), "{body}");
        }
    }

    #[test]
    fn send_image_0_in_the_body_tracks_but_answers_nothing() {
        let judge =
            |body: &[u8]| judge_bulk(body, &BTreeSet::from([1]), None, false, SystemTime::now());
        // `send_image` as `Common::getRequestVar(.., 'string')` reads it: a zero, written as a
        // string, an integer or a fraction, is PHP's string "0".
        for body in [
            &br#"{"requests":["?idsite=1&rec=1"],"send_image":"0"}"#[..],
            br#"{"send_image":0,"requests":["?idsite=1&rec=1"]}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":0.0}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":0e3}"#,
        ] {
            let judged = judge(body);
            assert!(!judged.answered, "{}", String::from_utf8_lossy(body));
            assert_eq!(judged.answer["tracked"], 1, "tracked all the same");
        }
        for body in [
            &br#"{"requests":["?idsite=1&rec=1"]}"#[..],
            br#"{"requests":["?idsite=1&rec=1"],"send_image":"1"}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":""}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":1}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":"0.0"}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":-0.0}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":false}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":[0]}"#,
            br#"{"requests":["?idsite=1&rec=1"],"send_image":null}"#,
            b"not json",
        ] {
            assert!(judge(body).answered, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn an_object_entry_holds_the_parameters() {
        let body = br#"{"requests":[{"idsite":1,"rec":true,"url":"https://a.example/","cip":"1.2.3.4"},{"idsite":1,"rec":1,"cip":null},{"idsite":1,"rec":false},7],"token_auth":"good"}"#;
        let judged = judge_bulk(
            body,
            &BTreeSet::from([1]),
            Some("good"),
            true,
            SystemTime::now(),
        );
        let outcomes: Vec<_> = judged.hits.iter().map(|hit| hit.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                HitOutcome::Tracked,
                HitOutcome::Tracked,
                HitOutcome::NotRecorded,
                HitOutcome::NotRecorded
            ]
        );
        assert_eq!(judged.hits[0].param("cip"), Some("1.2.3.4"));
        assert_eq!(judged.hits[1].param("cip"), None, "null is no value");
        assert_eq!(
            judged.answer,
            serde_json::json!({"status": "success", "tracked": 2, "invalid": 0, "invalid_indices": []})
        );
    }

    #[test]
    fn a_bulk_body_is_read_as_php_reads_it() {
        let body = br#"{"requests":["?idsite=1&rec=1","?idsite=1&url=a\/b"],"token_auth":"t0k"}"#;
        let parsed = BulkBody::parse(body).unwrap();
        assert_eq!(
            parsed.requests,
            [
                BulkEntry::Text(Cow::Borrowed("?idsite=1&rec=1")),
                BulkEntry::Text(Cow::Borrowed("?idsite=1&url=a/b"))
            ]
        );
        assert_eq!(parsed.token.as_deref(), Some("t0k"));
        // Other shapes of JSON still read, as Matomo reads them.
        let odd =
            BulkBody::parse(br#"{"requests":[7,"?rec=1",{"rec":1.5}],"token_auth":5}"#).unwrap();
        assert_eq!(
            odd.requests,
            [
                BulkEntry::Empty,
                BulkEntry::Text(Cow::Borrowed("?rec=1")),
                BulkEntry::Params(vec![("rec".to_owned(), "1.5".to_owned())])
            ]
        );
        assert_eq!(
            odd.token.as_deref(),
            Some("5"),
            "a number token, as PHP reads it"
        );
        assert!(BulkBody::parse(b"not json").is_none());
    }

    #[test]
    fn a_body_php_cannot_decode_tracks_nothing_even_where_the_bad_part_is_an_unknown_member() {
        let sites = BTreeSet::from([1]);
        // Invalid UTF-8 and a lone surrogate escape: `json_decode` refuses the whole body.
        for bad in [&b"\"?x=\xfd\""[..], br#""\ud800""#] {
            let mut body = br#"{"requests":["?idsite=1&rec=1"],"other":"#.to_vec();
            body.extend_from_slice(bad);
            body.extend_from_slice(br#","token_auth":"good"}"#);
            let judged = judge_bulk(&body, &sites, Some("good"), true, SystemTime::now());
            assert_eq!(
                judged.answer,
                serde_json::json!({"status": "success", "tracked": 0, "invalid": 0}),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        // A valid unknown member is read past, as PHP does.
        let body = br#"{"requests":["?idsite=1&rec=1"],"other":[1,{"a":"b"}],"token_auth":"good"}"#;
        let judged = judge_bulk(body, &sites, Some("good"), true, SystemTime::now());
        assert_eq!(judged.answer["tracked"], 1);
        assert_eq!(judged.answer["invalid_indices"], serde_json::json!([]));
    }
}
