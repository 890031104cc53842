//! [`Pattern`]: deterministic test data that shows corruption, loss and reordering.

use bytes::{Bytes, BytesMut};
use futures::stream;

use crate::{ByteStream, StreamError};

/// The pattern repeats every `PERIOD` bytes; a prime, so chunk boundaries never line up with it.
const PERIOD: usize = 65_521;

/// An endless, deterministic byte sequence: the byte at every offset is fixed, so a consumer
/// can check any chunk against its position without keeping what came before.
///
/// It repeats only every 65 521 bytes (a prime), so a lost, repeated or reordered chunk shows
/// up as a mismatch.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The pattern's period, twice, so that any run of up to `PERIOD` bytes is one slice.
    doubled: Bytes,
}

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}

impl Pattern {
    /// Builds the pattern (a 128 KiB table).
    pub fn new() -> Self {
        let period: Vec<u8> = (0..PERIOD).map(byte_at).collect();
        let mut doubled = BytesMut::with_capacity(2 * PERIOD);
        doubled.extend_from_slice(&period);
        doubled.extend_from_slice(&period);
        Self {
            doubled: doubled.freeze(),
        }
    }

    fn start(offset: u64) -> usize {
        (offset % PERIOD as u64) as usize
    }

    /// Writes the pattern's bytes from `offset` on into `out`.
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        let mut position = Self::start(offset);
        for piece in out.chunks_mut(PERIOD) {
            piece.copy_from_slice(&self.doubled[position..position + piece.len()]);
            position = (position + piece.len()) % PERIOD;
        }
    }

    /// The `len` bytes of the pattern from `offset` on; without copying when `len` is at most
    /// 65 521.
    pub fn bytes(&self, offset: u64, len: usize) -> Bytes {
        let start = Self::start(offset);
        if len <= PERIOD {
            return self.doubled.slice(start..start + len);
        }
        let mut out = vec![0; len];
        self.fill(offset, &mut out);
        Bytes::from(out)
    }

    /// The offset of the first byte of `data` that differs from the pattern, when `data` is
    /// meant to be the pattern from `offset` on.
    pub fn find_mismatch(&self, offset: u64, data: &[u8]) -> Option<u64> {
        let mut position = Self::start(offset);
        let mut checked = 0u64;
        for piece in data.chunks(PERIOD) {
            let expected = &self.doubled[position..position + piece.len()];
            if piece != expected {
                let at = piece
                    .iter()
                    .zip(expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Some(offset + checked + at as u64);
            }
            checked += piece.len() as u64;
            position = (position + piece.len()) % PERIOD;
        }
        None
    }

    /// A stream of the first `total` bytes of the pattern in chunks of `chunk_size`, made only
    /// as it is polled (so it costs no memory up front), with `total` as its exact length.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is zero.
    pub fn stream(&self, total: u64, chunk_size: usize) -> ByteStream {
        assert!(
            chunk_size > 0,
            "Pattern::stream needs a chunk size of at least 1 byte"
        );
        let pattern = self.clone();
        let chunks = stream::unfold(0u64, move |offset| {
            let pattern = pattern.clone();
            async move {
                let len = (total - offset).min(chunk_size as u64) as usize;
                (len > 0).then(|| {
                    let chunk = pattern.bytes(offset, len);
                    (Ok::<_, StreamError>(chunk), offset + len as u64)
                })
            }
        });
        ByteStream::from_stream(chunks).with_exact_len(total)
    }
}

/// The pattern's byte at `index` within one period: a hash, so neighbours look unrelated.
fn byte_at(index: usize) -> u8 {
    let mut x = (index as u32).wrapping_mul(0x9E37_79B9) ^ 0x5BD1_E995;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^= x >> 12;
    (x >> 24) as u8
}

/// `len` bytes of test data: the [`Pattern`] from offset 0.
pub fn payload(len: usize) -> Bytes {
    Pattern::new().bytes(0, len)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn fill_bytes_and_check_agree_across_the_period() {
        let pattern = Pattern::new();
        let offset = PERIOD as u64 - 10;
        let mut filled = vec![0; 3 * PERIOD];
        pattern.fill(offset, &mut filled);
        assert_eq!(pattern.bytes(offset, filled.len()), filled);
        assert_eq!(pattern.bytes(offset + 5, 100), filled[5..105]);
        assert_eq!(pattern.find_mismatch(offset, &filled), None);
        filled[PERIOD + 3] ^= 1;
        assert_eq!(
            pattern.find_mismatch(offset, &filled),
            Some(offset + PERIOD as u64 + 3)
        );
    }

    #[test]
    fn shifted_data_does_not_match() {
        let pattern = Pattern::new();
        let data = pattern.bytes(1, 1000);
        assert_eq!(pattern.find_mismatch(0, &data), Some(0));
    }

    #[test]
    fn stream_delivers_the_pattern_with_its_length() {
        let pattern = Pattern::new();
        let stream = pattern.stream(200_001, 7_000);
        assert_eq!(stream.len(), Some(200_001));
        let data = block_on(stream.collect_unbounded()).unwrap();
        assert_eq!(data, pattern.bytes(0, 200_001));
        assert_eq!(payload(10), pattern.bytes(0, 10));
    }
}
