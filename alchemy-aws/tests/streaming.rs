//! Large objects stream through S3 (in MiniStack) with bounded memory: the bytes of a 256 MiB
//! body that are alive at once are counted as they are made and dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alchemy::bucket::BucketClient;
use alchemy_aws::testing::Emulator;
use alchemy_stream::{ByteStream, Bytes, StreamError};
use futures::StreamExt;

const MIB: u64 = 1024 * 1024;
const OBJECT_SIZE: u64 = 256 * MIB;
const CHUNK: usize = 64 * 1024;

/// Bytes of the body alive right now, and the most that ever were.
#[derive(Default)]
struct InFlight {
    live: AtomicU64,
    peak: AtomicU64,
}

impl InFlight {
    fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }
}

/// A chunk's memory, counted in [`InFlight`] from its making to its drop.
struct Counted {
    data: Vec<u8>,
    in_flight: Arc<InFlight>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.in_flight
            .live
            .fetch_sub(self.data.len() as u64, Ordering::SeqCst);
    }
}

/// The byte at `offset` of the test object.
fn byte_at(offset: u64) -> u8 {
    (offset.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// A body of `size` bytes made 64 KiB at a time as it is read, every chunk counted.
fn counted_body(size: u64, in_flight: Arc<InFlight>) -> ByteStream {
    let chunks = futures::stream::unfold(0u64, move |offset| {
        let in_flight = in_flight.clone();
        async move {
            if offset >= size {
                return None;
            }
            let len = (size - offset).min(CHUNK as u64);
            let data: Vec<u8> = (offset..offset + len).map(byte_at).collect();
            let live = in_flight.live.fetch_add(len, Ordering::SeqCst) + len;
            in_flight.peak.fetch_max(live, Ordering::SeqCst);
            let chunk = Bytes::from_owner(Counted { data, in_flight });
            Some((Ok::<_, StreamError>(chunk), offset + len))
        }
    });
    ByteStream::from_stream(chunks)
}

/// Reads `key` back, checking every byte and the length, and returns the largest chunk seen.
async fn read_back(client: &BucketClient, key: &str) -> usize {
    let got = client.get(key).await.expect("get");
    assert_eq!(got.meta.size, OBJECT_SIZE);
    assert_eq!(got.body.len(), Some(OBJECT_SIZE), "the body's exact length");
    let mut body = got.body;
    let mut offset = 0u64;
    let mut largest = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("read a chunk");
        largest = largest.max(chunk.len());
        for (i, byte) in chunk.iter().enumerate() {
            let at = offset + i as u64;
            assert_eq!(*byte, byte_at(at), "byte {at} of {key}");
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, OBJECT_SIZE, "bytes read back");
    largest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_object_streams_both_ways_with_bounded_memory() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let bucket = emulator.create_bucket("streaming").await.expect("bucket");
    let client = BucketClient::new(bucket);

    // Known length: one PutObject, streamed.
    let in_flight = Arc::new(InFlight::default());
    let body = counted_body(OBJECT_SIZE, in_flight.clone()).with_exact_len(OBJECT_SIZE);
    client.put("sized.bin", body).await.expect("put of known length");
    println!("put of known length: at most {} bytes alive", in_flight.peak());
    assert!(
        in_flight.peak() <= 8 * MIB,
        "a put of known length held {} bytes at once",
        in_flight.peak()
    );
    assert_eq!(in_flight.live.load(Ordering::SeqCst), 0, "every chunk was freed");

    // Unknown length: a multipart upload, one 8 MiB part held at a time.
    let in_flight = Arc::new(InFlight::default());
    let body = counted_body(OBJECT_SIZE, in_flight.clone());
    assert_eq!(body.len(), None);
    client.put("unsized.bin", body).await.expect("put of unknown length");
    println!("put of unknown length: at most {} bytes alive", in_flight.peak());
    assert!(
        in_flight.peak() <= 16 * MIB,
        "a put of unknown length held {} bytes at once",
        in_flight.peak()
    );
    assert!(
        client.head("unsized.bin").await.expect("head").etag.ends_with("-32\""),
        "the unsized body went up as 32 parts of 8 MiB"
    );

    for key in ["sized.bin", "unsized.bin"] {
        let largest = read_back(&client, key).await;
        println!("get of {key}: largest chunk {largest} bytes");
        assert!(
            largest as u64 <= 4 * MIB,
            "a get handed out a chunk of {largest} bytes"
        );
    }
}
