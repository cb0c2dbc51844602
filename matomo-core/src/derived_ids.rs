//! A bounded memory of the visitor ids derived from IP address and user agent.
//!
//! Without Matomo's `_pk_id` cookie (the usual case server-side), a hit's visitor id is a keyed
//! BLAKE3 hash of client IP and user agent, ~1,400 instructions; a visitor's requests repeat both.
//! The ids worked out are kept, so each visitor's is hashed once. The memory holds IP addresses and
//! user agents, as the queue does; it is bounded and never printed.

use crate::client_memory::keep_bounded;
use crate::identity::VisitorIdDeriver;
use crate::visitor::VisitorId;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;

struct Known {
    ip: Option<IpAddr>,
    user_agent: Option<Box<str>>,
    id: VisitorId,
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
        user_agent: Option<&str>,
    ) -> VisitorId {
        let mut hasher = FxHasher::default();
        ip.hash(&mut hasher);
        user_agent.hash(&mut hasher);
        let key = hasher.finish();
        // A panic elsewhere while the lock was held leaves a map that is still whole.
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = known.get(&key) {
            if entry.ip == ip && entry.user_agent.as_deref() == user_agent {
                return entry.id;
            }
        }
        let id = deriver.derive(ip, user_agent);
        // As many visitors as the client memory keeps user agents; a user agent too long to keep
        // has its id derived each time.
        keep_bounded(
            &mut known,
            user_agent,
            key,
            Known {
                ip,
                user_agent: user_agent.map(Box::from),
                id,
            },
        );
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
                    ids.get(&deriver, ip, ua.as_deref()),
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
            ids.get(&deriver, None, Some(&long)),
            deriver.derive(None, Some(&long))
        );
        assert_eq!(ids.len(), before);
        assert_eq!(format!("{ids:?}"), format!("DerivedIds({before} kept)"));
    }

    proptest::proptest! {
        /// Whatever was asked before, every answer is the deriver's.
        #[test]
        fn every_answer_is_the_derivers(
            asks in proptest::collection::vec(
                (proptest::option::of(0u8..4), proptest::option::of("[a-c]{0,3}")),
                1..50,
            ),
        ) {
            let deriver = VisitorIdDeriver::new(&Salt::new("test"));
            let ids = DerivedIds::default();
            for (ip, ua) in asks {
                let ip = ip.map(|last| IpAddr::from([192, 0, 2, last]));
                proptest::prop_assert_eq!(
                    ids.get(&deriver, ip, ua.as_deref()),
                    deriver.derive(ip, ua.as_deref())
                );
            }
        }
    }
}
