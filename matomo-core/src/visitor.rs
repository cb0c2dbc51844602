//! `VisitorId`: Matomo's visitor id, exactly 16 hexadecimal digits (8 bytes).

use std::fmt;
use std::str::FromStr;

/// A Matomo visitor id: 8 bytes, written as exactly 16 lowercase hexadecimal digits.
///
/// Matomo accepts nothing else as `_id` or `cid`; parsing refuses every other shape, so an id taken from
/// a cookie or a header is either valid or absent.
///
/// ```
/// use matomo_core::VisitorId;
/// let id: VisitorId = "0123456789ABCDEF".parse().unwrap();
/// assert_eq!(id.to_string(), "0123456789abcdef");
/// assert!("0123".parse::<VisitorId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorId([u8; 8]);

/// A visitor id that is not 16 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a visitor id must be exactly 16 hexadecimal digits")]
pub struct InvalidVisitorId;

impl VisitorId {
    /// The id made of these 8 bytes.
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(bytes)
    }

    /// The 8 bytes of the id.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

impl FromStr for VisitorId {
    type Err = InvalidVisitorId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s.as_bytes()).ok_or(InvalidVisitorId)
    }
}

/// Each byte's value as a hexadecimal digit (either case), or [`NOT_HEX`].
const HEX_VALUES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        table[b"0123456789ABCDEF"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

/// The value of one hexadecimal digit (either case).
pub(crate) fn hex_value(digit: u8) -> Option<u8> {
    let value = HEX_VALUES[usize::from(digit)];
    (value != NOT_HEX).then_some(value)
}

impl VisitorId {
    /// Parses exactly 16 hexadecimal digits.
    pub(crate) fn from_hex(digits: &[u8]) -> Option<Self> {
        if digits.len() != 16 {
            return None;
        }
        // Every digit looked up, then one check for them all: a cookie's id is read per request.
        let mut bytes = [0u8; 8];
        let mut invalid = 0u8;
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (high, low) = (
                HEX_VALUES[usize::from(pair[0])],
                HEX_VALUES[usize::from(pair[1])],
            );
            invalid |= high | low;
            *byte = (high << 4) | (low & 0x0f);
        }
        // Digits are at most 0x0f; only `NOT_HEX` sets the high bits.
        (invalid & 0xf0 == 0).then_some(Self(bytes))
    }

    /// The 16 lowercase hexadecimal digits, without allocating.
    pub fn to_hex(self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        out
    }
}

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // Only ASCII digits were written.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
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
        fn only_sixteen_hex_digits_parse(s in "\\PC{0,20}") {
            let valid = s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(s.parse::<VisitorId>().is_ok(), valid);
        }
    }
}
