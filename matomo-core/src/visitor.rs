//! `VisitorId`: Matomo's visitor id, exactly 16 hexadecimal digits (8 bytes).

use std::fmt;
use std::str::FromStr;

/// A Matomo visitor id: 8 bytes, written as exactly 16 lowercase hexadecimal digits.
///
/// Matomo accepts nothing else as `_id` or `cid`; parsing refuses every other shape, so an id taken
/// from a cookie or a header is either valid or absent.
///
/// ```
/// use matomo_core::VisitorId;
/// let id: VisitorId = "0123456789ABCDEF".parse().unwrap();
/// assert_eq!(id.to_string(), "0123456789abcdef");
/// assert_eq!(VisitorId::from_bytes(id.to_bytes()), id);
/// assert!("0123".parse::<VisitorId>().is_err());
/// assert!("+123456789abcdef".parse::<VisitorId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorId(u64);

/// A visitor id that is not 16 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a visitor id must be exactly 16 hexadecimal digits, e.g. 0123456789abcdef")]
pub struct InvalidVisitorId;

impl VisitorId {
    /// The id made of these 8 bytes (big-endian: the first byte is the first two digits).
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_be_bytes(bytes))
    }

    /// The 8 bytes of the id.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl FromStr for VisitorId {
    type Err = InvalidVisitorId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `from_str_radix` alone would take a sign or fewer digits.
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidVisitorId);
        }
        u64::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| InvalidVisitorId)
    }
}

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VisitorId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn display_parses_back(bytes: [u8; 8]) {
            let id = VisitorId::from_bytes(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 16);
            prop_assert_eq!(text.parse::<VisitorId>().unwrap(), id);
        }

        #[test]
        fn only_sixteen_hex_digits_parse(s in "\\PC{0,20}|[0-9a-fA-F+-]{15,17}") {
            let valid = s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(s.parse::<VisitorId>().is_ok(), valid);
        }
    }
}
