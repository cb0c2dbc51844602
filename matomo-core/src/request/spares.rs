//! The text buffers of hits that are done with, kept for the hits built next.
//!
//! Each hit holds its texts (`url`, `action_name`, `urlref`, `uid`) in one buffer. A dispatcher
//! builds a batch of hits, sends it, and drops it: one allocation and one free per hit, in bursts
//! of a batch, which the system allocator's small per-thread cache does not absorb (~185
//! instructions per hit with glibc, about a twentieth of all the dispatcher does for a hit).
//! Handing the buffers of a sent batch back to the builder makes building a hit allocate nothing
//! once the first batch is sent. A kept buffer is emptied: it holds no visitor's URL or user id.

use super::TrackingRequest;

/// At most this many buffers are kept: a batch's worth at the default batch size, and more.
const KEPT: usize = 256;

/// A buffer with more room than this is freed rather than kept, so one long URL does not hold its
/// memory for good.
const LONGEST_KEPT: usize = 2048;

/// Text buffers of hits that are done with, for [`HitBuilder::build_recalled_into`] to build the
/// next hits in: bounded (256 buffers of up to 2 KiB each).
///
/// ```
/// use matomo_core::{bulk_body, ClientMemory, HitBuilder, HttpExchange, SpareBuffers, TrackerConfig};
/// let builder = HitBuilder::new(&TrackerConfig::new("https://m.example/matomo.php", 1)).unwrap();
/// let (mut memory, mut spares, mut batch) = (ClientMemory::new(), SpareBuffers::new(), Vec::new());
/// for path in ["/a", "/b", "/c"] {
///     let exchange = HttpExchange::builder("GET", path).build();
///     let recalled = memory.recall(&exchange);
///     builder.build_recalled_into(&exchange, recalled, &mut spares, &mut batch).unwrap();
///     if batch.len() == 2 {
///         let body = bulk_body(&batch, None);
///         assert!(body.starts_with(b"{\"requests\":"));
///         // Sent: the hits' buffers go back for the next ones.
///         spares.reclaim(&mut batch);
///         assert_eq!(spares.len(), 2);
///     }
/// }
/// assert_eq!((batch.len(), spares.len()), (1, 1));
/// ```
///
/// [`HitBuilder::build_recalled_into`]: crate::HitBuilder::build_recalled_into
#[derive(Default)]
pub struct SpareBuffers {
    buffers: Vec<String>,
}

impl std::fmt::Debug for SpareBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpareBuffers")
            .field("kept", &self.buffers.len())
            .finish()
    }
}

impl SpareBuffers {
    /// None kept yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the text buffers of `hits`, which are done with (sent, or dropped), up to the bound,
    /// and empties `hits`: the rest of each hit is dropped where it is.
    pub fn reclaim(&mut self, hits: &mut Vec<TrackingRequest>) {
        for hit in hits.iter_mut() {
            self.keep(hit);
        }
        hits.clear();
    }

    /// Keeps the text buffer of `hit` (left with empty texts) when there is room for it.
    pub(crate) fn keep(&mut self, hit: &mut TrackingRequest) {
        if self.buffers.len() >= KEPT {
            return;
        }
        let mut buffer = hit.texts.take_buffer();
        if buffer.capacity() > 0 && buffer.capacity() <= LONGEST_KEPT {
            buffer.clear();
            self.buffers.push(buffer);
        }
    }

    /// A buffer to write a hit's texts in: a kept one, emptied, or a new one (which allocates
    /// nothing until it is written to).
    #[inline]
    pub(crate) fn take(&mut self) -> String {
        self.buffers.pop().unwrap_or_default()
    }

    /// How many buffers are kept.
    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{SpareBuffers, KEPT, LONGEST_KEPT};
    use crate::TrackingRequest;

    fn hit(url: &str) -> TrackingRequest {
        TrackingRequest::builder(1).url(url).build().unwrap()
    }

    #[test]
    fn reclaiming_empties_the_hits_and_keeps_a_bounded_number_of_short_buffers() {
        let mut spares = SpareBuffers::new();
        let mut hits = vec![
            hit("https://a.example/"),
            TrackingRequest::builder(1).build().unwrap(),
        ];
        spares.reclaim(&mut hits);
        assert!(hits.is_empty());
        // A hit without texts has no buffer to give.
        assert_eq!(spares.len(), 1);
        let mut long = vec![hit(&format!(
            "https://a.example/{}",
            "x".repeat(LONGEST_KEPT)
        ))];
        spares.reclaim(&mut long);
        assert_eq!(spares.len(), 1, "a long buffer is freed, not kept");
        let mut many: Vec<_> = (0..KEPT + 10).map(|_| hit("https://b.example/")).collect();
        spares.reclaim(&mut many);
        assert!(many.is_empty());
        assert_eq!(spares.len(), KEPT);
        let taken = spares.take();
        assert!(taken.capacity() > 0 && taken.capacity() <= LONGEST_KEPT);
        assert!(taken.is_empty(), "a kept buffer holds no visitor's texts");
        assert_eq!(spares.len(), KEPT - 1);
        assert_eq!(
            format!("{spares:?}"),
            format!("SpareBuffers {{ kept: {} }}", KEPT - 1)
        );
    }
}
