//! A hit's four free texts (`url`, `action_name`, `urlref`, `uid`) in one allocation.
//!
//! A page view carries three of them, each as long as a URL. Held in one buffer they cost one
//! allocation and one free per hit instead of three of each, which is a tenth of what the
//! dispatcher does per hit, and the same again in a decoder.

use std::fmt;

/// Which of a hit's free texts; also their order in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Text {
    Url = 0,
    ActionName = 1,
    Referrer = 2,
    UserId = 3,
}

impl Text {
    const ALL: [Text; 4] = [Text::Url, Text::ActionName, Text::Referrer, Text::UserId];

    /// The parameter's name, for `Debug`.
    fn name(self) -> &'static str {
        match self {
            Text::Url => "url",
            Text::ActionName => "action_name",
            Text::Referrer => "urlref",
            Text::UserId => "uid",
        }
    }
}

/// The texts, one after the other in [`Text`] order in `buffer`: text `i` ends at `ends[i]` and
/// starts where text `i - 1` ends; a missing text takes no room, and `present` has bit `i` set for
/// each text that is there (an empty text is there). The layout is canonical, so the derived
/// equality compares texts.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Texts {
    buffer: String,
    ends: [usize; 4],
    present: u8,
}

impl Texts {
    /// Text `which`, when it is there.
    #[inline]
    pub(crate) fn get(&self, which: Text) -> Option<&str> {
        let i = which as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.buffer.get(start..self.ends[i])
    }

    /// The length of all texts together.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Sets text `which` (or removes it), keeping the others: the buffer is written again.
    pub(crate) fn set(&mut self, which: Text, value: Option<&str>) {
        let texts = Text::ALL.map(|text| if text == which { value } else { self.get(text) });
        let mut writer = TextsWriter::new(texts.iter().flatten().map(|t| t.len()).sum());
        for (text, value) in Text::ALL.into_iter().zip(texts) {
            if let Some(value) = value {
                writer.push(text, &[value]);
            }
        }
        *self = writer.finish();
    }
}

impl fmt::Debug for Texts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                Text::ALL
                    .into_iter()
                    .filter_map(|text| Some((text.name(), self.get(text)?))),
            )
            .finish()
    }
}

/// Writes [`Texts`] in one allocation: each text pushed in [`Text`] order (missing ones skipped),
/// from its parts.
pub(crate) struct TextsWriter {
    texts: Texts,
    /// The first text not written yet.
    next: usize,
}

impl TextsWriter {
    /// A writer with room for `capacity` bytes of text.
    #[inline]
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            texts: Texts {
                buffer: String::with_capacity(capacity),
                ..Texts::default()
            },
            next: 0,
        }
    }

    /// Appends text `which`, the concatenation of `parts`. A text pushed out of order, or twice,
    /// is set in place of the earlier one all the same (at the cost of writing the buffer again).
    /// Inlined: the parts are few and often literals, so each copy is compiled for its part.
    #[inline(always)]
    pub(crate) fn push(&mut self, which: Text, parts: &[&str]) {
        let i = which as usize;
        if i < self.next {
            self.texts.set(which, Some(&parts.concat()));
            return;
        }
        let len = self.texts.buffer.len();
        self.texts.ends[self.next..i].fill(len);
        for part in parts {
            self.texts.buffer.push_str(part);
        }
        self.texts.ends[i] = self.texts.buffer.len();
        self.texts.present |= 1 << i;
        self.next = i + 1;
    }

    /// The texts written.
    #[inline]
    pub(crate) fn finish(mut self) -> Texts {
        let len = self.texts.buffer.len();
        self.texts.ends[self.next..].fill(len);
        self.texts
    }
}

#[cfg(test)]
mod tests {
    use super::{Text, Texts, TextsWriter};
    use proptest::prelude::*;

    /// Four optional texts, any of them empty or missing.
    fn four() -> impl Strategy<Value = [Option<String>; 4]> {
        proptest::array::uniform4(proptest::option::of("\\PC{0,12}"))
    }

    fn written(texts: &[Option<String>; 4]) -> Texts {
        let mut writer = TextsWriter::new(0);
        for (which, text) in Text::ALL.into_iter().zip(texts) {
            if let Some(text) = text {
                writer.push(which, &[text]);
            }
        }
        writer.finish()
    }

    proptest! {
        #[test]
        fn each_text_reads_back_as_written(texts in four()) {
            let written = written(&texts);
            for (which, text) in Text::ALL.into_iter().zip(&texts) {
                prop_assert_eq!(written.get(which), text.as_deref());
            }
            prop_assert_eq!(written.len(), texts.iter().flatten().map(String::len).sum::<usize>());
        }

        #[test]
        fn set_changes_one_text_and_keeps_the_others(
            texts in four(),
            which in 0..4usize,
            value in proptest::option::of("\\PC{0,12}"),
        ) {
            let mut changed = texts.clone();
            changed[which] = value.clone();
            let mut set = written(&texts);
            set.set(Text::ALL[which], value.as_deref());
            // Equal to the texts written at once: the layout is canonical.
            prop_assert_eq!(&set, &written(&changed));
            prop_assert_eq!(set.get(Text::ALL[which]), value.as_deref());
        }

        #[test]
        fn texts_compare_by_content(a in four(), b in four()) {
            prop_assert_eq!(written(&a) == written(&b), a == b);
        }
    }

    #[test]
    fn parts_are_joined_and_order_is_forgiven() {
        let mut writer = TextsWriter::new(8);
        writer.push(Text::Url, &["https://a.example", "/x", "?", "q=1"]);
        writer.push(Text::UserId, &["u"]);
        // Out of order: set in place all the same.
        writer.push(Text::ActionName, &["/x"]);
        writer.push(Text::UserId, &["v"]);
        let texts = writer.finish();
        assert_eq!(texts.get(Text::Url), Some("https://a.example/x?q=1"));
        assert_eq!(texts.get(Text::ActionName), Some("/x"));
        assert_eq!(texts.get(Text::Referrer), None);
        assert_eq!(texts.get(Text::UserId), Some("v"));
        assert_eq!(
            format!("{texts:?}"),
            r#"{"url": "https://a.example/x?q=1", "action_name": "/x", "uid": "v"}"#
        );
        let mut empty = Texts::default();
        empty.set(Text::Referrer, Some(""));
        assert_eq!(empty.get(Text::Referrer), Some(""));
        assert_eq!(empty.get(Text::Url), None);
        assert_ne!(empty, Texts::default());
    }
}
