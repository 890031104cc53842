//! The neutral S3 bucket against raw `aws-sdk-s3` calls, on the same MiniStack in the same
//! run: puts and gets of many 4 KiB objects and of a few 64 MiB ones.
//!
//! Run with `cargo bench -p alchemy-aws --bench s3`; the table it prints is Markdown. Each
//! workload runs several rounds, alternating which side goes first, and reports the median.

use std::time::{Duration, Instant};

use alchemy::bucket::BucketClient;
use alchemy_aws::s3::S3Bucket;
use alchemy_aws::testing::Emulator;
use alchemy_stream::Bytes;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::Client;

const SMALL: usize = 4 * 1024;
const SMALL_COUNT: usize = 200;
const LARGE: usize = 64 * 1024 * 1024;
const LARGE_COUNT: usize = 2;
const ROUNDS: usize = 5;

/// The two sides of the comparison, on one bucket.
struct Sides {
    raw: Client,
    bucket: String,
    neutral: BucketClient,
}

#[derive(Clone, Copy)]
enum Side {
    Raw,
    Neutral,
}

#[derive(Clone, Copy)]
enum Op {
    Put,
    Get,
}

impl Sides {
    async fn put(&self, side: Side, key: &str, data: &Bytes) {
        match side {
            Side::Raw => {
                self.raw
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .body(SdkByteStream::from(data.clone()))
                    .send()
                    .await
                    .expect("raw put");
            }
            Side::Neutral => {
                self.neutral.put(key, data.clone()).await.expect("put");
            }
        }
    }

    async fn get(&self, side: Side, key: &str) -> usize {
        match side {
            Side::Raw => {
                let output = self
                    .raw
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .expect("raw get");
                output.body.collect().await.expect("raw body").into_bytes().len()
            }
            Side::Neutral => self.neutral.get_bytes(key, usize::MAX).await.expect("get").len(),
        }
    }

    /// One round of `op` on `count` objects of `data`'s size; the time it took.
    async fn round(&self, side: Side, op: Op, name: &str, data: &Bytes, count: usize) -> Duration {
        let prefix = match side {
            Side::Raw => "raw",
            Side::Neutral => "neutral",
        };
        let started = Instant::now();
        for i in 0..count {
            let key = format!("{prefix}/{name}/{i}");
            match op {
                Op::Put => self.put(side, &key, data).await,
                Op::Get => assert_eq!(self.get(side, &key).await, data.len()),
            }
        }
        started.elapsed()
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A rate for the table: objects per second for small objects, MiB/s for large ones.
fn rate(time: Duration, size: usize, count: usize) -> String {
    let seconds = time.as_secs_f64();
    if size < 1024 * 1024 {
        format!("{:.0} objects/s", count as f64 / seconds)
    } else {
        format!("{:.0} MiB/s", (size * count) as f64 / (1024.0 * 1024.0) / seconds)
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let emulator = Emulator::ministack().await.expect("start MiniStack");
        let bucket = emulator.create_bucket("bench").await.expect("bucket");
        let sides = Sides {
            raw: emulator.s3_client(),
            bucket: bucket.bucket().to_owned(),
            neutral: BucketClient::new(S3Bucket::new(emulator.s3_client(), bucket.bucket())),
        };
        let small = Bytes::from(vec![0x5a; SMALL]);
        let large = Bytes::from((0..LARGE).map(|i| (i % 251) as u8).collect::<Vec<u8>>());

        println!("| workload | raw aws-sdk-s3 | alchemy S3Bucket | time ratio (alchemy / raw) |");
        println!("|---|---|---|---|");
        for (label, name, data, count) in [
            ("4 KiB", "small", &small, SMALL_COUNT),
            ("64 MiB", "large", &large, LARGE_COUNT),
        ] {
            for (op, verb) in [(Op::Put, "put"), (Op::Get, "get")] {
                let mut raw = Vec::new();
                let mut neutral = Vec::new();
                for round in 0..ROUNDS {
                    let order = if round % 2 == 0 {
                        [Side::Raw, Side::Neutral]
                    } else {
                        [Side::Neutral, Side::Raw]
                    };
                    for side in order {
                        let time = sides.round(side, op, name, data, count).await;
                        match side {
                            Side::Raw => raw.push(time),
                            Side::Neutral => neutral.push(time),
                        }
                    }
                }
                let (raw, neutral) = (median(raw), median(neutral));
                println!(
                    "| {verb} {label} × {count} | {} | {} | {:.2} |",
                    rate(raw, data.len(), count),
                    rate(neutral, data.len(), count),
                    neutral.as_secs_f64() / raw.as_secs_f64()
                );
            }
        }
        println!(
            "\nMiniStack {} on 127.0.0.1, {ROUNDS} rounds per workload, medians.",
            alchemy_aws::testing::MINISTACK_VERSION
        );
    });
}
