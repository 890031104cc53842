//! [`InFlight`]: counts the bytes that a pipeline holds at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::ByteStream;

/// Counts bytes handed *into* an implementation (produced) and bytes taken *out* of it
/// (consumed), and remembers the largest difference: the most bytes the implementation held at
/// once.
///
/// Clones share their counters, so one clone can sit at the source and another at the sink.
///
/// ```
/// use alchemy_stream::conformance::InFlight;
/// use alchemy_stream::ByteStream;
///
/// # futures::executor::block_on(async {
/// let in_flight = InFlight::new();
/// let input = in_flight.track_produced(ByteStream::from_chunks(["abc", "de"]));
/// let output = in_flight.track_consumed(input);
/// output.collect(5).await?;
/// assert_eq!(in_flight.peak(), 3);
/// # Ok::<(), alchemy_stream::StreamError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct InFlight {
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    produced: AtomicU64,
    consumed: AtomicU64,
    peak: AtomicU64,
}

impl InFlight {
    /// New counters, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `bytes` as handed into the implementation.
    pub fn record_produced(&self, bytes: u64) {
        let produced = self.counters.produced.fetch_add(bytes, Ordering::SeqCst) + bytes;
        let consumed = self.counters.consumed.load(Ordering::SeqCst);
        self.counters
            .peak
            .fetch_max(produced.saturating_sub(consumed), Ordering::SeqCst);
    }

    /// Counts `bytes` as taken out of the implementation.
    pub fn record_consumed(&self, bytes: u64) {
        self.counters.consumed.fetch_add(bytes, Ordering::SeqCst);
    }

    /// `stream`, counting every chunk it yields as produced.
    pub fn track_produced(&self, stream: ByteStream) -> ByteStream {
        let this = self.clone();
        stream.inspect_chunks(move |chunk| this.record_produced(chunk.len() as u64))
    }

    /// `stream`, counting every chunk it yields as consumed.
    pub fn track_consumed(&self, stream: ByteStream) -> ByteStream {
        let this = self.clone();
        stream.inspect_chunks(move |chunk| this.record_consumed(chunk.len() as u64))
    }

    /// All bytes produced so far.
    pub fn produced(&self) -> u64 {
        self.counters.produced.load(Ordering::SeqCst)
    }

    /// All bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.counters.consumed.load(Ordering::SeqCst)
    }

    /// Bytes produced but not yet consumed.
    pub fn current(&self) -> u64 {
        self.produced().saturating_sub(self.consumed())
    }

    /// The largest [`current`](Self::current) value seen.
    pub fn peak(&self) -> u64 {
        self.counters.peak.load(Ordering::SeqCst)
    }
}
