//! Any bulk request body the Matomo stand-in (`MockMatomo`, `matomo-cli listen`) receives: never a
//! panic; the answer's counts are the hits' outcomes; the indices are shown only with the valid
//! token, and they are the invalid hits' numbers; a tracked hit encodes and decodes back to itself; a token is never kept in the clear.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matomo_core::testing::{judge_bulk, HitOutcome, Via};
use matomo_core::TrackingRequest;
use std::collections::BTreeSet;
use std::time::SystemTime;

const TOKEN: &str = "fuzz-token";

fuzz_target!(|data: &[u8]| {
    let sites = BTreeSet::from([1, 3]);
    let now = SystemTime::now();
    let judged = judge_bulk(data, &sites, Some(TOKEN), true, now);
    let answer = &judged.answer;
    assert_eq!(answer["status"], "success");
    let count = |outcome: fn(&HitOutcome) -> bool| {
        judged
            .hits
            .iter()
            .filter(|hit| outcome(&hit.outcome))
            .count() as u64
    };
    assert_eq!(
        answer["tracked"].as_u64(),
        Some(count(|o| *o == HitOutcome::Tracked))
    );
    assert_eq!(
        answer["invalid"].as_u64(),
        Some(count(HitOutcome::is_invalid))
    );
    // The indices of the invalid hits, shown only when the body's token is the valid one.
    let token_valid = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .is_some_and(|body| {
            body.get("requests")
                .is_some_and(serde_json::Value::is_array)
                && body.get("token_auth").and_then(serde_json::Value::as_str) == Some(TOKEN)
        });
    match answer.get("invalid_indices") {
        Some(indices) => {
            assert!(token_valid, "indices only for the valid token");
            let invalid: Vec<serde_json::Value> = judged
                .hits
                .iter()
                .filter(|hit| hit.outcome.is_invalid())
                .map(|hit| match hit.via {
                    Via::Bulk(index) => index.into(),
                    via => panic!("a bulk hit came {via:?}"),
                })
                .collect();
            assert_eq!(indices.as_array(), Some(&invalid), "the invalid hits' indices");
        }
        None => assert!(!token_valid, "the valid token sees the indices"),
    }
    for (index, hit) in judged.hits.iter().enumerate() {
        assert_eq!(hit.via, Via::Bulk(index), "the hits read are numbered in order");
        for (name, value) in &hit.params {
            if name == "token_auth" {
                assert_eq!(value, "***", "a token is never kept in the clear");
            }
        }
        if hit.outcome == HitOutcome::Tracked {
            let request = hit.request.as_ref().expect("a tracked hit decoded");
            let again = TrackingRequest::from_query(&request.to_query()).expect("it decodes again");
            assert_eq!(&again, request);
        }
    }
    // Without the hits, the same answer.
    let unkept = judge_bulk(data, &sites, Some(TOKEN), false, now);
    assert_eq!(unkept.answer, judged.answer);
    assert_eq!(unkept.answered, judged.answered);
});
