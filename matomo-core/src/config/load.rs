//! Loading a [`TrackerConfig`]: from TOML, JSON, `MATOMO_*` variables or any figment, with unknown
//! keys named and the nearest known key suggested.

use super::{ConfigError, TrackerConfig};
use figment::providers::{Env, Format, Json, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;
use url::Url;

const SECRET_KEYS: &[&str] = &["token_auth", "visitor_id_salt"];

/// Every key a config may hold: the fields of [`TrackerConfig`], as its `Deserialize` names them.
pub(crate) fn known_keys() -> &'static [&'static str] {
    static KEYS: LazyLock<&'static [&'static str]> = LazyLock::new(struct_fields::<TrackerConfig>);
    &KEYS
}

/// The field names a derived `Deserialize` hands to `deserialize_struct`.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct Fields(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut Fields {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only the field names are read"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            self.deserialize_any(visitor)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

impl TrackerConfig {
    /// Loads and validates a config from TOML text.
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(&Figment::from(Toml::string(toml)))
    }

    /// Loads and validates a config from JSON text.
    pub fn from_json_str(json: &str) -> Result<Self, ConfigError> {
        Self::from_figment(&Figment::from(Json::string(json)))
    }

    /// Loads and validates a config from `MATOMO_*` environment variables (`MATOMO_URL`,
    /// `MATOMO_SITE_ID`, `MATOMO_TOKEN_AUTH`, `MATOMO_IGNORE_PATHS='["/health"]'`, ...).
    /// Other `MATOMO_*` variables (Matomo's own Docker image sets some) are ignored.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_figment(&Figment::new().merge(Self::env_provider()))
    }

    /// The `MATOMO_*` environment provider, to merge into a figment of your own.
    pub fn env_provider() -> Env {
        Env::prefixed("MATOMO_").filter(|key| {
            known_keys()
                .iter()
                .any(|known| known.eq_ignore_ascii_case(key.as_str()))
        })
    }

    /// Loads and validates a config from a figment (its root is the config table).
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let value: serde_json::Value = figment
            .extract()
            .map_err(|e| ConfigError::Source(scrub(e.to_string())))?;
        Self::from_value(value)
    }

    /// Loads and validates a config from a JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let mut unknown: Vec<String> = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let deserializer = serde_ignored::Deserializer::new(&value, &mut record);
        let config: TrackerConfig =
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                let key = e.path().to_string();
                let key = if key == "." { "matomo".to_owned() } else { key };
                let message = if SECRET_KEYS.iter().any(|s| key.starts_with(s)) {
                    // serde's own messages may quote the value: never for a secret.
                    "must be a string of letters, digits, '-' and '_'".to_owned()
                } else {
                    e.into_inner().to_string()
                };
                ConfigError::Invalid { key, message }
            })?;
        if let Some(key) = unknown.into_iter().next() {
            let suggestion = nearest_key(&key);
            return Err(ConfigError::UnknownKey { key, suggestion });
        }
        if value.get("site_id").is_none() {
            return Err(super::validate::missing_site_id());
        }
        config.validate()?;
        Ok(config)
    }
}

/// The known key nearest to `key` by edit distance, if any is near.
fn nearest_key(key: &str) -> Option<&'static str> {
    let top = key.split(['.', '[']).next().unwrap_or(key);
    known_keys()
        .iter()
        .map(|known| (strsim::damerau_levenshtein(top, known), *known))
        .filter(|(distance, known)| {
            *distance <= 3.max(known.len() / 3) || known.starts_with(top) || top.starts_with(known)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Figment errors can quote values: when one mentions a secret key, say only what is wrong.
fn scrub(message: String) -> String {
    if SECRET_KEYS.iter().any(|k| message.contains(k)) {
        return "the configuration could not be read (a secret key holds a value of the wrong form)".into();
    }
    message
}

pub(super) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(u64),
        Float(f64),
    }
    match Number::deserialize(deserializer) {
        Ok(Number::Int(s)) => Ok(Duration::from_secs(s)),
        Ok(Number::Float(s)) if (0.0..1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(serde::de::Error::custom(
            "expected a number of seconds, e.g. 5 or 0.5",
        )),
    }
}

pub(super) fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(deserializer)?;
    raw.iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`{entry}` is not an IP address or CIDR range, e.g. 10.0.0.0/8 or 192.0.2.7"
                    ))
                })
        })
        .collect()
}

pub(super) fn methods<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<http::Method>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|method| {
            http::Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{method}` is not an HTTP method, e.g. GET or POST"
                ))
            })
        })
        .collect()
}

/// An `http://` or `https://` URL, parsed once, here.
pub(super) fn http_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Url>, D::Error> {
    let Some(raw) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    // Which key it is, serde_path_to_error names; the message says what is wrong with it.
    super::validate::parse_http_url("url", &raw)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_keys_are_the_fields() {
        let keys = known_keys();
        for key in [
            "enabled",
            "url",
            "site_id",
            "methods",
            "proxy",
            "max_hit_age",
            "spool",
        ] {
            assert!(keys.contains(&key), "{key}: {keys:?}");
        }
        // Every known key is accepted on its own, and nothing else is.
        assert_eq!(keys.len(), 31, "{keys:?}");
    }
}
