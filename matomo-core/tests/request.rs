//! The Tracking API model: builders refuse invalid hits, encoding matches Matomo's trackers, and
//! decode(encode(r)) == r for arbitrary requests.

use matomo_core::{
    Action, BuildError, CartUpdate, Content, EcommerceItem, EcommerceOrder, Event, Geo, Goal,
    Performance, ProductView, SiteSearch, TokenAuth, TrackingRequest, VisitorId,
};
use proptest::prelude::*;
use std::time::{Duration, SystemTime};

fn params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn page_view_carries_the_mandatory_parameters() {
    let hit = TrackingRequest::builder(5)
        .url("https://example.org/a")
        .action_name("A")
        .build()
        .unwrap();
    let pairs = params(&hit.to_query());
    assert_eq!(param(&pairs, "idsite"), Some("5"));
    assert_eq!(param(&pairs, "rec"), Some("1"));
    assert_eq!(param(&pairs, "apiv"), Some("1"));
    assert_eq!(param(&pairs, "send_image"), Some("0"));
    assert_eq!(param(&pairs, "action_name"), Some("A"));
}

#[test]
fn event_adds_ca_and_its_four_parameters() {
    let hit = TrackingRequest::builder(1)
        .event(Event::new("Video", "Play").name("Intro").value(3.5))
        .build()
        .unwrap();
    let pairs = params(&hit.to_query());
    for (name, value) in [
        ("e_c", "Video"),
        ("e_a", "Play"),
        ("e_n", "Intro"),
        ("e_v", "3.5"),
        ("ca", "1"),
    ] {
        assert_eq!(param(&pairs, name), Some(value), "{name}");
    }
}

#[test]
fn event_without_category_or_action_is_refused() {
    let no_category = TrackingRequest::builder(1)
        .event(Event::new("", "Play"))
        .build();
    assert_eq!(no_category, Err(BuildError::Empty("e_c")));
    let no_action = TrackingRequest::builder(1)
        .event(Event::new("Video", " "))
        .build();
    assert_eq!(no_action, Err(BuildError::Empty("e_a")));
}

#[test]
fn negative_or_non_finite_revenue_is_refused() {
    let goal = TrackingRequest::builder(1)
        .goal(Goal::new(2).revenue(-1.0))
        .build();
    assert_eq!(goal, Err(BuildError::InvalidNumber("revenue")));
    let order = TrackingRequest::builder(1)
        .ecommerce_order(EcommerceOrder::new("A-1", f64::NAN))
        .build();
    assert_eq!(order, Err(BuildError::InvalidNumber("revenue")));
    let item = TrackingRequest::builder(1)
        .cart_update(CartUpdate::new(1.0).item(EcommerceItem::new("SKU", "x", -2.0, 1)))
        .build();
    assert_eq!(item, Err(BuildError::InvalidNumber("ec_items price")));
}

#[test]
fn site_id_zero_is_refused() {
    assert_eq!(
        TrackingRequest::builder(0).build(),
        Err(BuildError::ZeroSiteId)
    );
}

#[test]
fn visitor_ids_must_be_sixteen_hex_digits() {
    assert!("0123456789abcdeg".parse::<VisitorId>().is_err());
    assert!("0123456789abcde".parse::<VisitorId>().is_err());
    let decoded = TrackingRequest::from_query("idsite=1&rec=1&cid=xyz");
    assert!(decoded.is_err(), "{decoded:?}");
}

#[test]
fn token_only_parameters_need_a_token() {
    let ip = "203.0.113.9".parse().unwrap();
    assert_eq!(
        TrackingRequest::builder(1).client_ip(ip).build(),
        Err(BuildError::NeedsToken("cip"))
    );
    let geo = Geo {
        country: Some("fr".into()),
        ..Geo::default()
    };
    assert_eq!(
        TrackingRequest::builder(1).geo(geo.clone()).build(),
        Err(BuildError::NeedsToken("country"))
    );
    let token = TokenAuth::new("abc").unwrap();
    assert!(TrackingRequest::builder(1)
        .client_ip(ip)
        .geo(geo)
        .token(&token)
        .build()
        .is_ok());
}

#[test]
fn cdt_older_than_a_day_needs_a_token_but_a_fresh_one_does_not() {
    let old = SystemTime::now() - Duration::from_secs(25 * 3600);
    assert_eq!(
        TrackingRequest::builder(1).time(old).build(),
        Err(BuildError::NeedsToken("cdt"))
    );
    let fresh = SystemTime::now() - Duration::from_secs(3600);
    assert!(TrackingRequest::builder(1).time(fresh).build().is_ok());
    let token = TokenAuth::new("abc").unwrap();
    assert!(TrackingRequest::builder(1)
        .time(old)
        .token(&token)
        .build()
        .is_ok());
}

#[test]
fn modelled_names_cannot_be_smuggled_in_as_extra_parameters() {
    for name in ["cip", "token_auth", "dimension3", "idsite"] {
        let result = TrackingRequest::builder(1).param(name, "x").build();
        assert_eq!(
            result,
            Err(BuildError::ReservedParameter(name.into())),
            "{name}"
        );
    }
    let plugin = TrackingRequest::builder(1)
        .param("my_plugin", "1")
        .build()
        .unwrap();
    assert!(plugin.to_query().contains("my_plugin=1"));
}

#[test]
fn ecommerce_items_are_encoded_as_matomo_reads_them() {
    let order = EcommerceOrder::new("A-100", 31.0)
        .subtotal(25.0)
        .tax(5.0)
        .shipping(1.0)
        .item(
            EcommerceItem::new("SKU", "name", 10.5, 2)
                .category("cat1")
                .category("cat2"),
        );
    let hit = TrackingRequest::builder(1)
        .ecommerce_order(order)
        .build()
        .unwrap();
    let pairs = params(&hit.to_query());
    assert_eq!(param(&pairs, "idgoal"), Some("0"));
    assert_eq!(param(&pairs, "ec_id"), Some("A-100"));
    assert_eq!(param(&pairs, "revenue"), Some("31"));
    assert_eq!(
        param(&pairs, "ec_items"),
        Some(r#"[["SKU","name",["cat1","cat2"],"10.5",2]]"#)
    );
}

#[test]
fn items_from_other_trackers_decode_with_numbers_and_single_categories() {
    let items = r#"[["S1","n",["a"],10.5,2],["S2","m","b","3",1]]"#;
    let query = format!(
        "idsite=1&rec=1&idgoal=0&revenue=24&ec_items={}",
        form_urlencoded::byte_serialize(items.as_bytes()).collect::<String>()
    );
    let hit = TrackingRequest::from_query(&query).unwrap();
    let Action::CartUpdate(cart) = hit.action() else {
        panic!("a cart update: {:?}", hit.action());
    };
    assert_eq!(cart.items[0].price, 10.5);
    assert_eq!(cart.items[1].categories, vec!["b".to_owned()]);
    assert_eq!(cart.items[1].price, 3.0);
}

#[test]
fn each_rare_parameter_alone_survives_decoding() {
    // The parameters few hits carry, each the only one of its kind in a hit: the decoder makes
    // room for them only when one is there, and must not lose any.
    for (name, value) in [
        ("pv_id", "abc123"),
        ("res", "1280x720"),
        ("h", "12"),
        ("m", "5"),
        ("s", "7"),
        ("cookie", "1"),
        ("_cvar", r#"{"1":["plan","pro"]}"#),
        ("cvar", r#"{"2":["tab","a"]}"#),
        ("_rcn", "spring"),
        ("_rck", "boots"),
        ("country", "de"),
        ("region", "BY"),
        ("city", "Munich"),
        ("lat", "48.1"),
        ("long", "11.5"),
        ("dimension3", "gold"),
        ("x_custom", "kept"),
    ] {
        let query = format!(
            "idsite=1&rec=1&{name}={}",
            form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        );
        let hit = TrackingRequest::from_query(&query).unwrap();
        let pairs = params(&hit.to_query());
        assert_eq!(param(&pairs, name), Some(value), "{name} in {query}");
        assert_eq!(TrackingRequest::from_query(&hit.to_query()).unwrap(), hit);
    }
}

#[test]
fn custom_variables_are_json_by_slot() {
    let hit = TrackingRequest::builder(1)
        .visit_variable(1, "plan", "pro")
        .page_variable(2, "section", "docs")
        .build()
        .unwrap();
    let pairs = params(&hit.to_query());
    assert_eq!(param(&pairs, "_cvar"), Some(r#"{"1":["plan","pro"]}"#));
    assert_eq!(param(&pairs, "cvar"), Some(r#"{"2":["section","docs"]}"#));
}

#[test]
fn every_family_decodes_back_to_itself() {
    let token = TokenAuth::new("t0k3n").unwrap();
    let families = vec![
        Action::PageView,
        Action::Event(Event::new("c", "a")),
        Action::SiteSearch(SiteSearch::new("rust").category("docs").count(4)),
        Action::Goal(Goal::new(3).revenue(9.99)),
        Action::EcommerceOrder(EcommerceOrder::new("o", 1.0).discount(0.5)),
        Action::CartUpdate(CartUpdate::new(0.0)),
        Action::ProductView(ProductView::new("SKU", "Name").category("C").price(2.0)),
        Action::ProductView(ProductView::category_page("Shoes")),
        Action::ContentImpression(Content::new("Banner").piece("/img.png").target("/sale")),
        Action::ContentInteraction {
            interaction: "click".into(),
            content: Content::new("Banner"),
        },
        Action::Outlink("https://other.example/".into()),
        Action::Download("https://example.org/file.pdf".into()),
        Action::Ping,
    ];
    for action in families {
        let hit = TrackingRequest::builder(2)
            .url("https://example.org/")
            .action(action.clone())
            .forced_visitor_id("00112233aabbccdd".parse().unwrap())
            .visitor_id("ffeeddccbbaa9988".parse().unwrap())
            .user_id("user@example.org")
            .page_view_id("Ab12Cd")
            .resolution(1920, 1080)
            .local_time(13, 5, 59)
            .cookie_support(true)
            .new_visit(true)
            .dimension(1, "one")
            .performance(Performance {
                network: Some(1),
                server: Some(2),
                ..Performance::default()
            })
            .campaign_name("spring")
            .campaign_keyword("shoes")
            .bot(true)
            .send_image(true)
            .client_ip("2001:db8::1".parse().unwrap())
            .geo(Geo {
                city: Some("Paris".into()),
                latitude: Some(48.85),
                longitude: Some(2.35),
                ..Geo::default()
            })
            .token(&token)
            .build()
            .unwrap();
        let decoded = TrackingRequest::from_query(&hit.to_query()).unwrap();
        assert_eq!(decoded, hit, "{action:?}");
    }
}

#[test]
fn decode_keeps_unknown_parameters_and_drops_the_token() {
    let hit = TrackingRequest::from_query("?idsite=1&rec=1&rand=42&token_auth=secret&x=1").unwrap();
    assert_eq!(
        hit.extra(),
        &[
            ("rand".to_owned(), "42".to_owned()),
            ("x".to_owned(), "1".to_owned())
        ]
    );
    assert!(!hit.to_query().contains("secret"));
}

#[test]
fn decode_names_the_bad_parameter() {
    let err = TrackingRequest::from_query("idsite=1&rec=1&res=wide").unwrap_err();
    assert_eq!(err.to_string(), "parameter `res` is not WIDTHxHEIGHT");
    let err = TrackingRequest::from_query("idsite=one").unwrap_err();
    assert!(err.to_string().contains("idsite"), "{err}");
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        Just("/مرحبا/عالم".to_owned()),
        Just("Café 😀 title".to_owned()),
        Just("line\r\nInjected: header\r\n".to_owned()),
        "[a-z&=?#%+ ]{0,20}",
    ]
}

fn money() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..1e9f64, Just(0.0), Just(10.5), Just(1e15)]
}

fn action() -> impl Strategy<Value = Action> {
    let non_empty = "[A-Za-z0-9 _-]{0,10}[A-Za-z0-9]";
    prop_oneof![
        Just(Action::PageView),
        Just(Action::Ping),
        (
            non_empty,
            non_empty,
            proptest::option::of(text()),
            proptest::option::of(-1e6..1e6f64)
        )
            .prop_map(|(c, a, n, v)| {
                let mut event = Event::new(c, a);
                event.name = n;
                event.value = v;
                Action::Event(event)
            }),
        (
            non_empty,
            proptest::option::of(text()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(k, c, n)| {
                let mut search = SiteSearch::new(k);
                search.category = c;
                search.count = n;
                Action::SiteSearch(search)
            }),
        (1u32..1000, proptest::option::of(money())).prop_map(|(id, revenue)| {
            let mut goal = Goal::new(id);
            goal.revenue = revenue;
            Action::Goal(goal)
        }),
        (
            non_empty,
            money(),
            proptest::collection::vec(
                (
                    non_empty,
                    text(),
                    proptest::collection::vec(text(), 0..3),
                    money(),
                    any::<u32>()
                ),
                0..3
            )
        )
            .prop_map(|(id, total, items)| {
                let mut order = EcommerceOrder::new(id, total).tax(1.0);
                for (sku, name, cats, price, qty) in items {
                    let mut item = EcommerceItem::new(sku, name, price, qty);
                    item.categories = cats;
                    order = order.item(item);
                }
                Action::EcommerceOrder(order)
            }),
        (non_empty, proptest::option::of(text())).prop_map(|(name, piece)| {
            let mut content = Content::new(name);
            content.piece = piece;
            Action::ContentImpression(content)
        }),
        text()
            .prop_filter("non-empty", |t| !t.trim().is_empty())
            .prop_map(Action::Outlink),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decode_of_encode_is_identity(
        site in 1u32..100_000,
        url in proptest::option::of(text()),
        title in proptest::option::of(text()),
        ua in proptest::option::of(text()),
        uid in proptest::option::of(text()),
        dims in proptest::collection::btree_map(1u32..200, text(), 0..4),
        vars in proptest::collection::btree_map(1u32..6, (text(), text()), 0..3),
        cid in proptest::option::of(any::<[u8; 8]>()),
        action in action(),
        extra in proptest::collection::vec(("x_[a-z]{1,6}", text()), 0..3),
        time in proptest::option::of(1_700_000_000u64..1_900_000_000),
    ) {
        let mut builder = TrackingRequest::builder(site).action(action);
        if let Some(url) = url { builder = builder.url(url); }
        if let Some(title) = title { builder = builder.action_name(title); }
        if let Some(ua) = ua { builder = builder.user_agent(ua); }
        if let Some(uid) = uid { builder = builder.user_id(uid); }
        if let Some(cid) = cid { builder = builder.forced_visitor_id(VisitorId::from_bytes(cid)); }
        for (id, value) in dims { builder = builder.dimension(id, value); }
        for (slot, (name, value)) in vars { builder = builder.visit_variable(slot, name, value); }
        for (name, value) in extra { builder = builder.param(name, value); }
        if let Some(time) = time {
            builder = builder.time(SystemTime::UNIX_EPOCH + Duration::from_secs(time));
        }
        let hit = builder.token(&TokenAuth::new("t").unwrap()).build().unwrap();
        let query = hit.to_query();
        prop_assert!(
            query.bytes().all(|b| b.is_ascii_graphic() && !b"\"#<>[\\]^`{|}".contains(&b)),
            "unescaped characters in {query}"
        );
        prop_assert_eq!(TrackingRequest::from_query(&query).unwrap(), hit);
    }

    #[test]
    fn decoding_any_text_never_panics(query in "\\PC{0,200}") {
        let _ = TrackingRequest::from_query(&query);
    }
}

#[test]
fn the_wire_form_escapes_delimiters_and_controls_and_keeps_urls_readable() {
    let hit = TrackingRequest::builder(1)
        .url("https://shop.example/a b/c?x=1&y=+2#top")
        .action_name("Ünïcode & more 100%")
        .user_agent("Mozilla/5.0 (X11; Linux x86_64)\r\nX-Injected: 1")
        .build()
        .unwrap();
    let query = hit.to_query();
    assert!(
        query.starts_with(
            "idsite=1&rec=1&apiv=1&url=https://shop.example/a%20b/c?x%3D1%26y%3D%2B2%23top\
             &action_name=%C3%9Cn%C3%AFcode%20%26%20more%20100%25&"
        ),
        "{query}"
    );
    assert!(
        query.contains("&ua=Mozilla/5.0%20(X11;%20Linux%20x86_64)%0D%0AX-Injected:%201&"),
        "{query}"
    );
    assert_eq!(TrackingRequest::from_query(&query).unwrap(), hit);
}

#[test]
fn decoding_accepts_the_form_encoding_of_other_clients() {
    // Matomo's JavaScript tracker escapes `/` and `:`; HTML forms send `+` for a space.
    let hit = TrackingRequest::from_query(
        "idsite=1&rec=1&url=https%3A%2F%2Fshop.example%2Fa&action_name=Big+Boots",
    )
    .unwrap();
    assert_eq!(hit.url(), Some("https://shop.example/a"));
    assert_eq!(hit.action_name(), Some("Big Boots"));
}

proptest! {
    /// `needs_token` for `cdt` is "now, in whole seconds, is more than 24 hours past the hit's
    /// time", to the second, at any instant of a second and for any time, even far off or absurd.
    #[test]
    fn cdt_needs_a_token_exactly_when_older_than_a_day_to_the_second(
        now_secs in 0u64..4_000_000_000,
        now_nanos in 0u32..1_000_000_000,
        age in prop_oneof![86_390i64..86_410, -10i64..10, any::<i64>()],
    ) {
        let now = SystemTime::UNIX_EPOCH + Duration::new(now_secs, now_nanos);
        let time = now_secs.saturating_add_signed(-age);
        // Built with a token, so any age builds; `needs_token` still says whether it needs one.
        let hit = TrackingRequest::builder(1)
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(time))
            .token(&TokenAuth::new("abc").unwrap())
            .build()
            .unwrap();
        prop_assert_eq!(hit.needs_token(now), now_secs.saturating_sub(time) > 24 * 3600);
    }
}
