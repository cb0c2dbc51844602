//! Text that many hits carry (a user agent, a language): held once, escaped once.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// A text shared by the hits that carry it, with its wire form (percent-encoded) worked out the
/// first time one of them is encoded and kept for the others.
pub(crate) struct SharedText {
    text: Box<str>,
    escaped: OnceLock<Box<[u8]>>,
    hash: OnceLock<u64>,
}

impl SharedText {
    pub(crate) fn new(text: impl Into<Box<str>>) -> Arc<Self> {
        Arc::new(Self {
            text: text.into(),
            escaped: OnceLock::new(),
            hash: OnceLock::new(),
        })
    }

    /// The text's [`text_hash`], worked out the first time it is asked for and kept.
    pub(crate) fn hash(&self) -> u64 {
        *self.hash.get_or_init(|| text_hash(&self.text))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The text percent-encoded for a query value, as [`super::codec`] encodes every value.
    pub(crate) fn escaped(&self) -> &[u8] {
        self.escaped.get_or_init(|| {
            let mut out = Vec::with_capacity(self.text.len() + self.text.len() / 4);
            super::codec::push_escaped(&mut out, &self.text);
            out.into_boxed_slice()
        })
    }
}

/// A hash of a text (FxHash: fast, not for untrusted keys on its own; its users compare the text
/// too).
pub(crate) fn text_hash(text: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(text)
}

impl PartialEq for SharedText {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for SharedText {}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

/// A [`SharedText`] as the key of a map or set that is looked up by `&str`.
#[derive(Clone)]
pub(crate) struct TextKey(pub(crate) Arc<SharedText>);

impl Borrow<str> for TextKey {
    fn borrow(&self) -> &str {
        &self.0.text
    }
}

impl Hash for TextKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so a lookup by `&str` finds it.
        self.0.text.hash(state);
    }
}

impl PartialEq for TextKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for TextKey {}

impl fmt::Debug for TextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_codecs_and_is_worked_out_once() {
        let text = SharedText::new("Mozilla/5.0 (X11; Linux x86_64) a&b=c");
        let first = text.escaped().as_ptr();
        assert_eq!(
            text.escaped(),
            b"Mozilla/5.0%20(X11;%20Linux%20x86_64)%20a%26b%3Dc"
        );
        assert_eq!(text.escaped().as_ptr(), first);
        assert_eq!(
            format!("{text:?}"),
            "\"Mozilla/5.0 (X11; Linux x86_64) a&b=c\""
        );
    }
}
