//! Loading and validating `TrackerConfig`: the seed's keys, defaults, and errors that name the key.

use matomo_core::{BotPolicy, ConfigError, TrackerConfig};
use std::time::Duration;

const SEED: &str = r#"{
    "url": "https://your-matomo-server.com/matomo.php",
    "site_id": 7,
    "ignore_paths": ["/debug/", "/health/"],
    "token_auth": "33dc3f2536d3025974cccb4b4d2d98f4",
    "ignore_html": true
}"#;

#[test]
fn the_seed_settings_load_unchanged() {
    let config = TrackerConfig::from_json_str(SEED).unwrap();
    assert_eq!(
        config.url.unwrap().as_str(),
        "https://your-matomo-server.com/matomo.php"
    );
    assert_eq!(config.site_id, 7);
    assert!(config.ignore_paths[0].matches("/debug/toolbar"));
    assert!(config.ignore_html);
    assert_eq!(
        config.token_auth.as_ref().map(|t| t.expose()),
        Some("33dc3f2536d3025974cccb4b4d2d98f4")
    );
}

#[test]
fn defaults_are_the_documented_safe_ones() {
    let config =
        TrackerConfig::from_toml_str("url = \"https://m.example/matomo.php\"\nsite_id = 1")
            .unwrap();
    assert!(config.enabled && config.honor_dnt && config.honor_gpc);
    assert_eq!(config.bots, BotPolicy::Skip);
    assert_eq!(config.anonymize_ip_bytes, 2);
    assert_eq!(config.timeout, Duration::from_secs(10));
    assert!(config.token_auth.is_none());
    assert!(!config.visitor_cookie);
    assert!(config.redact_query_params.iter().any(|p| p == "password"));
}

#[test]
fn missing_site_id_names_the_key_and_the_fix() {
    let err = TrackerConfig::from_toml_str("url = \"https://m.example/matomo.php\"").unwrap_err();
    assert_eq!(err.key(), Some("site_id"));
    assert!(
        err.to_string().contains("Administration > Websites"),
        "{err}"
    );
    assert!(matches!(err, ConfigError::Missing { .. }), "{err}");
    // Given, but 0: not "missing".
    let zero = TrackerConfig::from_toml_str("url = \"https://m.example/matomo.php\"\nsite_id = 0")
        .unwrap_err();
    assert_eq!(zero.key(), Some("site_id"));
    assert!(matches!(zero, ConfigError::Invalid { .. }), "{zero}");
    assert!(zero.to_string().contains("0 is not a site id"), "{zero}");
}

#[test]
fn missing_url_is_named() {
    let err = TrackerConfig::from_toml_str("site_id = 1").unwrap_err();
    assert!(
        matches!(err, ConfigError::Missing { key: "url", .. }),
        "{err}"
    );
}

#[test]
fn a_url_that_is_not_http_is_refused() {
    for url in [
        "ftp://m.example/matomo.php",
        "matomo.example/matomo.php",
        "https://",
    ] {
        // Refused where it is parsed: in code and in a loaded config.
        let err = TrackerConfig::new(url, 1).unwrap_err();
        assert_eq!(err.key(), Some("url"), "{url}: {err}");
        let err = TrackerConfig::from_json_str(&format!(r#"{{"url": "{url}", "site_id": 1}}"#))
            .unwrap_err();
        assert_eq!(err.key(), Some("url"), "{url}: {err}");
        assert!(err.to_string().contains(url), "{err}");
    }
}

#[test]
fn the_seed_readme_typo_ignore_path_is_caught_with_a_suggestion() {
    let err = TrackerConfig::from_json_str(
        r#"{"url": "https://m.example/matomo.php", "site_id": 1, "ignore_path": ["/health"]}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownKey {
            key: "ignore_path".into(),
            suggestion: Some("ignore_paths")
        }
    );
    assert!(
        err.to_string().contains("did you mean `ignore_paths`?"),
        "{err}"
    );
}

#[test]
fn a_non_number_timeout_is_a_clear_error() {
    let err = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\ntimeout = \"soon\"",
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("timeout"));
    assert!(err.to_string().contains("number of seconds"), "{err}");
    let ok = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\ntimeout = 2.5",
    )
    .unwrap();
    assert_eq!(ok.timeout, Duration::from_millis(2500));
}

#[test]
fn an_unparsable_mask_regex_names_the_entry() {
    let err = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\nurl_masks = [{ pattern = \"(unclosed\", replacement = \"x\" }]",
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("url_masks[0]"));
    assert!(err.to_string().contains("not a valid regex"), "{err}");
}

#[test]
fn an_unparsable_cidr_is_named() {
    let err = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0/33\"]",
    )
    .unwrap_err();
    assert!(err.key().unwrap().starts_with("trusted_proxies"), "{err}");
    assert!(err.to_string().contains("10.0.0/33"), "{err}");
    let ok = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]",
    )
    .unwrap();
    assert_eq!(ok.trusted_proxies.len(), 2);
}

#[test]
fn out_of_range_values_are_refused() {
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    config.anonymize_ip_bytes = 4;
    assert_eq!(
        config.validate().unwrap_err().key(),
        Some("anonymize_ip_bytes")
    );
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    config.ignore_status_codes = vec![99];
    assert_eq!(
        config.validate().unwrap_err().key(),
        Some("ignore_status_codes")
    );
    let error = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\nmethods = [\"get\", \"GE T\"]",
    )
    .unwrap_err();
    assert_eq!(error.key(), Some("methods"));
    assert!(
        error.to_string().contains("`GE T` is not an HTTP method"),
        "{error}"
    );
    let config = TrackerConfig::from_toml_str(
        "url = \"https://m.example/matomo.php\"\nsite_id = 1\nmethods = [\"get\", \"Post\"]",
    )
    .unwrap();
    assert_eq!(config.methods, [http::Method::GET, http::Method::POST]);
}

#[test]
fn a_bad_token_never_appears_in_the_error() {
    for json in [
        r#"{"url": "https://m.example/matomo.php", "site_id": 1, "token_auth": "abc def-SECRET"}"#,
        r#"{"url": "https://m.example/matomo.php", "site_id": 1, "token_auth": 987654321}"#,
    ] {
        let err = TrackerConfig::from_json_str(json).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("SECRET") && !text.contains("987654321"),
            "{text}"
        );
        assert_eq!(err.key(), Some("token_auth"));
    }
}

#[test]
fn debug_output_masks_the_token_and_the_salt() {
    let config = TrackerConfig::from_json_str(
        r#"{"url": "https://m.example/matomo.php", "site_id": 1, "token_auth": "tok3nvalue", "visitor_id_salt": "pepper"}"#,
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("tok3nvalue") && !debug.contains("pepper"),
        "{debug}"
    );
    assert!(debug.contains("***"));
}

#[test]
fn a_url_mask_prints_as_configured() {
    let mask = matomo_core::UrlMask::new(r"^/users/\d+", "/users/:id").unwrap();
    assert_eq!(
        format!("{mask:?}"),
        r#"UrlMask { pattern: "^/users/\\d+", replacement: "/users/:id" }"#
    );
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn environment_variables_configure_a_tracker_and_foreign_ones_are_ignored() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("MATOMO_URL", "https://env.example/matomo.php");
        jail.set_env("MATOMO_SITE_ID", "12");
        jail.set_env("MATOMO_IGNORE_PATHS", "[\"/health\", \"/metrics\"]");
        jail.set_env("MATOMO_TIMEOUT", "3");
        // Matomo's own Docker image sets variables like this one.
        jail.set_env("MATOMO_DATABASE_HOST", "db");
        let config = TrackerConfig::from_env().expect("loads");
        assert_eq!(config.site_id, 12);
        assert_eq!(
            config.url.unwrap().as_str(),
            "https://env.example/matomo.php"
        );
        assert_eq!(config.ignore_paths.len(), 2);
        assert_eq!(config.timeout, Duration::from_secs(3));
        jail.set_env("MATOMO_TIMEOUT", "three");
        let err = TrackerConfig::from_env().unwrap_err();
        assert_eq!(err.key(), Some("timeout"));
        Ok(())
    });
}

#[test]
fn a_missing_ca_file_is_named() {
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    config.tls_ca_file = Some("/nonexistent/ca.pem".into());
    assert_eq!(config.validate().unwrap_err().key(), Some("tls_ca_file"));
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn every_delivery_knob_has_a_default_and_an_environment_variable() {
    let defaults = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    assert_eq!(defaults.queue_capacity, 10_000);
    assert_eq!(defaults.batch_size, 50);
    assert_eq!(defaults.batch_delay, Duration::from_secs(1));
    assert_eq!(defaults.max_attempts, 10);
    assert_eq!(defaults.retry_base, Duration::from_millis(500));
    assert_eq!(defaults.retry_cap, Duration::from_secs(60));
    assert_eq!(defaults.max_hit_age, Duration::from_secs(23 * 3600));
    assert!(defaults.spool.is_none());
    figment::Jail::expect_with(|jail| {
        let dir = jail.directory().to_path_buf();
        jail.set_env("MATOMO_URL", "https://env.example/matomo.php");
        jail.set_env("MATOMO_SITE_ID", "2");
        jail.set_env("MATOMO_QUEUE_CAPACITY", "500");
        jail.set_env("MATOMO_BATCH_SIZE", "20");
        jail.set_env("MATOMO_BATCH_DELAY", "0.25");
        jail.set_env("MATOMO_MAX_ATTEMPTS", "3");
        jail.set_env("MATOMO_RETRY_BASE", "0.1");
        jail.set_env("MATOMO_RETRY_CAP", "5");
        jail.set_env("MATOMO_MAX_HIT_AGE", "3600");
        // A spool is only accepted with the `spool` feature (see the test after this one).
        if cfg!(feature = "spool") {
            jail.set_env(
                "MATOMO_SPOOL",
                format!(
                    "{{path=\"{}\",sync_interval=0.5}}",
                    dir.join("hits.redb").display()
                ),
            );
        }
        let config = TrackerConfig::from_env().expect("loads");
        assert_eq!(config.queue_capacity, 500);
        assert_eq!(config.batch_size, 20);
        assert_eq!(config.batch_delay, Duration::from_millis(250));
        assert_eq!(config.max_attempts, 3);
        assert_eq!(config.retry_base, Duration::from_millis(100));
        assert_eq!(config.retry_cap, Duration::from_secs(5));
        assert_eq!(config.max_hit_age, Duration::from_secs(3600));
        if cfg!(feature = "spool") {
            let spool = config.spool.expect("spool");
            assert_eq!(spool.sync_interval, Duration::from_millis(500));
            assert_eq!(spool.max_bytes, 64 * 1024 * 1024);
        }
        jail.set_env("MATOMO_BATCH_SIZE", "0");
        assert_eq!(
            TrackerConfig::from_env().unwrap_err().key(),
            Some("batch_size")
        );
        Ok(())
    });
}

#[cfg(feature = "spool")]
#[test]
fn a_spool_in_a_missing_directory_is_named() {
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    config.spool = Some(matomo_core::SpoolConfig::new("/nonexistent/dir/hits.redb"));
    assert_eq!(config.validate().unwrap_err().key(), Some("spool.path"));
}

#[cfg(not(feature = "spool"))]
#[test]
fn a_spool_without_the_spool_feature_is_refused_by_name() {
    let mut config = TrackerConfig::new("https://m.example/matomo.php", 1).unwrap();
    config.spool = Some(matomo_core::SpoolConfig::new("hits.redb"));
    let error = config.validate().unwrap_err();
    assert_eq!(error.key(), Some("spool"));
    assert!(error.to_string().contains("`spool` feature"), "{error}");
}
