//! A bounded memory of [`is_bot`] verdicts by user agent.
//!
//! The bot rule is a scan of the user agent by a large regex (~1,400 instructions for a browser's),
//! and a site's traffic repeats a few hundred user agents over and over. The dispatcher keeps the
//! verdicts it has worked out and looks each user agent up first (a hash and a compare, ~150
//! instructions).

use crate::rules::is_bot;
use rustc_hash::FxHashMap;

/// How many verdicts are kept; the whole memory is forgotten when it is full, so a flood of
/// distinct user agents costs a re-scan, never unbounded memory.
const CAPACITY: usize = 1024;

/// User agents longer than this are scanned every time rather than kept: real browsers send a few
/// hundred bytes at most, and keeping a long one would let each entry hold a lot of memory.
const LONGEST_KEPT: usize = 512;

/// Remembers whether each user agent seen is a known bot, so the regex scans each one once.
///
/// At most 1,024 user agents of up to 512 bytes are kept (about 0.6 MiB at worst); when it is
/// full, it starts over. Answers are always [`is_bot`]'s.
///
/// ```
/// use matomo_core::BotVerdicts;
/// let mut verdicts = BotVerdicts::new();
/// let browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// assert!(!verdicts.is_bot(Some(browser)));
/// assert!(!verdicts.is_bot(Some(browser))); // looked up, not scanned again
/// assert!(verdicts.is_bot(Some("Googlebot/2.1 (+http://www.google.com/bot.html)")));
/// assert!(!verdicts.is_bot(None));
/// assert_eq!(verdicts.len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct BotVerdicts {
    known: FxHashMap<Box<str>, bool>,
}

impl BotVerdicts {
    /// An empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`is_bot`] for `user_agent`, from memory when it was seen before.
    pub fn is_bot(&mut self, user_agent: Option<&str>) -> bool {
        let Some(user_agent) = user_agent else {
            return false;
        };
        if let Some(&verdict) = self.known.get(user_agent) {
            return verdict;
        }
        let verdict = is_bot(Some(user_agent));
        if user_agent.len() <= LONGEST_KEPT {
            if self.known.len() >= CAPACITY {
                self.known.clear();
            }
            self.known.insert(user_agent.into(), verdict);
        }
        verdict
    }

    /// How many verdicts are kept.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_answers_stay_right() {
        let mut verdicts = BotVerdicts::new();
        for i in 0..3 * CAPACITY {
            let browser = format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{i}.0");
            assert!(!verdicts.is_bot(Some(&browser)));
            let bot = format!("examplebot/{i}.0 (+https://bot.example/)");
            assert!(verdicts.is_bot(Some(&bot)));
            assert!(verdicts.len() <= CAPACITY);
        }
        assert!(!verdicts.is_empty());
    }

    #[test]
    fn long_user_agents_are_answered_but_not_kept() {
        let mut verdicts = BotVerdicts::new();
        let long = format!("Googlebot/2.1 {}", "x".repeat(LONGEST_KEPT));
        assert!(verdicts.is_bot(Some(&long)));
        assert!(verdicts.is_bot(Some(&long)));
        assert!(verdicts.is_empty());
        let long_browser = format!("Mozilla/5.0 {}", "y".repeat(LONGEST_KEPT));
        assert!(!verdicts.is_bot(Some(&long_browser)));
        assert!(verdicts.is_empty());
    }

    proptest::proptest! {
        /// Remembered or not, every answer is the regex's own, for user agents that repeat
        /// (drawn from a few real ones, bots among them) and ones that never do.
        #[test]
        fn answers_are_is_bots(
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
            let mut verdicts = BotVerdicts::new();
            for (pick, random) in &picks {
                for user_agent in [SEEN[*pick], random.as_str()] {
                    proptest::prop_assert_eq!(
                        verdicts.is_bot(Some(user_agent)),
                        is_bot(Some(user_agent)),
                        "{:?}", user_agent
                    );
                }
            }
        }
    }

    #[test]
    fn blank_user_agents_are_not_bots() {
        let mut verdicts = BotVerdicts::new();
        assert!(!verdicts.is_bot(Some("")));
        assert!(!verdicts.is_bot(Some("   ")));
        assert!(!verdicts.is_bot(None));
    }
}
