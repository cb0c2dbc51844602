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

/// The four bytes eight hexadecimal digits (either case) spell, or `None` when one is not a digit.
///
/// All eight are tested and converted at once as one word: which bytes are `0`-`9`, which are
/// `a`-`f` once lowercased (every byte is ASCII, so adding to a byte never carries into the next);
/// a digit's value is its low four bits, plus 9 for a letter; then pairs of values are packed
/// into bytes. About a third of the instructions of a table lookup per digit.
fn hex_word(digits: [u8; 8]) -> Option<[u8; 4]> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let word = u64::from_le_bytes(digits);
    if word & HIGHS != 0 {
        return None;
    }
    // The high bit of each byte that is at least `least` (every byte is below 0x80).
    let at_least = |word: u64, least: u8| word.wrapping_add(ONES * u64::from(0x80 - least)) & HIGHS;
    let lower = word | (ONES * 0x20);
    let digit = at_least(word, b'0') & !at_least(word, b'9' + 1);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    if digit | letter != HIGHS {
        return None;
    }
    let values = (word & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Byte 2k becomes value 2k (the high half) then value 2k + 1; then bytes 0, 2, 4, 6 are packed.
    let pairs = ((values & 0x00ff_00ff_00ff_00ff) << 4) | ((values >> 8) & 0x00ff_00ff_00ff_00ff);
    let pairs = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let packed = (pairs | (pairs >> 16)) & 0xffff_ffff;
    Some((packed as u32).to_le_bytes())
}

/// The eight lowercase hexadecimal digits of four bytes, computed on all of them at once (an id is
/// written into every hit): each nibble spread into a byte of its own, then turned into its digit.
fn hex_digits(bytes: &[u8]) -> [u8; 8] {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes);
    let nibbles = u64::from(u32::from_be_bytes(word));
    let nibbles = (nibbles | (nibbles << 16)) & 0x0000_ffff_0000_ffff;
    let nibbles = (nibbles | (nibbles << 8)) & 0x00ff_00ff_00ff_00ff;
    let nibbles = (nibbles | (nibbles << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more (adding 6 carries it into the high half).
    let letters = ((nibbles + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    // '0' + n for a digit, 'a' + n - 10 = '0' + n + 0x27 for a letter.
    (nibbles + 0x3030_3030_3030_3030 + letters * 0x27).to_be_bytes()
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
    /// Parses exactly 16 hexadecimal digits (either case), eight at a time (see [`hex_word`]): a
    /// cookie's id is read per request.
    pub(crate) fn from_hex(digits: &[u8]) -> Option<Self> {
        let (high, low) = digits.split_at_checked(8)?;
        let high = hex_word(<[u8; 8]>::try_from(high).ok()?)?;
        let low = hex_word(<[u8; 8]>::try_from(low).ok()?)?;
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&high);
        bytes[4..].copy_from_slice(&low);
        Some(Self(bytes))
    }

    /// The 16 lowercase hexadecimal digits, without allocating.
    ///
    /// ```
    /// use matomo_core::VisitorId;
    /// let id: VisitorId = "0123456789ABCDEF".parse().unwrap();
    /// assert_eq!(&id.to_hex(), b"0123456789abcdef");
    /// ```
    pub fn to_hex(self) -> [u8; 16] {
        let (high, low) = self.0.split_at(4);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&hex_digits(high));
        out[8..].copy_from_slice(&hex_digits(low));
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

    #[test]
    fn every_byte_at_every_place_reads_as_a_digit_or_refuses() {
        let reference = |digits: &[u8]| {
            std::str::from_utf8(digits)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|s| u64::from_str_radix(s, 16).ok())
        };
        for base in [
            *b"0123456789abcdef",
            *b"FEDCBA9876543210",
            *b"9a9A9f9F0g0G0/0:",
        ] {
            for at in 0..16 {
                for byte in 0..=255u8 {
                    let mut digits = base;
                    digits[at] = byte;
                    let read =
                        VisitorId::from_hex(&digits).map(|id| u64::from_be_bytes(id.to_bytes()));
                    assert_eq!(read, reference(&digits), "{digits:?}");
                }
            }
        }
    }

    #[test]
    fn every_byte_at_every_place_is_written_as_its_two_digits() {
        for at in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = [0x5a; 8];
                bytes[at] = byte;
                let hex = VisitorId::from_bytes(bytes).to_hex();
                let expected = format!("{:016x}", u64::from_be_bytes(bytes));
                assert_eq!(std::str::from_utf8(&hex), Ok(expected.as_str()));
            }
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(bytes: [u8; 8]) {
            let id = VisitorId::from_bytes(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 16);
            prop_assert_eq!(text.parse::<VisitorId>().unwrap(), id);
        }

        #[test]
        fn hex_digits_read_as_from_str_radix_does(
            s in "[0-9a-fA-F]{16}|[0-9a-fA-F/:@`gG\\x00\\x7f\\u{80}-\\u{ff}]{14,18}"
        ) {
            let expected = (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(&s, 16).ok())
                .flatten();
            let read = VisitorId::from_hex(s.as_bytes()).map(|id| u64::from_be_bytes(id.to_bytes()));
            prop_assert_eq!(read, expected);
        }

        #[test]
        fn only_sixteen_hex_digits_parse(s in "\\PC{0,20}") {
            let valid = s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(s.parse::<VisitorId>().is_ok(), valid);
        }
    }
}
