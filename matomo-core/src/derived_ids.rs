//! A bounded memory of the visitor ids derived from IP address and user agent.
//!
//! Without Matomo's `_pk_id` cookie (the usual case server-side), a hit's visitor id is a keyed
//! BLAKE3 hash of client IP and user agent, ~1,400 instructions; a visitor's requests repeat both.
//! The ids worked out are kept, so each visitor's is hashed once. The memory holds IP addresses and
//! user agents, as the queue does; it is bounded and never printed.

use crate::client_memory::keep_bounded;
use crate::identity::VisitorIdDeriver;
use crate::request::{text_hash, SharedText};
use crate::visitor::VisitorId;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

struct Known {
    ip: Option<IpAddr>,
    user_agent: Option<Arc<SharedText>>,
    id: VisitorId,
}

/// A user agent to look up: its text, or the shared copy a [`crate::ClientMemory`] keeps, whose
/// hash is worked out once for all its hits and which matches itself without a compare.
#[derive(Clone, Copy)]
pub(crate) enum UserAgent<'a> {
    Text(&'a str),
    Shared(&'a Arc<SharedText>),
}

impl<'a> UserAgent<'a> {
    fn as_str(self) -> &'a str {
        match self {
            UserAgent::Text(text) => text,
            UserAgent::Shared(shared) => shared.as_str(),
        }
    }

    fn hash(self) -> u64 {
        match self {
            UserAgent::Text(text) => text_hash(text),
            UserAgent::Shared(shared) => shared.hash(),
        }
    }

    /// Whether `kept` is this user agent: the same shared copy, or the same text.
    fn is(self, kept: &Arc<SharedText>) -> bool {
        match self {
            UserAgent::Shared(shared) if Arc::ptr_eq(shared, kept) => true,
            _ => self.as_str() == kept.as_str(),
        }
    }

    fn to_shared(self) -> Arc<SharedText> {
        match self {
            UserAgent::Text(text) => SharedText::new(text),
            UserAgent::Shared(shared) => Arc::clone(shared),
        }
    }
}

/// The map key of an IP address and user agent.
fn key(ip: Option<IpAddr>, user_agent: Option<UserAgent<'_>>) -> u64 {
    let mut hasher = FxHasher::default();
    ip.hash(&mut hasher);
    user_agent.map(UserAgent::hash).hash(&mut hasher);
    hasher.finish()
}

/// Derived visitor ids by a 64-bit hash of (IP, user agent); each entry holds its IP and user agent
/// too, so a hash shared by two visitors is told apart (the newer one takes the entry).
#[derive(Default)]
pub(crate) struct DerivedIds {
    known: Mutex<FxHashMap<u64, Known>>,
}

impl DerivedIds {
    /// The id `deriver` gives this IP and user agent, from memory when it was worked out before.
    pub(crate) fn get(
        &self,
        deriver: &VisitorIdDeriver,
        ip: Option<IpAddr>,
        user_agent: Option<UserAgent<'_>>,
    ) -> VisitorId {
        let key = key(ip, user_agent);
        // A panic elsewhere while the lock was held leaves a map that is still whole.
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = known.get(&key) {
            let same_agent = match (user_agent, &entry.user_agent) {
                (None, None) => true,
                (Some(asked), Some(kept)) => asked.is(kept),
                _ => false,
            };
            if entry.ip == ip && same_agent {
                return entry.id;
            }
        }
        let text = user_agent.map(UserAgent::as_str);
        let id = deriver.derive(ip, text);
        // As many visitors as the client memory keeps user agents; a user agent too long to keep
        // has its id derived each time.
        keep_bounded(&mut known, text, key, || Known {
            ip,
            user_agent: user_agent.map(UserAgent::to_shared),
            id,
        });
        id
    }

    fn len(&self) -> usize {
        self.known.lock().map_or(0, |known| known.len())
    }
}

impl Clone for DerivedIds {
    /// A clone starts with an empty memory: it is only ever a cache.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for DerivedIds {
    /// How many are kept, never which: they are IP addresses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DerivedIds({} kept)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_memory::{CAPACITY, LONGEST_KEPT};
    use crate::secret::Salt;

    #[test]
    fn ids_are_the_derivers_and_memory_stays_bounded() {
        let deriver = VisitorIdDeriver::new(&Salt::new("test"));
        let ids = DerivedIds::default();
        for round in 0..2 {
            for i in 0..3 * CAPACITY as u32 {
                let ip = Some(IpAddr::from(i.to_be_bytes()));
                let ua = (i % 3 != 0).then(|| format!("Browser/{}", i % 7));
                assert_eq!(
                    ids.get(&deriver, ip, ua.as_deref().map(UserAgent::Text)),
                    deriver.derive(ip, ua.as_deref()),
                    "round {round}, visitor {i}"
                );
                assert!(ids.len() <= CAPACITY);
            }
        }
        let long = "x".repeat(LONGEST_KEPT + 1);
        ids.get(&deriver, None, None);
        let before = ids.len();
        assert_eq!(
            ids.get(&deriver, None, Some(UserAgent::Text(&long))),
            deriver.derive(None, Some(&long))
        );
        assert_eq!(ids.len(), before);
        assert_eq!(format!("{ids:?}"), format!("DerivedIds({before} kept)"));
    }

    #[test]
    fn an_entry_under_the_same_key_for_another_visitor_is_not_taken() {
        // What a 64-bit hash collision would leave: another IP or user agent under this key.
        let deriver = VisitorIdDeriver::new(&Salt::new("test"));
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        let agent = SharedText::new("Browser/1");
        let wrong: VisitorId = "0123456789abcdef".parse().unwrap();
        for (kept_ip, kept_agent) in [(ip, "Browser/2"), (None, "Browser/1")] {
            for asked in [UserAgent::Text("Browser/1"), UserAgent::Shared(&agent)] {
                let ids = DerivedIds::default();
                ids.known.lock().unwrap().insert(
                    key(ip, Some(asked)),
                    Known {
                        ip: kept_ip,
                        user_agent: Some(SharedText::new(kept_agent)),
                        id: wrong,
                    },
                );
                assert_eq!(
                    ids.get(&deriver, ip, Some(asked)),
                    deriver.derive(ip, Some("Browser/1"))
                );
            }
        }
    }

    proptest::proptest! {
        /// Whatever was asked before, and whether a user agent comes as text, as a shared copy
        /// asked before, or as a new copy of the same text, every answer is the deriver's.
        #[test]
        fn every_answer_is_the_derivers(
            asks in proptest::collection::vec(
                (proptest::option::of(0u8..4), proptest::option::of("[a-c]{0,3}"), 0u8..3),
                1..50,
            ),
        ) {
            let deriver = VisitorIdDeriver::new(&Salt::new("test"));
            let ids = DerivedIds::default();
            let mut copies: Vec<Arc<SharedText>> = Vec::new();
            for (ip, ua, how) in asks {
                let ip = ip.map(|last| IpAddr::from([192, 0, 2, last]));
                let shared = ua.as_deref().map(|text| {
                    match copies.iter().find(|copy| copy.as_str() == text) {
                        Some(copy) if how == 1 => Arc::clone(copy),
                        _ => {
                            let copy = SharedText::new(text);
                            copies.push(Arc::clone(&copy));
                            copy
                        }
                    }
                });
                let asked = match how {
                    0 => ua.as_deref().map(UserAgent::Text),
                    _ => shared.as_ref().map(UserAgent::Shared),
                };
                proptest::prop_assert_eq!(
                    ids.get(&deriver, ip, asked),
                    deriver.derive(ip, ua.as_deref())
                );
            }
        }
    }
}
