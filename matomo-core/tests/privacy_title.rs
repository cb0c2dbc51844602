//! IP anonymisation, path masks, query redaction, and page titles.

use matomo_core::{anonymize_ip, html_title, mask_path, redact_query, UrlMask};
use proptest::prelude::*;
use std::net::IpAddr;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn ipv4_anonymisation_zeroes_zero_to_three_bytes() {
    let address = ip("198.51.100.77");
    assert_eq!(anonymize_ip(address, 0), ip("198.51.100.77"));
    assert_eq!(anonymize_ip(address, 1), ip("198.51.100.0"));
    assert_eq!(anonymize_ip(address, 2), ip("198.51.0.0"));
    assert_eq!(anonymize_ip(address, 3), ip("198.0.0.0"));
}

#[test]
fn ipv6_anonymisation_uses_the_matching_masks() {
    let address = ip("2001:db8:1111:2222:3333:4444:5555:6666");
    assert_eq!(anonymize_ip(address, 0), address);
    assert_eq!(anonymize_ip(address, 1), ip("2001:db8:1111:2222::"));
    assert_eq!(anonymize_ip(address, 2), ip("2001:db8:1111::"));
    assert_eq!(anonymize_ip(address, 3), ip("2001:db8::"));
    assert_eq!(
        anonymize_ip(ip("::ffff:198.51.100.77"), 2),
        ip("198.51.0.0")
    );
}

#[test]
fn masks_rewrite_paths_with_or_without_a_trailing_slash() {
    let masks = vec![
        UrlMask::new(r"^/users/\d+", "/users/:id").unwrap(),
        UrlMask::new(r"/orders/[0-9a-f-]{36}", "/orders/:uuid").unwrap(),
    ];
    assert_eq!(mask_path("/users/123/", &masks), "/users/:id/");
    assert_eq!(mask_path("/users/123", &masks), "/users/:id");
    assert_eq!(
        mask_path(
            "/users/9/orders/123e4567-e89b-12d3-a456-426614174000",
            &masks
        ),
        "/users/:id/orders/:uuid"
    );
    assert_eq!(mask_path("/about", &masks), "/about");
}

#[test]
fn masks_can_use_groups() {
    let masks = vec![UrlMask::new(r"^/(en|de)/item/\d+", "/$1/item/:id").unwrap()];
    assert_eq!(mask_path("/de/item/77", &masks), "/de/item/:id");
}

#[test]
fn redaction_replaces_only_the_named_values_and_keeps_every_other_byte() {
    let names: Vec<String> = ["password", "token"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        redact_query("q=a%20b+c&PASSWORD=hunter2&to%6Ben=x&flag&token", &names),
        "q=a%20b+c&PASSWORD=REDACTED&to%6Ben=REDACTED&flag&token"
    );
    assert_eq!(redact_query("q=1", &names), "q=1");
}

#[test]
fn titles_decode_entities_once_and_collapse_white_space() {
    let html =
        b"<html><head><title>\n  Tom &amp;amp; Jerry &lt;3 &#x1F600; &eacute;t&eacute;\n</title>";
    assert_eq!(
        html_title(html).as_deref(),
        Some("Tom &amp; Jerry <3 \u{1F600} été")
    );
}

#[test]
fn titles_are_found_in_any_case_and_with_attributes() {
    assert_eq!(
        html_title(b"<TITLE data-x=\"1\">Upper</TITLE>").as_deref(),
        Some("Upper")
    );
    assert_eq!(html_title(b"<titles>no</titles>"), None);
    assert_eq!(html_title(b"<title></title>"), None);
}

#[test]
fn broken_html_and_invalid_utf8_are_tolerated() {
    assert_eq!(
        html_title(b"<title>Unclosed and cut").as_deref(),
        Some("Unclosed and cut")
    );
    assert_eq!(
        html_title(b"<title>Bad \xff\xfe bytes</title>").as_deref(),
        Some("Bad \u{fffd}\u{fffd} bytes")
    );
    assert_eq!(html_title(b"<title"), None);
}

#[test]
fn titles_are_capped() {
    let long = format!("<title>{}</title>", "é".repeat(1000));
    assert_eq!(html_title(long.as_bytes()).unwrap().chars().count(), 250);
}

#[test]
fn a_title_cut_after_a_space_has_no_trailing_space() {
    // Found by the html_title fuzz target: 249 characters, a space, then more.
    let html = format!("<title>{} tail</title>", "x".repeat(249));
    let title = html_title(html.as_bytes()).unwrap();
    assert_eq!(title, "x".repeat(249));
    assert_eq!(title.trim_end(), title);
}

#[test]
fn the_scan_is_bounded() {
    let mut body = vec![b' '; 100 * 1024];
    body.extend_from_slice(b"<title>Far away</title>");
    assert_eq!(html_title(&body), None);
}

proptest! {
    #[test]
    fn title_scan_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Some(title) = html_title(&body) {
            prop_assert!(!title.is_empty() && title.chars().count() <= 250);
        }
    }

    #[test]
    fn anonymised_ipv4_keeps_the_leading_bytes(octets in any::<[u8; 4]>(), bytes in 0u8..=3) {
        let IpAddr::V4(out) = anonymize_ip(IpAddr::from(octets), bytes) else { unreachable!() };
        let keep = 4 - bytes as usize;
        prop_assert_eq!(&out.octets()[..keep], &octets[..keep]);
        prop_assert!(out.octets()[keep..].iter().all(|b| *b == 0));
    }
}

proptest! {
    /// A mask replaces exactly as `Regex::replace_all` does, whether its replacement refers to
    /// groups or not: anchored (at most one match, found without a second search), repeated, empty
    /// and Unicode matches included.
    #[test]
    fn a_mask_replaces_as_regex_replace_all_does(
        path in "(/|users|USERS|[0-9]{1,4}|é|x|:id|-){0,12}",
        (pattern, replacement) in prop_oneof![
            Just((r"^/users/\d+", "/users/:id")),
            Just((r"\d+", "{n}")),
            Just((r"x*", "-")),
            Just((r"é", "")),
            Just((r"/(\d+)", "/<$1>")),
            Just((r"^$", "/")),
            Just((r"^x*", "<x>")),
            Just((r"(?m)^/", "|")),
            Just((r"\A/users|\d$", "#")),
            Just((r"^(?:/users|/x)/\d+", ":n")),
            Just((r"\b\d+", ":n")),
            // Anchored, searched by the mask's DFA: Unicode classes, case folding, a pattern that
            // matches at the very end, and a Unicode word boundary (no DFA: the regex answers).
            Just((r"^/\w+", "/w")),
            Just((r"^(?i)/USERS/\d+", "/u")),
            Just((r"^/users/\d+$", "/u/n")),
            Just((r"^/é+", "/e")),
            Just((r"^\b/?\w", "!")),
        ],
    ) {
        let mask = UrlMask::new(pattern, replacement).unwrap();
        let expected = regex::Regex::new(pattern).unwrap().replace_all(&path, replacement);
        prop_assert_eq!(mask.apply(&path), expected);
    }
}

/// Redaction as the docs say it: every `name=value` pair whose decoded name is one of `names` in
/// any case gets `REDACTED` for its value; everything else is kept byte for byte.
fn redacted_by_the_book(query: &str, names: &[String]) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => {
                let decoded = form_urlencoded::parse(name.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                if names.iter().any(|n| n.eq_ignore_ascii_case(&decoded)) {
                    format!("{name}=REDACTED")
                } else {
                    pair.to_owned()
                }
            }
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #[test]
    fn redaction_matches_the_book_under_the_default_names(
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    proptest::sample::select(matomo_core::DEFAULT_REDACTED_PARAMS).prop_map(str::to_owned),
                    "(?i)(page|sort|sig|code|auth|key|token|tok%65n|pass\\+word|[a-z_]{0,12})",
                ],
                proptest::option::of("[a-zA-Z0-9%=+]{0,8}"),
            ),
            0..6,
        ),
    ) {
        let query = pairs
            .iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{name}={value}"),
                None => name.clone(),
            })
            .collect::<Vec<_>>()
            .join("&");
        let names: Vec<String> = matomo_core::DEFAULT_REDACTED_PARAMS
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        prop_assert_eq!(redact_query(&query, &names), redacted_by_the_book(&query, &names));
    }
}
