//! Secrets that must never be printed: the Matomo `token_auth` and the visitor-id salt.
//!
//! Both wrap a string whose `Debug` and `Display` print `***`. The token only leaves this crate inside
//! a request body (see [`crate::transport`]); the salt never leaves at all.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// The Matomo `token_auth`: an API token with write access to the site.
///
/// With a token, the tracker may send the visitor's IP as `cip` and hits older than 24 hours.
/// `Debug` and `Display` print `***`; the only way to the raw text is [`TokenAuth::expose`], which the
/// transport calls when it writes a request body.
///
/// ```
/// use matomo_core::TokenAuth;
/// let token = TokenAuth::new("33dc3f2536d3025974cccb4b4d2d98f4").unwrap();
/// assert_eq!(format!("{token:?}"), "TokenAuth(***)");
/// assert_eq!(token.to_string(), "***");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TokenAuth(String);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token was empty or only white space.
    #[error("the token is empty")]
    Empty,
    /// The token holds characters Matomo never puts in a token (it issues hex or alphanumerics).
    #[error("the token holds characters other than letters, digits, '-' and '_'")]
    InvalidCharacters,
}

impl TokenAuth {
    /// Wraps a token. Surrounding white space (a trailing newline from a file) is trimmed.
    pub fn new(token: impl AsRef<str>) -> Result<Self, TokenError> {
        let token = token.as_ref().trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TokenError::InvalidCharacters);
        }
        Ok(Self(token.to_owned()))
    }

    /// The raw token, for a request body. Never log or print what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenAuth(***)")
    }
}

impl fmt::Display for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for TokenAuth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        // The message names the problem, never the value.
        TokenAuth::new(raw).map_err(serde::de::Error::custom)
    }
}

/// A secret salt for the keyed hash that derives visitor ids from IP and user agent.
///
/// Keep it stable across restarts and servers so one visitor keeps one id; keep it secret so ids
/// cannot be linked back to IP addresses. `Debug` prints `***`.
///
/// ```
/// use matomo_core::Salt;
/// let salt = Salt::new("a long random string");
/// assert_eq!(format!("{salt:?}"), "Salt(***)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(String);

impl Salt {
    /// Wraps a salt.
    pub fn new(salt: impl Into<String>) -> Self {
        Self(salt.into())
    }

    /// A fresh random salt: visitor ids then change at every restart.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(***)")
    }
}

impl<'de> Deserialize<'de> for Salt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Salt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_trimmed_and_validated() {
        assert_eq!(TokenAuth::new(" abc123\n").unwrap().expose(), "abc123");
        assert_eq!(TokenAuth::new("  "), Err(TokenError::Empty));
        assert_eq!(
            TokenAuth::new("abc&token_auth=x"),
            Err(TokenError::InvalidCharacters)
        );
    }

    #[test]
    fn token_error_from_serde_does_not_echo_the_value() {
        let err = serde_json::from_str::<TokenAuth>("\"secret value!\"").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
