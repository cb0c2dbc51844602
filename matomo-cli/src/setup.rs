//! Turning flags and environment into a validated config and a token.

use crate::args::Target;
use matomo_core::{TokenAuth, TrackerConfig};
use std::path::Path;
use std::time::Duration;

/// A usage or configuration mistake, in one line that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The token from `--token-file`, else `MATOMO_TOKEN_AUTH`; errors never quote it.
pub fn token(file: Option<&Path>) -> Result<Option<TokenAuth>, Usage> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Usage(format!(
                "--token-file {}: cannot read it ({e})",
                path.display()
            ))
        })?;
        return TokenAuth::new(text)
            .map(Some)
            .map_err(|e| Usage(format!("--token-file {}: {e}", path.display())));
    }
    match std::env::var("MATOMO_TOKEN_AUTH") {
        Ok(value) if !value.trim().is_empty() => TokenAuth::new(value)
            .map(Some)
            .map_err(|e| Usage(format!("MATOMO_TOKEN_AUTH: {e}"))),
        _ => Ok(None),
    }
}

/// A validated config for the target.
pub fn config(target: &Target) -> Result<TrackerConfig, Usage> {
    let url = target.url.clone().ok_or_else(|| {
        Usage(
            "--url (or MATOMO_URL) is required, e.g. --url https://matomo.example.org/matomo.php"
                .into(),
        )
    })?;
    let site_id = match target.site_id.as_deref() {
        None => 1,
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(id) if id > 0 => id,
            _ => {
                return Err(Usage(format!(
                    "--site-id must be a whole number of 1 or more, not `{raw}`"
                )))
            }
        },
    };
    if !(target.timeout.is_finite() && target.timeout > 0.0 && target.timeout < 3600.0) {
        return Err(Usage(format!(
            "--timeout must be a number of seconds above 0, not `{}`",
            target.timeout
        )));
    }
    let mut config = TrackerConfig::new(&url, site_id)
        .map_err(|e| Usage(e.to_string().replace("matomo config: ", "")))?;
    config.timeout = Duration::from_secs_f64(target.timeout);
    config.connect_timeout = config.timeout.min(Duration::from_secs(5));
    config.token_auth = token(target.token_file.as_deref())?;
    config.tls_ca_file = target.ca_file.clone();
    config.proxy = target
        .proxy
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: matomo_core::ConfigError| {
            Usage(e.to_string().replace("matomo config: ", ""))
        })?;
    config
        .validate()
        .map_err(|e| Usage(e.to_string().replace("matomo config: ", "")))?;
    Ok(config)
}
