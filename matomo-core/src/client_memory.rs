//! A bounded memory of what the dispatcher learns about clients: each user agent's text and bot
//! verdict, and each `Accept-Language` value's text.
//!
//! The bot rule is a scan of the user agent by a large regex (~1,400 instructions for a browser's),
//! and a site's traffic repeats a few hundred user agents and languages over and over. The
//! dispatcher looks each one up first (a hash and a compare, ~100 instructions): a user agent is
//! scanned once, and the hits that carry the same text share one copy of it instead of allocating
//! their own.

use crate::exchange::{Field, HttpExchange};
use crate::request::{SharedText, TextKey};
use crate::rules::is_bot;
use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::sync::Arc;

/// How many entries a memory of the dispatcher's keeps (user agents, languages, derived visitor
/// ids); each is forgotten when it is full, so a flood of distinct values costs a re-scan and a
/// copy, never unbounded memory.
pub(crate) const CAPACITY: usize = 1024;

/// Texts longer than this are not kept (worked out and copied each time): real browsers send a few
/// hundred bytes at most, and keeping a long one would let an entry hold a lot of memory.
pub(crate) const LONGEST_KEPT: usize = 512;

/// Keeps the value `make` makes under `key` in a memory bounded as above, unless the `text` it
/// holds is too long (then nothing is made); a full memory starts over. The one rule the
/// dispatcher's memories share. Out of line: it only runs when a memory learns something, and
/// inlined it weighs on the lookups around it.
#[inline(never)]
pub(crate) fn keep_bounded<K: Hash + Eq, V>(
    known: &mut FxHashMap<K, V>,
    text: Option<&str>,
    key: K,
    make: impl FnOnce() -> V,
) {
    if text.is_some_and(|text| text.len() > LONGEST_KEPT) {
        return;
    }
    if known.len() >= CAPACITY {
        known.clear();
    }
    known.insert(key, make());
}

/// What a [`ClientMemory`] recalled about an exchange's client, for
/// [`HitBuilder::build_recalled`](crate::HitBuilder::build_recalled): the user agent's and
/// language's texts, shared with the other hits that carry them (and escaped once for all), and
/// the bot verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recalled {
    pub(crate) user_agent: Option<Arc<SharedText>>,
    pub(crate) bot: bool,
    pub(crate) language: Option<Arc<SharedText>>,
}

impl Recalled {
    /// The `User-Agent` header's text.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref().map(SharedText::as_str)
    }

    /// Whether the user agent is a known bot ([`is_bot`]).
    pub fn bot(&self) -> bool {
        self.bot
    }

    /// The `Accept-Language` header's text.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref().map(SharedText::as_str)
    }
}

/// Remembers the user agents (with their bot verdict) and languages seen, so the bot regex scans
/// each user agent once, and the hits that carry the same text share one copy of it, escaped once.
///
/// At most 1,024 user agents and 1,024 languages of up to 512 bytes each are kept, each with its
/// escaped form once encoded (4 MiB at the very worst, every byte escaped; a browser's user agent
/// takes a few hundred bytes); a full memory starts over. Verdicts are always [`is_bot`]'s.
///
/// ```
/// use matomo_core::{ClientMemory, HttpExchange};
/// let browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// let exchange = HttpExchange::builder("GET", "/")
///     .header("user-agent", browser)
///     .header("accept-language", "de-DE,de;q=0.9")
///     .build();
/// let mut memory = ClientMemory::new();
/// let first = memory.recall(&exchange);
/// assert!(!first.bot());
/// assert_eq!(first.user_agent(), Some(browser));
/// assert_eq!(first.language(), Some("de-DE,de;q=0.9"));
/// assert_eq!(memory.recall(&exchange), first); // looked up: not scanned, not copied
/// assert!(memory.is_bot(Some("Googlebot/2.1 (+http://www.google.com/bot.html)")));
/// assert_eq!(memory.len(), 3); // two user agents, one language
/// ```
#[derive(Debug, Default, Clone)]
pub struct ClientMemory {
    /// User agents and whether each is a bot.
    agents: FxHashMap<TextKey, bool>,
    languages: FxHashMap<TextKey, ()>,
}

impl ClientMemory {
    /// An empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user agent's and language's shared texts and the bot verdict for `exchange`.
    pub fn recall(&mut self, exchange: &HttpExchange) -> Recalled {
        let (user_agent, bot) = match exchange.get(Field::UserAgent) {
            Some(user_agent) => {
                let (text, bot) = self.user_agent(user_agent);
                (Some(text), bot)
            }
            None => (None, false),
        };
        Recalled {
            user_agent,
            bot,
            language: exchange
                .get(Field::AcceptLanguage)
                .map(|language| self.language(language)),
        }
    }

    /// A user agent's shared text and whether it is a known bot.
    fn user_agent(&mut self, user_agent: &str) -> (Arc<SharedText>, bool) {
        remember(&mut self.agents, user_agent, || is_bot(Some(user_agent)))
    }

    /// [`is_bot`] for `user_agent`, from memory when it was seen before.
    pub fn is_bot(&mut self, user_agent: Option<&str>) -> bool {
        user_agent.is_some_and(|user_agent| self.user_agent(user_agent).1)
    }

    /// A language's shared text.
    fn language(&mut self, language: &str) -> Arc<SharedText> {
        remember(&mut self.languages, language, || ()).0
    }

    /// How many texts are kept (user agents and languages).
    pub fn len(&self) -> usize {
        self.agents.len() + self.languages.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `text`'s shared copy in `known` and what is kept with it, worked out by `learn` and kept when
/// `text` is not there yet (unless it is longer than [`LONGEST_KEPT`]; a full memory starts over).
// A key hashes and compares its text only, which never changes; the escaped form it caches
// (the interior mutability the lint sees) takes no part.
#[allow(clippy::mutable_key_type)]
fn remember<V: Copy>(
    known: &mut FxHashMap<TextKey, V>,
    text: &str,
    learn: impl FnOnce() -> V,
) -> (Arc<SharedText>, V) {
    if let Some((key, &value)) = known.get_key_value(text) {
        return (Arc::clone(&key.0), value);
    }
    let shared = SharedText::new(text);
    let value = learn();
    keep_bounded(known, Some(text), TextKey(Arc::clone(&shared)), || value);
    (shared, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_answers_stay_right() {
        let mut memory = ClientMemory::new();
        for i in 0..3 * CAPACITY {
            let browser = format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{i}.0");
            assert!(!memory.is_bot(Some(&browser)));
            let bot = format!("examplebot/{i}.0 (+https://bot.example/)");
            assert!(memory.is_bot(Some(&bot)));
            let language = format!("de-DE,de;q=0.{i}");
            assert_eq!(memory.language(&language).as_str(), language);
            assert!(memory.agents.len() <= CAPACITY);
            assert!(memory.languages.len() <= CAPACITY);
        }
        assert!(!memory.is_empty());
    }

    #[test]
    fn long_texts_are_answered_but_not_kept() {
        let mut memory = ClientMemory::new();
        let long = format!("Googlebot/2.1 {}", "x".repeat(LONGEST_KEPT));
        assert!(memory.is_bot(Some(&long)));
        assert!(memory.is_bot(Some(&long)));
        let long_browser = format!("Mozilla/5.0 {}", "y".repeat(LONGEST_KEPT));
        let (text, bot) = memory.user_agent(&long_browser);
        assert!(!bot);
        assert_eq!(text.as_str(), long_browser);
        let long_language = "en;q=0.1,".repeat(LONGEST_KEPT);
        assert_eq!(memory.language(&long_language).as_str(), long_language);
        assert!(memory.is_empty());
    }

    #[test]
    fn blank_user_agents_are_not_bots() {
        let mut memory = ClientMemory::new();
        assert!(!memory.is_bot(Some("")));
        assert!(!memory.is_bot(Some("   ")));
        assert!(!memory.is_bot(None));
    }

    proptest::proptest! {
        /// Remembered or not, every verdict is the regex's own and every text is the one asked
        /// for, for user agents that repeat (drawn from a few real ones, bots among them) and ones
        /// that never do.
        #[test]
        fn answers_are_is_bots_and_texts_are_kept_whole(
            picks in proptest::collection::vec((0usize..6, "[ -~]{0,40}"), 1..60)
        ) {
            const SEEN: [&str; 6] = [
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Googlebot/2.1 (+http://www.google.com/bot.html)",
                "curl/8.5.0",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                " ",
            ];
            let mut memory = ClientMemory::new();
            for (pick, random) in &picks {
                for text in [SEEN[*pick], random.as_str()] {
                    let (kept, bot) = memory.user_agent(text);
                    proptest::prop_assert_eq!(bot, is_bot(Some(text)), "{:?}", text);
                    proptest::prop_assert_eq!(kept.as_str(), text);
                    let language = memory.language(text);
                    proptest::prop_assert_eq!(language.as_str(), text);
                }
            }
        }
    }
}
