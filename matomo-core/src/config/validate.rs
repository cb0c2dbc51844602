//! Checking a [`TrackerConfig`] as a whole: every error names the key and the fix.

use super::{ConfigError, Proxy, TrackerConfig};
use url::Url;

impl TrackerConfig {
    /// Checks the whole config; the error names the key and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.url else {
            return Err(ConfigError::Missing {
                key: "url",
                fix: "set url to your Matomo tracker endpoint, e.g. https://matomo.example.org/matomo.php",
            });
        };
        check_http_url("url", url)?;
        if self.site_id == 0 {
            return Err(invalid(
                "site_id",
                "0 is not a site id: Matomo's start at 1; use the id Matomo shows under \
                 Administration > Websites > Manage"
                    .into(),
            ));
        }
        if let Some(base) = &self.site_base_url {
            check_http_url("site_base_url", base)?;
        }
        if let Some(Proxy::Http(proxy)) = &self.proxy {
            check_http_url("proxy", proxy)?;
        }
        if self.anonymize_ip_bytes > 3 {
            return Err(invalid(
                "anonymize_ip_bytes",
                format!(
                    "{} is out of range: use 0, 1, 2 or 3",
                    self.anonymize_ip_bytes
                ),
            ));
        }
        if let Some(code) = self
            .ignore_status_codes
            .iter()
            .find(|c| !(100..=599).contains(*c))
        {
            return Err(invalid(
                "ignore_status_codes",
                format!("{code} is not an HTTP status code (100-599)"),
            ));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be more than 0 seconds".into()));
        }
        if self.connect_timeout.is_zero() {
            return Err(invalid(
                "connect_timeout",
                "must be more than 0 seconds".into(),
            ));
        }
        for (key, value) in [
            ("queue_capacity", self.queue_capacity),
            ("batch_size", self.batch_size),
            ("max_attempts", self.max_attempts as usize),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be 1 or more".into()));
            }
        }
        if self.retry_cap < self.retry_base {
            return Err(invalid(
                "retry_cap",
                "must not be less than retry_base".into(),
            ));
        }
        if let Some(spool) = &self.spool {
            if !cfg!(feature = "spool") {
                return Err(invalid(
                    "spool",
                    "needs matomo-core's `spool` feature: enable it in Cargo.toml, or remove the key".into(),
                ));
            }
            let parent = spool.path.parent().filter(|p| !p.as_os_str().is_empty());
            if parent.is_some_and(|dir| !dir.is_dir()) || spool.path.is_dir() {
                return Err(invalid(
                    "spool.path",
                    format!(
                        "{} must be a file in an existing directory",
                        spool.path.display()
                    ),
                ));
            }
            if spool.sync_interval.is_zero() || spool.max_bytes == 0 {
                return Err(invalid(
                    "spool",
                    "sync_interval and max_bytes must be more than 0".into(),
                ));
            }
        }
        if let Some(path) = &self.tls_ca_file {
            if !path.is_file() {
                return Err(invalid(
                    "tls_ca_file",
                    format!(
                        "{} is not a readable file: give the path of a PEM file",
                        path.display()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `site_id` was not given.
pub(super) fn missing_site_id() -> ConfigError {
    ConfigError::Missing {
        key: "site_id",
        fix: "set site_id to the id Matomo shows under Administration > Websites > Manage (1 or more)",
    }
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message,
    }
}

/// `raw` parsed as a URL for `key`, checked as [`check_http_url`] checks it.
pub(super) fn parse_http_url(key: &str, raw: &str) -> Result<Url, ConfigError> {
    let parsed = Url::parse(raw.trim()).map_err(|e| {
        invalid(
            key,
            format!("`{raw}` is not a URL ({e}): write it in full, e.g. https://matomo.example.org/matomo.php"),
        )
    })?;
    check_http_url(key, &parsed)?;
    Ok(parsed)
}

/// Whether `parsed` is an `http://` or `https://` URL with a host and without credentials.
fn check_http_url(key: &str, parsed: &Url) -> Result<(), ConfigError> {
    let raw = parsed.as_str();
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            key,
            format!("`{raw}` must be an http:// or https:// URL with a host"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let why = if key == "proxy" {
            "must not carry a user name or password here, where settings are shown and logged: \
             give a proxy that asks for credentials as HTTPS_PROXY or HTTP_PROXY in the \
             environment (http://user:password@host:port)"
        } else {
            "must not carry a user name or password: Matomo authenticates with token_auth"
        };
        return Err(invalid(key, why.into()));
    }
    Ok(())
}
