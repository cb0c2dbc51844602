//! From a served request to a hit: what the seed sent, without its bugs.

use bytes::Bytes;
use matomo_core::{
    BotPolicy, Field, HitBuilder, HttpExchange, Salt, TokenAuth, TrackerConfig, UrlMask,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn config() -> TrackerConfig {
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 3).unwrap();
    config.visitor_id_salt = Some(Salt::new("test salt"));
    config
}

fn page(path: &str) -> matomo_core::ExchangeBuilder {
    HttpExchange::builder("GET", path)
        .header("host", "shop.example")
        .header("user-agent", FIREFOX)
        .header("accept-language", "fr-CH, fr;q=0.9")
        .peer("198.51.100.23".parse().unwrap())
}

#[test]
fn a_page_view_carries_what_the_seed_sent() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(
            &page("/shop/cart")
                .header("referer", "https://ref.example/x")
                .build(),
        )
        .unwrap();
    assert_eq!(hit.site_id(), 3);
    assert_eq!(hit.url(), Some("http://shop.example/shop/cart"));
    assert_eq!(hit.user_agent(), Some(FIREFOX));
    assert_eq!(hit.language(), Some("fr-CH, fr;q=0.9"));
    assert_eq!(hit.referrer(), Some("https://ref.example/x"));
    assert_eq!(hit.action_name(), Some("/shop/cart"));
    let query = hit.to_query();
    assert!(
        query.contains("rec=1") && query.contains("send_image=0"),
        "{query}"
    );
}

#[test]
fn the_query_string_is_kept_and_secrets_in_it_are_redacted() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&page("/search?q=boots&password=hunter2&page=2").build())
        .unwrap();
    assert_eq!(
        hit.url(),
        Some("http://shop.example/search?q=boots&password=REDACTED&page=2")
    );
}

#[test]
fn urlref_comes_from_the_referer_header_only() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&page("/landing?r=https://fake.example/").build())
        .unwrap();
    assert_eq!(hit.referrer(), None);
}

#[test]
fn the_site_base_url_replaces_scheme_and_host() {
    let mut config = config();
    config.site_base_url = Some("https://www.shop.example/app/".parse().unwrap());
    let hit = HitBuilder::new(&config)
        .unwrap()
        .build(&page("/cart").build())
        .unwrap();
    assert_eq!(hit.url(), Some("https://www.shop.example/app/cart"));
}

#[test]
fn masks_apply_to_the_url_and_the_fallback_action_name() {
    let mut config = config();
    config.url_masks = vec![UrlMask::new(r"^/users/\d+", "/users/:id").unwrap()];
    let hit = HitBuilder::new(&config)
        .unwrap()
        .build(&page("/users/42/").build())
        .unwrap();
    assert_eq!(hit.url(), Some("http://shop.example/users/:id/"));
    assert_eq!(hit.action_name(), Some("/users/:id/"));
}

#[test]
fn the_action_name_prefers_the_application_then_the_title_then_the_route() {
    let builder = HitBuilder::new(&config()).unwrap();
    let html = Bytes::from_static(b"<html><title>Cart &ndash; Shop</title>");
    let titled = page("/cart")
        .content_type("text/html")
        .body_prefix(html.clone())
        .field(Field::RouteName, "cart_route")
        .build();
    assert_eq!(
        builder.build(&titled).unwrap().action_name(),
        Some("Cart – Shop")
    );
    let named = page("/cart")
        .content_type("text/html")
        .body_prefix(html)
        .field(Field::ActionName, "Set by app")
        .build();
    assert_eq!(
        builder.build(&named).unwrap().action_name(),
        Some("Set by app")
    );
    let json = page("/api/cart")
        .content_type("application/json")
        .body_prefix(Bytes::from_static(b"{\"title\": \"<title>no</title>\"}"))
        .field(Field::RouteName, "cart_api")
        .build();
    assert_eq!(
        builder.build(&json).unwrap().action_name(),
        Some("cart_api")
    );
}

#[test]
fn no_cip_without_a_token() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&page("/").build())
        .unwrap();
    assert_eq!(hit.client_ip(), None);
    assert!(!hit.to_query().contains("cip="));
}

#[test]
fn with_a_token_the_anonymised_client_ip_goes_out_as_cip() {
    let mut config = config();
    config.token_auth = Some(TokenAuth::new("abc").unwrap());
    let hit = HitBuilder::new(&config)
        .unwrap()
        .build(&page("/").build())
        .unwrap();
    assert_eq!(hit.client_ip(), Some("198.51.0.0".parse().unwrap()));
    config.anonymize_ip_bytes = 0;
    let hit = HitBuilder::new(&config)
        .unwrap()
        .build(&page("/").build())
        .unwrap();
    assert_eq!(hit.client_ip(), Some("198.51.100.23".parse().unwrap()));
}

#[test]
fn the_visitor_id_is_sent_as_cid_from_the_matomo_cookie() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(
            &page("/")
                .header("cookie", "a=b; _pk_id.3.f00d=aaaabbbbccccdddd.1732530000.")
                .build(),
        )
        .unwrap();
    assert_eq!(
        hit.forced_visitor_id().unwrap().to_string(),
        "aaaabbbbccccdddd"
    );
    assert_eq!(hit.visitor_id(), None);
}

#[test]
fn visitors_without_a_cookie_get_distinct_derived_ids() {
    let builder = HitBuilder::new(&config()).unwrap();
    let a = builder.build(&page("/").build()).unwrap();
    let b = builder
        .build(&page("/").peer("198.51.100.24".parse().unwrap()).build())
        .unwrap();
    let a_again = builder.build(&page("/other").build()).unwrap();
    assert_ne!(a.forced_visitor_id(), b.forced_visitor_id());
    assert_eq!(a.forced_visitor_id(), a_again.forced_visitor_id());
}

#[test]
fn server_time_and_served_time_are_sent() {
    let served = SystemTime::now() - Duration::from_secs(60);
    let exchange = page("/")
        .duration(Duration::from_micros(12_700))
        .served_at(served)
        .build();
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&exchange)
        .unwrap();
    assert_eq!(hit.performance().server, Some(12));
    let sent = hit.time().unwrap();
    let expected = served.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(sent, expected);
}

#[test]
fn a_hit_older_than_a_day_without_token_is_refused_and_with_one_is_built() {
    let old = page("/")
        .served_at(SystemTime::now() - Duration::from_secs(30 * 3600))
        .build();
    let err = HitBuilder::new(&config()).unwrap().build(&old).unwrap_err();
    assert_eq!(err, matomo_core::BuildError::NeedsToken("cdt"));
    let mut config = config();
    config.token_auth = Some(TokenAuth::new("abc").unwrap());
    assert!(HitBuilder::new(&config).unwrap().build(&old).is_ok());
}

#[test]
fn tracked_bots_carry_bots_1() {
    let mut config = config();
    config.bots = BotPolicy::Track;
    let bot = HttpExchange::builder("GET", "/")
        .header(
            "user-agent",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        )
        .build();
    let hit = HitBuilder::new(&config).unwrap().build(&bot).unwrap();
    assert!(hit.bot());
    assert!(hit.to_query().contains("bots=1"));
    let human = HitBuilder::new(&config)
        .unwrap()
        .build(&page("/").build())
        .unwrap();
    assert!(!human.bot());
}

#[test]
fn the_user_id_from_the_application_is_sent() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&page("/").field(Field::UserId, "alice@example.org").build())
        .unwrap();
    assert_eq!(hit.user_id(), Some("alice@example.org"));
}

#[test]
fn arabic_paths_survive_to_the_wire() {
    let hit = HitBuilder::new(&config())
        .unwrap()
        .build(&page("/%D9%85%D8%B1%D8%AD%D8%A8%D8%A7").build())
        .unwrap();
    let decoded = matomo_core::TrackingRequest::from_query(&hit.to_query()).unwrap();
    assert_eq!(
        decoded.url(),
        Some("http://shop.example/%D9%85%D8%B1%D8%AD%D8%A8%D8%A7")
    );
}

proptest::proptest! {
    /// The URL is the origin, the masked path and the query; without a name, title or route, the
    /// action name is the masked path: with no mask, one mask of either kind, or several.
    #[test]
    fn the_url_and_the_fallback_action_name_hold_the_masked_path(
        path in "/(users|x|é|[0-9]{1,3}|/){0,6}",
        query in proptest::option::of("[a-z0-9=&]{0,12}"),
        masks in proptest::sample::select(vec![0usize, 1, 2, 3]),
        base in proptest::option::of(proptest::sample::select(vec!["https://www.shop.example", "https://s.example/app"])),
    ) {
        let mut config = config();
        config.url_masks = match masks {
            0 => vec![],
            1 => vec![UrlMask::new(r"^/users/\d+", "/users/:id").unwrap()],
            2 => vec![UrlMask::new(r"\d+", "{n}").unwrap()],
            _ => vec![
                UrlMask::new(r"^/users/\d+", "/users/:id").unwrap(),
                UrlMask::new("é", "e").unwrap(),
            ],
        };
        config.site_base_url = base.map(|base| base.parse().unwrap());
        let target = match &query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let hit = HitBuilder::new(&config).unwrap().build(&page(&target).build()).unwrap();
        let masked = matomo_core::mask_path(&path, &config.url_masks);
        let origin = base.unwrap_or("http://shop.example");
        let query = query.filter(|q| !q.is_empty()).map(|q| matomo_core::redact_query(&q, &config.redact_query_params).into_owned());
        let expected = match query {
            Some(query) => format!("{origin}{masked}?{query}"),
            None => format!("{origin}{masked}"),
        };
        proptest::prop_assert_eq!(hit.url(), Some(expected.as_str()));
        proptest::prop_assert_eq!(hit.action_name(), Some(&*masked));
        // Sent, the action name is copied from the escaped URL: read back, both are whole.
        let sent = matomo_core::TrackingRequest::from_query(&hit.to_query()).unwrap();
        proptest::prop_assert_eq!(sent.url(), Some(expected.as_str()));
        proptest::prop_assert_eq!(sent.action_name(), Some(&*masked));
    }
}
