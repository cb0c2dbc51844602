//! Finding the bytes that structure an `application/x-www-form-urlencoded` string (`&`, `=`, `%`,
//! `+`) eight bytes per step: the query decoder and the query redaction jump from one to the next.

/// Where the next byte that structures a form-encoded string (`&`, `=`, `%` or `+`) is, at or after
/// `from`; `bytes.len()` when there is none.
///
/// Eight bytes per step, all four tested at once on the word (the classic "has a zero byte" test on
/// the word xor each byte): a byte-at-a-time loop costs about six instructions a byte, this about
/// two. The test can flag a byte above a real match (a borrow), never one below it, so the lowest
/// flagged byte is exact.
#[inline(always)]
pub(crate) fn next_form_byte(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has = |word: u64, byte: u8| {
        let xored = word ^ (ONES * u64::from(byte));
        xored.wrapping_sub(ONES) & !xored & HIGHS
    };
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = has(word, b'&') | has(word, b'=') | has(word, b'%') | has(word, b'+');
        if found != 0 {
            return from + (found.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    bytes
        .get(from..)
        .and_then(|tail| {
            tail.iter()
                .position(|b| matches!(b, b'&' | b'=' | b'%' | b'+'))
        })
        .map_or(bytes.len(), |at| from + at)
}

#[cfg(test)]
mod tests {
    use super::next_form_byte;

    #[test]
    fn the_word_scan_stops_at_the_first_separator_or_escape_exactly() {
        // Every byte value at every offset of a 20-byte run (two words and a tail), after a byte
        // that can make the word test borrow (a stop's neighbour) or not.
        let reference = |bytes: &[u8], from: usize| {
            bytes[from..]
                .iter()
                .position(|b| b"&=%+".contains(b))
                .map_or(bytes.len(), |at| from + at)
        };
        for before in [b'a', b'%' + 1, b'&' + 1, b'=' - 1, 0x80, 0xff] {
            for at in 0..20 {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'x'; 20];
                    bytes[at] = byte;
                    if at > 0 {
                        bytes[at - 1] = before;
                    }
                    for from in [0, 1, 7, 8, 13] {
                        assert_eq!(
                            next_form_byte(&bytes, from),
                            reference(&bytes, from),
                            "{bytes:?} from {from}"
                        );
                    }
                }
            }
        }
    }
}
