//! The memory a 1 GiB streaming upload takes: the neutral S3 bucket (a body of unknown length
//! becomes a multipart upload, one part in memory at a time) against a multipart upload
//! written with raw `aws-sdk-s3` calls over the same stream, into the same MiniStack, in the
//! same run.
//!
//! Run with `cargo bench -p alchemy-aws --bench s3_memory`; it prints a Markdown table and
//! stops by itself. Memory is counted by this binary's global allocator: the peak of live heap
//! bytes during each upload, above what was live when it started. The body's chunks are
//! allocated as they are read (64 KiB each, as from a socket or a file), so whatever holds
//! them shows in the count. The process's peak RSS (`VmHWM`, reset before each upload through
//! `/proc/self/clear_refs`) is shown too. The target is "part size × parts in flight +
//! 16 MiB".

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use alchemy::bucket::BucketClient;
use alchemy_aws::s3::S3Bucket;
use alchemy_aws::testing::Emulator;
use alchemy_stream::{ByteStream, Bytes, StreamError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::{Stream, StreamExt};

const MIB: usize = 1024 * 1024;
const TOTAL: usize = 1024 * MIB;
const CHUNK: usize = 64 * 1024;
/// The neutral bucket's default part size, used by both sides.
const PART: usize = 8 * MIB;
/// Parts each side holds at once: both upload one part after the other.
const PARTS_IN_FLIGHT: usize = 1;
const SLACK: usize = 16 * MIB;
const ROUNDS: usize = 1;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is the caller's valid size.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The body: `TOTAL` bytes in freshly allocated chunks, of no announced length.
fn body() -> impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static {
    futures::stream::iter((0..TOTAL / CHUNK).map(|i| Ok(Bytes::from(vec![i as u8; CHUNK]))))
}

/// Starts a measurement: the peak is what is live now, and the RSS peak is reset.
fn start() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    // Writing 5 resets VmHWM (Linux 4.0 and later); without it the RSS peak is the process's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    live
}

/// The process's peak resident set since the last reset, in bytes.
fn rss_peak() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What one upload took.
struct Sample {
    heap_peak: usize,
    rss_peak: Option<usize>,
    secs: f64,
}

async fn measure<F: std::future::Future<Output = ()>>(upload: F) -> Sample {
    let base = start();
    let started = Instant::now();
    upload.await;
    Sample {
        heap_peak: PEAK.load(Ordering::Relaxed).saturating_sub(base),
        rss_peak: rss_peak(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// The neutral bucket's upload of the stream.
async fn neutral(bucket: &BucketClient, key: &str) {
    let put = bucket
        .put(key, ByteStream::from_stream(body()))
        .await
        .expect("neutral put");
    assert!(
        put.etag.contains('-'),
        "a multipart upload's ETag: {}",
        put.etag
    );
}

/// The same stream cut into parts by hand and uploaded with the SDK's multipart calls.
async fn raw(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create the upload");
    let id = upload.upload_id().expect("an upload id").to_owned();
    let mut chunks = Box::pin(body());
    let mut completed = Vec::new();
    let mut part = Vec::with_capacity(PART);
    let mut done = false;
    while !done {
        match chunks.next().await {
            Some(chunk) => part.extend_from_slice(&chunk.expect("a chunk")),
            None => done = true,
        }
        if part.len() >= PART || (done && !part.is_empty()) {
            let number = i32::try_from(completed.len() + 1).expect("few parts");
            let data = std::mem::replace(&mut part, Vec::with_capacity(PART));
            let uploaded = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(number)
                .body(SdkByteStream::from(data))
                .send()
                .await
                .expect("upload a part");
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .build(),
            );
        }
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .expect("complete the upload");
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let bucket = emulator.create_bucket("memory").await.expect("bucket");
    let name = bucket.bucket().to_owned();
    let s3 = emulator.s3_client();
    let neutral_bucket = BucketClient::new(S3Bucket::new(s3.clone(), &name).with_part_size(PART));

    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // The sides take turns, so both see the same emulator and the same machine.
        let key = format!("neutral-{round}");
        eprintln!("round {round}: neutral upload");
        samples[0].push(measure(neutral(&neutral_bucket, &key)).await);
        eprintln!("round {round}: raw SDK upload");
        s3.delete_object()
            .bucket(&name)
            .key(&key)
            .send()
            .await
            .expect("delete");
        let key = format!("raw-{round}");
        samples[1].push(measure(raw(&s3, &name, &key)).await);
        s3.delete_object()
            .bucket(&name)
            .key(&key)
            .send()
            .await
            .expect("delete");
    }

    let target = PART * PARTS_IN_FLIGHT + SLACK;
    println!(
        "| 1 GiB upload, {} parts, {PARTS_IN_FLIGHT} in flight | peak live heap (max of {ROUNDS}) | peak RSS | time (median) | throughput | within target ({}) |",
        mib(PART),
        mib(target)
    );
    println!("|---|---:|---:|---:|---:|---|");
    for (label, side) in [
        ("neutral `S3Bucket::put`", &samples[0]),
        ("raw SDK multipart", &samples[1]),
    ] {
        let heap = side.iter().map(|s| s.heap_peak).max().unwrap_or(0);
        let rss = side.iter().filter_map(|s| s.rss_peak).max();
        let secs = median(side.iter().map(|s| s.secs).collect());
        println!(
            "| {label} | {} | {} | {secs:.1} s | {:.0} MiB/s | {} |",
            mib(heap),
            rss.map_or_else(|| "n/a".to_owned(), mib),
            TOTAL as f64 / MIB as f64 / secs,
            if heap <= target { "yes" } else { "no" },
        );
    }
}
