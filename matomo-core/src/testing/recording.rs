//! `RecordingTransport`: keeps every batch it is asked to send and answers as scripted.

use crate::request::TrackingRequest;
use crate::transport::{Accepted, Transport, TransportError};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// A [`Transport`] that records batches instead of sending them.
///
/// Each call pops the next scripted result; with none left it accepts the whole batch.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use matomo_core::testing::RecordingTransport;
/// use matomo_core::{TrackingRequest, Transport, TransportError};
/// let transport = RecordingTransport::new();
/// transport.push_result(Err(TransportError::Status { status: 500, retry_after: None, endpoint: "test".into() }));
/// let hit = TrackingRequest::builder(1).build().unwrap();
/// assert!(transport.send(&[hit.clone()]).await.is_err());
/// assert_eq!(transport.send(&[hit.clone()]).await.unwrap().tracked, 1);
/// assert_eq!(transport.batches().len(), 2);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingTransport {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    batches: Vec<Vec<TrackingRequest>>,
    sent_at: Vec<tokio::time::Instant>,
    script: VecDeque<Result<Accepted, TransportError>>,
}

impl RecordingTransport {
    /// A transport that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Scripts the result of the next unscripted call.
    pub fn push_result(&self, result: Result<Accepted, TransportError>) {
        self.lock().script.push_back(result);
    }

    /// Every batch asked for, in order.
    pub fn batches(&self) -> Vec<Vec<TrackingRequest>> {
        self.lock().batches.clone()
    }

    /// When each batch was asked for, on tokio's clock (so tests with a paused clock can measure
    /// delays).
    pub fn sent_at(&self) -> Vec<tokio::time::Instant> {
        self.lock().sent_at.clone()
    }

    /// Every hit asked for, in order, across batches.
    pub fn hits(&self) -> Vec<TrackingRequest> {
        self.lock().batches.iter().flatten().cloned().collect()
    }
}

#[async_trait]
impl Transport for RecordingTransport {
    async fn send(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError> {
        let mut inner = self.lock();
        inner.batches.push(hits.to_vec());
        inner.sent_at.push(tokio::time::Instant::now());
        inner
            .script
            .pop_front()
            .unwrap_or_else(|| Ok(Accepted::new(hits.len())))
    }
}
