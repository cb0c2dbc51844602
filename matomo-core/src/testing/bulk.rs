//! How Matomo reads and answers a bulk tracking request (a JSON `POST` to `matomo.php`), as
//! observed on a real Matomo 4 (`MATOMO_ANSWERS.md`): always a 200 with counts, never an HTTP error,
//! even for a bad token or a body that is not JSON.

use super::matomo::{judge, HitOutcome, ReceivedHit, Via};
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
}

/// Judges a bulk request body as Matomo does, for sites `sites` whose valid token is
/// `valid_token`, at `now`: each entry of `requests` is one hit (a leading `?` and anything before
/// it is skipped; an entry that is not a string is an empty hit), with its own `token_auth` or the
/// body's. A body that is not JSON, or holds no `requests` array, tracks nothing. The hits are
/// returned only when `keep_hits` (each one's raw parameters copied); the answer is the same
/// either way. This is what [`MockMatomo`](super::MockMatomo) answers, and what `matomo-cli listen`
/// does with outside input.
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
    let Some(BulkBody { requests, token }) = BulkBody::parse(body) else {
        return BulkJudgement {
            answer: serde_json::json!({"status": "success", "tracked": 0, "invalid": 0}),
            hits: Vec::new(),
        };
    };
    let mut hits = Vec::new();
    let (mut tracked, mut invalid, mut indices) = (0, 0, Vec::new());
    // Room for a usual hit's parameters, so collecting them does not regrow; one list for all.
    let mut params = Vec::with_capacity(32);
    for (index, entry) in requests.iter().enumerate() {
        let query: &str = entry;
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        params.clear();
        params.extend(crate::request::parse_pairs(query));
        let own_token = params
            .iter()
            .find(|(k, _)| k == "token_auth")
            .map(|(_, v)| v.as_ref());
        let hit_token = own_token.or(token.as_deref());
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
    }
    let mut answer =
        serde_json::json!({"status": "success", "tracked": tracked, "invalid": invalid});
    if token.is_some() && token.as_deref() == valid_token {
        answer["invalid_indices"] = serde_json::json!(indices);
    }
    BulkJudgement { answer, hits }
}

/// A bulk request body as Matomo reads it: the `requests` (an entry that is not a string reads as
/// an empty hit) and the `token_auth`.
struct BulkBody<'a> {
    requests: Vec<Cow<'a, str>>,
    token: Option<Cow<'a, str>>,
}

impl<'a> BulkBody<'a> {
    /// `None` when the body is not JSON or holds no `requests` array.
    fn parse(body: &'a [u8]) -> Option<Self> {
        /// The usual shape, read without a copy of each request.
        #[derive(serde::Deserialize)]
        struct Usual<'a> {
            #[serde(borrow)]
            requests: Vec<Entry<'a>>,
            #[serde(borrow, default)]
            token_auth: Option<Entry<'a>>,
        }
        /// A string of the body, borrowed unless it holds a JSON escape: serde borrows a
        /// `Cow<str>` only as a field of its own, and copies one that is the item of a `Vec` or
        /// the content of an `Option` (an allocation and a copy per hit).
        #[derive(serde::Deserialize)]
        struct Entry<'a>(#[serde(borrow)] Cow<'a, str>);
        if let Ok(usual) = serde_json::from_slice::<Usual<'a>>(body) {
            return Some(BulkBody {
                requests: usual.requests.into_iter().map(|entry| entry.0).collect(),
                token: usual.token_auth.map(|entry| entry.0),
            });
        }
        // Anything else that is JSON: entries or a token of other types.
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let requests = value
            .get("requests")?
            .as_array()?
            .iter()
            .map(|entry| Cow::Owned(entry.as_str().unwrap_or_default().to_owned()))
            .collect();
        let token = value
            .get("token_auth")
            .and_then(|t| t.as_str())
            .map(|t| Cow::Owned(t.to_owned()));
        Some(BulkBody { requests, token })
    }
}

#[cfg(test)]
mod tests {
    use super::{judge_bulk, BulkBody};
    use crate::testing::{HitOutcome, Via};
    use std::borrow::Cow;
    use std::collections::BTreeSet;
    use std::time::SystemTime;

    #[test]
    fn a_bulk_body_is_judged_hit_by_hit_and_answered_with_counts() {
        let sites = BTreeSet::from([1]);
        let body = br#"{"requests":["?idsite=1&rec=1","idsite=2&rec=1","?idsite=1","?idsite=1&rec=1&cip=1.2.3.4"],"token_auth":"good"}"#;
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
    fn a_bulk_body_is_read_in_place_unless_a_string_holds_an_escape() {
        let body = br#"{"requests":["?idsite=1&rec=1","?idsite=1&url=a\/b"],"token_auth":"t0k"}"#;
        let parsed = BulkBody::parse(body).unwrap();
        assert!(matches!(
            &parsed.requests[0],
            Cow::Borrowed("?idsite=1&rec=1")
        ));
        // `\/` has to be unescaped: a copy.
        assert!(matches!(&parsed.requests[1], Cow::Owned(text) if text == "?idsite=1&url=a/b"));
        assert!(matches!(parsed.token, Some(Cow::Borrowed("t0k"))));
        // Other shapes of JSON still read, as Matomo reads them.
        let odd = BulkBody::parse(br#"{"requests":[7,"?rec=1"],"token_auth":5}"#).unwrap();
        assert_eq!(odd.requests, ["", "?rec=1"]);
        assert_eq!(odd.token, None);
        assert!(BulkBody::parse(b"not json").is_none());
    }
}
