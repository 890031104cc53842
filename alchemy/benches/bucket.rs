//! Local bucket benchmark: put and get throughput against plain file writes and reads.
//!
//! `cargo bench -p alchemy --bench bucket` prints three Markdown tables:
//!
//! 1. Throughput of `BucketClient::put` and `BucketClient::get_bytes` on a [`LocalBucket`]
//!    for 2,000 objects of 4 KiB (one at a time, and 16 in flight) and 4 objects of 64 MiB,
//!    against the same data written with `std::fs::write` to a temp file and a rename, and
//!    read back with `std::fs::read`, in the same directory tree. Each figure is the median of
//!    three rounds; the ratio is the bucket's time over the plain files' time.
//! 2. The peak heap, counted by the global allocator, while one 64 MiB object streams in
//!    through `put` (from a generated stream of 64 KiB chunks) and out through `get` (read
//!    chunk by chunk and dropped).
//! 3. As a reference for the put figures, the MD5 digest of 64 MiB in memory, which every put
//!    computes for the object's etag.
//!
//! Reads come from the page cache in both cases: they measure the code on the way, not the
//! disk.

use alchemy_stream::conformance::CountingAllocator;
use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use alchemy::bucket::BucketClient;
use alchemy::local::bucket::LocalBucket;
use alchemy_stream::ByteStream;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// How many times each measurement runs; the median is reported.
const ROUNDS: usize = 3;

/// One workload: `count` objects of `size` bytes.
#[derive(Clone, Copy)]
struct Workload {
    count: usize,
    size: usize,
}

impl Workload {
    fn label(&self) -> String {
        let size = if self.size >= MIB {
            format!("{} MiB", self.size / MIB)
        } else {
            format!("{} KiB", self.size / KIB)
        };
        format!("{} × {size}", group_thousands(self.count))
    }

    fn bytes(&self) -> f64 {
        (self.count * self.size) as f64
    }
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn key(i: usize) -> String {
    format!("object-{i:05}")
}

/// Deterministic contents that do not compress or repeat within an object.
fn contents(size: usize) -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Plain files: write to a temp file and rename it into place, as an atomic write does.
fn plain_put(dir: &Path, work: Workload, data: &[u8]) -> Duration {
    let (tmp, objects) = (dir.join("tmp"), dir.join("objects"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&objects).unwrap();
    let start = Instant::now();
    for i in 0..work.count {
        let name = key(i);
        let temp = tmp.join(&name);
        std::fs::write(&temp, data).unwrap();
        std::fs::rename(&temp, objects.join(&name)).unwrap();
    }
    start.elapsed()
}

fn plain_get(dir: &Path, work: Workload) -> Duration {
    let objects = dir.join("objects");
    let start = Instant::now();
    for i in 0..work.count {
        let read = std::fs::read(objects.join(key(i))).unwrap();
        assert_eq!(read.len(), work.size);
    }
    start.elapsed()
}

async fn bucket_put(
    bucket: &BucketClient,
    work: Workload,
    data: &Bytes,
    in_flight: usize,
) -> Duration {
    let start = Instant::now();
    stream::iter(0..work.count)
        .map(|i| {
            let data = data.clone();
            async move { bucket.put(&key(i), data).await }
        })
        .buffer_unordered(in_flight)
        .try_for_each(|_| async { Ok(()) })
        .await
        .unwrap();
    start.elapsed()
}

async fn bucket_get(bucket: &BucketClient, work: Workload, in_flight: usize) -> Duration {
    let start = Instant::now();
    stream::iter(0..work.count)
        .map(|i| async move { bucket.get_bytes(&key(i), work.size).await })
        .buffer_unordered(in_flight)
        .try_for_each(|read| {
            assert_eq!(read.len(), work.size);
            async { Ok(()) }
        })
        .await
        .unwrap();
    start.elapsed()
}

/// Put and get of one round on a fresh bucket.
async fn bucket_round(work: Workload, data: &Bytes, in_flight: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketClient::new(LocalBucket::open(dir.path()).await.unwrap());
    let put = bucket_put(&bucket, work, data, in_flight).await;
    (put, bucket_get(&bucket, work, in_flight).await)
}

/// The median put and get times of plain files (first) and of the bucket with each of
/// `in_flight` requests at a time (then). Each round runs them all, one after the other, so
/// that a busy moment of the machine weighs on every one of them alike.
fn medians(
    runtime: &tokio::runtime::Runtime,
    work: Workload,
    data: &Bytes,
    in_flight: &[usize],
) -> Vec<(Duration, Duration)> {
    let mut runs = vec![(Vec::new(), Vec::new()); in_flight.len() + 1];
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        runs[0].0.push(plain_put(dir.path(), work, data));
        runs[0].1.push(plain_get(dir.path(), work));
        drop(dir);
        for (times, &n) in runs[1..].iter_mut().zip(in_flight) {
            let (put, get) = runtime.block_on(bucket_round(work, data, n));
            times.0.push(put);
            times.1.push(get);
        }
    }
    runs.into_iter()
        .map(|(puts, gets)| (median(puts), median(gets)))
        .collect()
}

fn throughput(work: Workload, time: Duration) -> String {
    let mib_s = work.bytes() / MIB as f64 / time.as_secs_f64();
    if work.size >= MIB {
        format!("{mib_s:.0} MiB/s")
    } else {
        let objects_s = work.count as f64 / time.as_secs_f64();
        format!("{objects_s:.0} objects/s, {mib_s:.1} MiB/s")
    }
}

fn row(work: Workload, operation: &str, bucket: Duration, plain: Option<Duration>) {
    let (plain_text, ratio) = match plain {
        Some(plain) => (
            format!("{} ({:.3} s)", throughput(work, plain), plain.as_secs_f64()),
            format!("{:.2}x", bucket.as_secs_f64() / plain.as_secs_f64()),
        ),
        None => ("—".to_string(), "—".to_string()),
    };
    println!(
        "| {} | {operation} | {} ({:.3} s) | {plain_text} | {ratio} |",
        work.label(),
        throughput(work, bucket),
        bucket.as_secs_f64(),
    );
}

/// A 64 MiB body generated as it is read, in 64 KiB chunks that share one buffer.
fn generated_body(size: usize) -> ByteStream {
    let chunk = contents(64 * KIB);
    let chunks = size / chunk.len();
    let body = stream::iter((0..chunks).map(move |_| Ok::<_, Infallible>(chunk.clone())));
    ByteStream::from_stream(body).with_exact_len(size as u64)
}

/// The peak heap above the baseline while one `size`-byte object streams in and out.
async fn streaming_peaks(size: usize) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketClient::new(LocalBucket::open(dir.path()).await.unwrap());

    let body = generated_body(size);
    let baseline = HEAP.reset_peak();
    bucket.put("large", body).await.unwrap();
    let put_peak = HEAP.peak_above(baseline);

    let baseline = HEAP.reset_peak();
    let mut read = bucket.get("large").await.unwrap().body;
    let mut total = 0;
    while let Some(chunk) = read.try_next().await.unwrap() {
        total += chunk.len();
    }
    let get_peak = HEAP.peak_above(baseline);
    assert_eq!(total, size);
    (put_peak, get_peak)
}

/// The median time to compute the MD5 digest (the etag) of `data`.
fn md5_time(data: &[u8]) -> Duration {
    let runs = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let digest = md5::compute(data);
            let elapsed = start.elapsed();
            assert_eq!(digest.0.len(), 16);
            elapsed
        })
        .collect();
    median(runs)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    println!("| objects | operation | local bucket | plain files | bucket time ÷ plain time |");
    println!("|---|---|---:|---:|---:|");
    let small = Workload {
        count: 2_000,
        size: 4 * KIB,
    };
    let large = Workload {
        count: 4,
        size: 64 * MIB,
    };
    for work in [small, large] {
        let data = contents(work.size);
        let in_flight: &[usize] = if work.size < MIB { &[1, 16] } else { &[1] };
        let times = medians(&runtime, work, &data, in_flight);
        let (plain_put, plain_get) = times[0];
        for (&(put, get), &n) in times[1..].iter().zip(in_flight) {
            if n == 1 {
                row(work, "put", put, Some(plain_put));
                row(work, "get", get, Some(plain_get));
            } else {
                row(work, &format!("put, {n} in flight"), put, None);
                row(work, &format!("get, {n} in flight"), get, None);
            }
        }
    }

    let (put_peak, get_peak) = runtime.block_on(streaming_peaks(64 * MIB));
    println!();
    println!("| one 64 MiB object, streamed | peak heap above baseline |");
    println!("|---|---:|");
    println!(
        "| put (generated body, 64 KiB chunks) | {:.0} KiB |",
        put_peak as f64 / KIB as f64
    );
    println!(
        "| get (body read chunk by chunk) | {:.0} KiB |",
        get_peak as f64 / KIB as f64
    );

    let data = contents(64 * MIB);
    let md5 = md5_time(&data);
    println!();
    println!("| reference | throughput |");
    println!("|---|---:|");
    println!(
        "| MD5 of 64 MiB in memory (what a put computes for the etag) | {:.0} MiB/s ({:.3} s) |",
        64.0 / md5.as_secs_f64(),
        md5.as_secs_f64()
    );
}
