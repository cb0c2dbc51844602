//! A hit's four free texts (`url`, `action_name`, `urlref`, `uid`) in one allocation.
//!
//! A page view carries three of them, each as long as a URL, and its action name is most often its
//! URL's path. Held in one buffer, with a text allowed to lie inside another, they cost one
//! allocation and one free per hit instead of three of each (none when the buffer of a sent hit is
//! reused, see [`SpareBuffers`](super::SpareBuffers)), and the path is copied once.

use std::fmt;
use std::ops::Range;

/// Which of a hit's free texts.
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

/// Where a text that is not there "starts".
const ABSENT: usize = usize::MAX;

/// The texts in one buffer: text `i` is `buffer[spans[i].0..spans[i].1]`, or missing when its
/// span starts at [`ABSENT`]. Spans may overlap: a page view's action name is most often its URL's
/// path, written once ([`TextsWriter::repeat`]). Texts compare by content.
#[derive(Clone)]
pub(crate) struct Texts {
    buffer: String,
    spans: [(usize, usize); 4],
}

impl Default for Texts {
    fn default() -> Self {
        Self {
            buffer: String::new(),
            spans: [(ABSENT, 0); 4],
        }
    }
}

impl Texts {
    /// Text `which`, when it is there.
    #[inline]
    pub(crate) fn get(&self, which: Text) -> Option<&str> {
        let (start, end) = self.spans[which as usize];
        if start == ABSENT {
            return None;
        }
        self.buffer.get(start..end)
    }

    /// Where text `inner` lies inside text `outer`, as a range of `outer`'s bytes, when it does:
    /// it was written as part of `outer` ([`TextsWriter::repeat`]), so it is that part of it.
    #[inline]
    pub(crate) fn within(&self, inner: Text, outer: Text) -> Option<Range<usize>> {
        let (start, end) = self.spans[inner as usize];
        let (outer_start, outer_end) = self.spans[outer as usize];
        (start != ABSENT && outer_start != ABSENT && outer_start <= start && end <= outer_end)
            .then(|| start - outer_start..end - outer_start)
    }

    /// The buffer the texts are written in, for other texts to be written in it
    /// ([`TextsWriter::reusing`]); these are left with none.
    pub(crate) fn take_buffer(&mut self) -> String {
        std::mem::take(self).buffer
    }

    /// About how long the texts are together (a text inside another counts once).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }

    /// The four texts, in the order of [`Text`] (`url`, `action_name`, `urlref`, `uid`), each one
    /// written whole.
    pub(crate) fn from_all(texts: [Option<&str>; 4]) -> Texts {
        let mut writer = TextsWriter::new(texts.iter().flatten().map(|t| t.len()).sum());
        for (text, value) in Text::ALL.into_iter().zip(texts) {
            if let Some(value) = value {
                writer.push(text, &[value]);
            }
        }
        writer.finish()
    }

    /// Sets text `which` (or removes it), keeping the others: the buffer is written again.
    pub(crate) fn set(&mut self, which: Text, value: Option<&str>) {
        *self = Texts::from_all(
            Text::ALL.map(|text| if text == which { value } else { self.get(text) }),
        );
    }
}

impl PartialEq for Texts {
    fn eq(&self, other: &Self) -> bool {
        Text::ALL
            .into_iter()
            .all(|text| self.get(text) == other.get(text))
    }
}

impl Eq for Texts {}

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

/// Writes [`Texts`] in one allocation: each text from its parts, or as a stretch of what was
/// written already.
pub(crate) struct TextsWriter {
    texts: Texts,
}

impl TextsWriter {
    /// A writer with room for `capacity` bytes of text.
    #[inline]
    pub(crate) fn new(capacity: usize) -> Self {
        Self::reusing(String::new(), capacity)
    }

    /// [`TextsWriter::new`] in `buffer` (emptied first), which is grown only when it has less room.
    #[inline]
    pub(crate) fn reusing(mut buffer: String, capacity: usize) -> Self {
        buffer.clear();
        buffer.reserve(capacity);
        Self {
            texts: Texts {
                buffer,
                ..Texts::default()
            },
        }
    }

    /// How many bytes are written: where the next text will start.
    #[inline]
    pub(crate) fn written(&self) -> usize {
        self.texts.buffer.len()
    }

    /// Appends text `which`, the concatenation of `parts` (in place of any earlier one). Inlined:
    /// the parts are few and often literals, so each copy is compiled for its part.
    #[inline(always)]
    pub(crate) fn push(&mut self, which: Text, parts: &[&str]) {
        let start = self.texts.buffer.len();
        for part in parts {
            self.texts.buffer.push_str(part);
        }
        self.texts.spans[which as usize] = (start, self.texts.buffer.len());
    }

    /// Text `which` is the bytes `range` of what was written already (a part pushed earlier, as
    /// [`TextsWriter::written`] told before and after it): nothing is copied. A range that is not
    /// such a part is ignored.
    #[inline]
    pub(crate) fn repeat(&mut self, which: Text, range: Range<usize>) {
        if self.texts.buffer.get(range.clone()).is_some() {
            self.texts.spans[which as usize] = (range.start, range.end);
        }
    }

    /// The texts written.
    #[inline]
    pub(crate) fn finish(self) -> Texts {
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
        Texts::from_all(texts.each_ref().map(Option::as_deref))
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
            // Equal to the texts written at once.
            prop_assert_eq!(&set, &written(&changed));
            prop_assert_eq!(set.get(Text::ALL[which]), value.as_deref());
        }

        #[test]
        fn texts_compare_by_content(a in four(), b in four()) {
            prop_assert_eq!(written(&a) == written(&b), a == b);
        }
    }

    #[test]
    fn parts_are_joined_and_a_text_can_be_part_of_another() {
        let mut writer = TextsWriter::new(8);
        writer.push(Text::UserId, &["u"]);
        let url = writer.written();
        writer.push(Text::Url, &["https://a.example", "/x", "?", "q=1"]);
        // The path, inside the URL.
        writer.repeat(Text::ActionName, url + 17..url + 19);
        // Pushed again: the later one counts.
        writer.push(Text::UserId, &["v"]);
        // Not a stretch of what was written: ignored.
        writer.repeat(Text::Referrer, 3..100);
        let texts = writer.finish();
        assert_eq!(texts.get(Text::Url), Some("https://a.example/x?q=1"));
        assert_eq!(texts.get(Text::ActionName), Some("/x"));
        assert_eq!(texts.get(Text::Referrer), None);
        assert_eq!(texts.get(Text::UserId), Some("v"));
        // Where the path lies in the URL; texts written on their own lie in no other.
        assert_eq!(texts.within(Text::ActionName, Text::Url), Some(17..19));
        assert_eq!(texts.within(Text::Url, Text::ActionName), None);
        assert_eq!(texts.within(Text::UserId, Text::Url), None);
        assert_eq!(texts.within(Text::Referrer, Text::Url), None);
        assert_eq!(
            format!("{texts:?}"),
            r#"{"url": "https://a.example/x?q=1", "action_name": "/x", "uid": "v"}"#
        );
        // Equal to the same texts written one after the other.
        let mut plain = TextsWriter::new(0);
        plain.push(Text::Url, &["https://a.example/x?q=1"]);
        plain.push(Text::ActionName, &["/x"]);
        plain.push(Text::UserId, &["v"]);
        assert_eq!(texts, plain.finish());
        let mut plain = TextsWriter::new(0);
        plain.push(Text::Url, &["https://a.example/x?q=1"]);
        // Written again in the buffer of texts that are done with: only the new texts are in it.
        let mut old = plain.finish();
        let mut writer = TextsWriter::reusing(old.take_buffer(), 4);
        assert_eq!(old, Texts::default());
        writer.push(Text::Referrer, &["r"]);
        let reused = writer.finish();
        assert_eq!(reused.len(), 1);
        assert_eq!(reused.get(Text::Referrer), Some("r"));
        assert_eq!(reused.get(Text::Url), None);
        let mut empty = Texts::default();
        empty.set(Text::Referrer, Some(""));
        assert_eq!(empty.get(Text::Referrer), Some(""));
        assert_eq!(empty.get(Text::Url), None);
        assert_ne!(empty, Texts::default());
    }
}
