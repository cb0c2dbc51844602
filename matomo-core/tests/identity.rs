//! Visitor ids from Matomo's cookie or a keyed hash, and the client IP behind proxies.

use matomo_core::{
    client_ip, visitor_id_from_cookies, HitBuilder, HttpExchange, Salt, TrackerConfig, VisitorId,
};
use proptest::prelude::*;
use std::net::IpAddr;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn matomo_4_cookie_layout_is_read() {
    let id = visitor_id_from_cookies("_pk_id.3.a1b2=5a4b3c2d1e0f9a8b.1732530000.", 3).unwrap();
    assert_eq!(id.to_string(), "5a4b3c2d1e0f9a8b");
    let without_dot = visitor_id_from_cookies("_pk_id.3.a1b2=5a4b3c2d1e0f9a8b.1732530000", 3);
    assert_eq!(without_dot, Some(id));
}

#[test]
fn the_older_six_field_cookie_layout_is_read() {
    let header =
        "_pk_ses.1.dead=1; _pk_id.1.dead=0011223344556677.1600000000.5.1600003600.1600001800.";
    assert_eq!(
        visitor_id_from_cookies(header, 1).unwrap().to_string(),
        "0011223344556677"
    );
}

#[test]
fn garbage_cookies_are_ignored() {
    for header in [
        "_pk_id.1.x=not-hex-at-all.1600000000",
        "_pk_id.1.x=0011223344556677",
        "_pk_id.1.x=00112233445566.1600000000",
        "_pk_id.1.x=0011223344556677.16000x0000",
        "_pk_id.1.x=0011223344556677.1.2.3",
        "_pk_id.1.x",
        ";;;==;",
        "",
    ] {
        assert_eq!(visitor_id_from_cookies(header, 1), None, "{header}");
    }
}

#[test]
fn the_cookie_is_found_among_others_in_any_spacing_and_quoting() {
    let id = Some("0011223344556677".parse().unwrap());
    for header in [
        "a=1;_pk_id.1.x=0011223344556677.1600000000",
        "a=1 ;\t _pk_id.1.x=0011223344556677.1600000000 ; b=2",
        "_pk_id.12.x=8899aabbccddeeff.1600000000; _pk_id.1.x=0011223344556677.1600000000",
        "_pk_id.1.x=broken; _pk_id.1.y=0011223344556677.1600000000",
        "_pk_id.1.x=\"0011223344556677.1600000000.\"",
        "x=a_pk_id.1.x=ffffffffffffffff.1; _pk_id.1.x=0011223344556677.1600000000",
    ] {
        assert_eq!(visitor_id_from_cookies(header, 1), id, "{header}");
    }
    for header in [
        // Only the start of a cookie name counts, not a name or value that contains it.
        "my_pk_id.1.x=0011223344556677.1600000000",
        "x=_pk_id.1.x=0011223344556677.1600000000",
        "_pk_id.1=0011223344556677.1600000000",
        "_pk_id.1x.y=0011223344556677.1600000000",
    ] {
        assert_eq!(visitor_id_from_cookies(header, 1), None, "{header}");
    }
}

#[test]
fn the_creation_time_is_one_to_twenty_digits() {
    let id = Some("0123456789abcdef".parse().unwrap());
    for (time, expected) in [
        ("", None),
        ("1", id),
        ("12345678901234567890", id),
        ("123456789012345678901", None),
    ] {
        for tail in [
            "",
            ".",
            ";x=1",
            ". ; x=1",
            ".1.2.3.4",
            ".1.2.3.123456789012345678901",
        ] {
            let header = format!("_pk_id.1.x=0123456789abcdef.{time}{tail}");
            let expected = expected.filter(|_| !tail.ends_with("901"));
            assert_eq!(visitor_id_from_cookies(&header, 1), expected, "{header}");
        }
    }
}

#[test]
fn another_sites_cookie_is_not_used() {
    assert_eq!(
        visitor_id_from_cookies("_pk_id.12.x=0011223344556677.1600000000", 1),
        None
    );
}

#[test]
fn derived_ids_are_stable_per_visitor_and_differ_between_visitors_and_salts() {
    let builder = |salt: &str| {
        let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
        config.visitor_id_salt = Some(Salt::new(salt));
        HitBuilder::new(&config).unwrap()
    };
    let (a, b) = (builder("one"), builder("two"));
    let visitor = |peer: &str, agent: &str| exchange(peer, &[("user-agent", agent)]);
    let id = a.visitor_id(&visitor("192.0.2.1", "Firefox"));
    assert_eq!(id, a.visitor_id(&visitor("192.0.2.1", "Firefox")));
    assert_eq!(
        id,
        builder("one").visitor_id(&visitor("192.0.2.1", "Firefox"))
    );
    assert_ne!(id, a.visitor_id(&visitor("192.0.2.1", "Chrome")));
    assert_ne!(id, a.visitor_id(&visitor("192.0.2.2", "Firefox")));
    assert_ne!(id, b.visitor_id(&visitor("192.0.2.1", "Firefox")));
}

fn exchange(peer: &str, headers: &[(&str, &str)]) -> HttpExchange {
    let mut builder = HttpExchange::builder("GET", "/").peer(ip(peer));
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.build()
}

#[test]
fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let e = exchange(
        "198.51.100.9",
        &[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")],
    );
    assert_eq!(client_ip(&e, &[]), Some(ip("198.51.100.9")));
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    assert_eq!(client_ip(&e, &trusted), Some(ip("198.51.100.9")));
}

#[test]
fn the_chain_is_walked_from_the_right_skipping_trusted_hops() {
    let trusted = [
        "10.0.0.0/8".parse().unwrap(),
        "2001:db8:ffff::/48".parse().unwrap(),
    ];
    // A client-supplied spoof on the left must not win.
    let e = exchange(
        "10.0.0.1",
        &[("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.1.1.1")],
    );
    assert_eq!(client_ip(&e, &trusted), Some(ip("203.0.113.5")));
    let all_trusted = exchange("10.0.0.1", &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
    assert_eq!(client_ip(&all_trusted, &trusted), Some(ip("10.9.9.9")));
}

#[test]
fn forwarded_wins_over_x_forwarded_for_and_reads_ipv6_with_ports() {
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    let e = exchange(
        "10.0.0.1",
        &[
            (
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1"#,
            ),
            ("x-forwarded-for", "1.1.1.1"),
        ],
    );
    assert_eq!(client_ip(&e, &trusted), Some(ip("2001:db8:cafe::17")));
}

#[test]
fn x_real_ip_is_used_last() {
    let trusted = ["127.0.0.1/32".parse().unwrap()];
    let e = exchange("127.0.0.1", &[("x-real-ip", "203.0.113.77")]);
    assert_eq!(client_ip(&e, &trusted), Some(ip("203.0.113.77")));
}

#[test]
fn an_unreadable_hop_falls_back_to_the_peer() {
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    let e = exchange("10.0.0.1", &[("x-forwarded-for", "203.0.113.5, garbage")]);
    assert_eq!(client_ip(&e, &trusted), Some(ip("10.0.0.1")));
    let f = exchange("10.0.0.1", &[("forwarded", "for=unknown")]);
    assert_eq!(client_ip(&f, &trusted), Some(ip("10.0.0.1")));
}

#[test]
fn ipv4_mapped_peers_are_canonical() {
    let trusted = ["192.0.2.0/24".parse().unwrap()];
    let e = exchange("::ffff:192.0.2.1", &[("x-forwarded-for", "198.51.100.2")]);
    assert_eq!(client_ip(&e, &trusted), Some(ip("198.51.100.2")));
}

#[test]
fn forwarded_handles_quotes_and_commas_inside_them() {
    let trusted = [
        "10.0.0.0/8".parse().unwrap(),
        "192.0.2.60/32".parse().unwrap(),
    ];
    let via =
        |forwarded: &str| client_ip(&exchange("10.0.0.1", &[("forwarded", forwarded)]), &trusted);
    // The comma inside the quotes does not end the element.
    assert_eq!(
        via(r#"for="198.51.100.17:80";by="a,b""#),
        Some(ip("198.51.100.17"))
    );
    // A trusted hop (in any case of `for`) is passed over, up to the client.
    assert_eq!(
        via(r#"for="_gazonk", for="198.51.100.17:80";by="a,b", For=192.0.2.60"#),
        Some(ip("198.51.100.17"))
    );
    // An obfuscated hop cannot be read: the peer is the client.
    assert_eq!(
        via(r#"for="_gazonk", For=192.0.2.60"#),
        Some(ip("10.0.0.1"))
    );
}

proptest! {
    #[test]
    fn cookie_parsing_never_panics_and_only_yields_valid_ids(header in "\\PC{0,120}") {
        if let Some(id) = visitor_id_from_cookies(&header, 1) {
            prop_assert_eq!(id.to_string().len(), 16);
        }
    }

    /// A visitor id parses exactly when the text is 16 hexadecimal digits, to the number they
    /// spell.
    #[test]
    fn visitor_ids_parse_exactly_sixteen_hex_digits(
        text in "[0-9a-fA-F]{16}|[0-9a-fA-FgG /+-]{14,18}|\\PC{0,18}",
    ) {
        let expected = (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(&text, 16).unwrap());
        let parsed = text.parse::<VisitorId>().ok();
        prop_assert_eq!(parsed.map(|id| u64::from_be_bytes(id.to_bytes())), expected);
    }

    #[test]
    fn forwarded_parsing_never_panics(header in "\\PC{0,120}") {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        prop_assert!(client_ip(&exchange("10.0.0.1", &[("forwarded", &header)]), &trusted).is_some());
    }

    #[test]
    fn the_client_is_never_a_trusted_proxy_when_an_untrusted_hop_exists(
        client in any::<[u8; 4]>(),
        proxies in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let client = IpAddr::from(client);
        prop_assume!(!matches!(client, IpAddr::V4(v4) if v4.octets()[0] == 10));
        let mut chain = vec![client.to_string()];
        chain.extend(proxies.iter().map(|p| format!("10.0.0.{p}")));
        let e = exchange("10.0.0.1", &[("x-forwarded-for", &chain.join(", "))]);
        prop_assert_eq!(client_ip(&e, &["10.0.0.0/8".parse().unwrap()]), Some(client));
    }
}

/// What `visitor_id_from_cookies` promises, written plainly: split the header into pairs, take the
/// first `_pk_id.<site>.*` cookie whose value (blanks and quotes around it removed) is a visitor id
/// in one of Matomo's layouts.
fn cookie_reference(header: &str, site_id: u32) -> Option<VisitorId> {
    let prefix = format!("_pk_id.{site_id}.");
    let number = |f: &str| !f.is_empty() && f.len() <= 20 && f.bytes().all(|b| b.is_ascii_digit());
    for pair in header.split(';') {
        let Some((name, value)) = pair.trim_start_matches([' ', '\t']).split_once('=') else {
            continue;
        };
        if !name.starts_with(&prefix) {
            continue;
        }
        let value = value.trim_ascii();
        let value = value.strip_prefix('"').unwrap_or(value);
        let value = value.strip_suffix('"').unwrap_or(value);
        let fields: Vec<&str> = value.split('.').collect();
        let layout = match fields.len() {
            2 => number(fields[1]),
            3 => number(fields[1]) && fields[2].is_empty(),
            6 => number(fields[1]) && fields[2..].iter().all(|f| f.is_empty() || number(f)),
            _ => false,
        };
        let hex = fields[0].len() == 16 && fields[0].bytes().all(|b| b.is_ascii_hexdigit());
        if layout && hex {
            return fields[0].parse().ok();
        }
    }
    None
}

proptest! {
    /// Headers made of the pieces real ones hold (other cookies, other sites' and sessions'
    /// Matomo cookies, both id layouts, quotes, blanks, broken values) read as the plain reference
    /// reads them.
    #[test]
    fn cookie_parsing_matches_the_reference(
        pairs in proptest::collection::vec((
            prop_oneof![
                Just("_pk_id.1.1fff"), Just("_pk_id.12.ab"), Just("_pk_id.1"), Just("_pk_id.1x.y"),
                Just("a_pk_id.1.x"), Just("_pk_ses.1.x"), Just("session"), Just(" _pk_id.1.x"),
                Just("\t_pk_id.1.x"), Just("_pk_id.1.x=y"),
            ],
            prop_oneof![
                Just("0123456789abcdef.1700000000."), Just("0123456789ABCDEF.1700000000"),
                Just("0011223344556677.1600000000.5.1600003600.1600001800."),
                Just("0011223344556677.1600000000.5..1600001800.9"),
                Just("\"0123456789abcdef.1700000000.\""), Just(" 0123456789abcdef.1.\t"),
                Just("0123456789abcdef"), Just("0123456789abcde.1"), Just("0123456789abcdef.1.2.3"),
                Just("0123456789abcdef.1.2.3.4"), Just("0123456789abcdef.1.2.3.4.5.6"),
                Just("0123456789abcdef.123456789012345678901"), Just("_pk_id.1.x=0123456789abcdef.1"),
                Just("0123456789abcdef.12345678901234567890"), Just("0123456789abcdef.1\" "),
                Just("0123456789abcdef.1 \""), Just("\" 0123456789abcdef.1"), Just("\"\"0123456789abcdef.1"),
                Just("0123456789abcdef.1.\"\""), Just(""),
            ],
            "[ -~]{0,6}",
            prop_oneof![Just("; "), Just(";"), Just(" ;\t"), Just(";;"), Just("")],
        ), 0..5),
    ) {
        let header: String = pairs
            .iter()
            .map(|(name, value, noise, separator)| format!("{name}={value}{noise}{separator}"))
            .collect();
        for site in [1, 12] {
            prop_assert_eq!(
                visitor_id_from_cookies(&header, site),
                cookie_reference(&header, site),
                "{:?} for site {}", header, site
            );
        }
    }

    /// Values made of the bytes the value reader decides on (digits, hex, dots, blanks, quotes,
    /// separators), after a name that matches: read as the reference reads them.
    #[test]
    fn cookie_values_read_as_the_reference_reads_them(
        value in "[\"\t ]{0,2}[0-9a-f]{14,17}[.0-9]{0,26}[0-9a-g.;\"\t =]{0,8}",
    ) {
        let header = format!("_pk_id.1.x={value}");
        prop_assert_eq!(
            visitor_id_from_cookies(&header, 1),
            cookie_reference(&header, 1),
            "{:?}", header
        );
    }
}
