//! Tests of the local bucket: the conformance suite, and what only a local store can show
//! (files on disk, other processes, memory bounds of very large objects).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alchemy_stream::{ByteStream, Bytes, StreamError};
use futures::{stream, StreamExt, TryStreamExt};

use super::{layout, LocalBucket, READ_CHUNK};
use crate::bucket::{BucketClient, BucketError, ListOptions, UploadOptions};

async fn open(root: &Path) -> BucketClient {
    BucketClient::new(LocalBucket::open(root).await.expect("open the bucket"))
}

/// Names of the entries of a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(feature = "conformance")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    use crate::bucket::conformance;

    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    let report = conformance::run_all(&client).await;
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(report.ran.len(), 28, "{report}");
    // Every test cleaned up after itself: no objects, uploads or temp files are left.
    assert!(client
        .list(ListOptions::default())
        .await
        .unwrap()
        .objects
        .is_empty());
    assert!(names(&dir.path().join("~alchemy/tmp")).is_empty());
    assert_eq!(names(dir.path()), ["~alchemy"]);
}

/// Two runs of the suite at once on one bucket: the tests keep to their own prefixes, so
/// they neither see nor disturb each other's objects.
#[cfg(feature = "conformance")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_runs_share_a_bucket() {
    use crate::bucket::conformance;

    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    client.put("unrelated/object", "left alone").await.unwrap();
    let (first, second) =
        futures::join!(conformance::run_all(&client), conformance::run_all(&client));
    assert_eq!(first, second);
    assert_eq!(
        client.get_bytes("unrelated/object", 64).await.unwrap(),
        "left alone"
    );
    let page = client.list(ListOptions::default()).await.unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|meta| meta.key.as_str()).collect();
    assert_eq!(keys, ["unrelated/object"]);
}

#[tokio::test]
async fn objects_are_files_named_after_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    client.put("photos/2024/Cat.jpg", "meow").await.unwrap();
    client
        .put("photos", "an object beside the folder")
        .await
        .unwrap();
    assert_eq!(names(dir.path()), ["photos", "photos~", "~alchemy"]);
    assert_eq!(names(&dir.path().join("photos~/2024~")), ["!cat.jpg"]);
    let file = std::fs::read(dir.path().join("photos~/2024~/!cat.jpg")).unwrap();
    assert!(file.starts_with(b"meow"), "the contents come first");
}

#[tokio::test]
async fn deleting_the_last_object_removes_its_directories() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    client.put("a/b/c/d", "x").await.unwrap();
    client.put("a/other", "y").await.unwrap();
    client.delete("a/b/c/d").await.unwrap();
    assert_eq!(names(&dir.path().join("a~")), ["other"]);
    client.delete("a/other").await.unwrap();
    assert_eq!(names(dir.path()), ["~alchemy"]);
}

#[tokio::test]
async fn files_placed_by_hand_are_not_objects() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    client.put("real", "x").await.unwrap();
    std::fs::write(dir.path().join("Not Encoded.txt"), "stray").unwrap();
    std::fs::create_dir(dir.path().join("plain-dir")).unwrap();
    std::fs::write(dir.path().join("plain-dir/file"), "stray").unwrap();
    let page = client.list(ListOptions::default()).await.unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|meta| meta.key.as_str()).collect();
    assert_eq!(keys, ["real"]);

    // A file where an object should be, without a trailer, is reported, not served.
    std::fs::write(
        layout::object_path(dir.path(), "fake"),
        "no trailer here at all",
    )
    .unwrap();
    let error = client.get("fake").await.unwrap_err();
    assert!(error.to_string().contains("not an object file"), "{error}");
}

#[tokio::test]
async fn a_bucket_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).await);
    std::fs::write(
        dir.path().join("~alchemy/format"),
        "alchemy local bucket, format 99\n",
    )
    .unwrap();
    let error = LocalBucket::open(dir.path()).await.unwrap_err();
    assert!(error.to_string().contains("another format"), "{error}");
}

#[tokio::test]
async fn opening_removes_temp_files_of_writes_that_died() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).await);
    let tmp = dir.path().join("~alchemy/tmp");
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
    let abandoned = std::fs::File::create(tmp.join("abandoned.tmp")).unwrap();
    abandoned.set_modified(two_days_ago).unwrap();
    std::fs::write(tmp.join("in-progress.tmp"), "a write that is still going").unwrap();
    drop(open(dir.path()).await);
    assert_eq!(names(&tmp), ["in-progress.tmp"]);
}

#[tokio::test]
async fn a_reader_keeps_its_version_while_the_object_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    let old = Bytes::from(vec![1u8; 3 * READ_CHUNK]);
    client.put("doc", old.clone()).await.unwrap();
    let mut reading = client.get("doc").await.unwrap();
    let first = reading.body.try_next().await.unwrap().unwrap();
    client.put("doc", vec![2u8; 10]).await.unwrap();
    client.delete("doc").await.unwrap();
    let rest = reading.body.collect(usize::MAX).await.unwrap();
    assert_eq!([first, rest].concat(), old.to_vec());
}

#[tokio::test]
async fn a_cancelled_put_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    // A body that delivers one chunk, says when the store asks for the next, and never ends.
    let (asked, asked_for_more) = tokio::sync::oneshot::channel::<()>();
    let mut asked = Some(asked);
    let endless = stream::poll_fn(move |_| {
        if let Some(asked) = asked.take() {
            let _ = asked.send(());
        }
        std::task::Poll::<Option<Result<Bytes, StreamError>>>::Pending
    });
    let first = stream::iter([Ok(Bytes::from(vec![0u8; 1000]))]);
    let body = ByteStream::from_stream(first.chain(endless));
    let writer = client.clone();
    let put = tokio::spawn(async move { writer.put("pending", body).await });
    asked_for_more.await.unwrap();
    assert_eq!(
        names(&dir.path().join("~alchemy/tmp")).len(),
        1,
        "the put is writing"
    );
    put.abort();
    assert!(put.await.unwrap_err().is_cancelled());
    assert!(names(&dir.path().join("~alchemy/tmp")).is_empty());
    assert!(!client.exists("pending").await.unwrap());
}

#[tokio::test]
async fn bucket_instances_on_one_directory_share_objects_and_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    let second = open(dir.path()).await;
    let attempts = (0..16).map(|i| {
        let client = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        async move { client.put_if_absent("shared", format!("{i}")).await }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(wins, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|outcome| matches!(outcome, Ok(_) | Err(BucketError::AlreadyExists { .. }))));
    assert_eq!(
        first.head("shared").await.unwrap(),
        second.head("shared").await.unwrap()
    );
}

/// Holds every body back at its end until all of them got there, so that the writes reach the
/// commit step at the same moment.
struct Gate {
    writers: usize,
    arrived: std::sync::atomic::AtomicUsize,
    open: std::sync::Mutex<Option<futures::channel::oneshot::Sender<()>>>,
    opened: futures::future::Shared<futures::channel::oneshot::Receiver<()>>,
}

impl Gate {
    fn new(writers: usize) -> Arc<Gate> {
        let (open, opened) = futures::channel::oneshot::channel();
        Arc::new(Gate {
            writers,
            arrived: Default::default(),
            open: std::sync::Mutex::new(Some(open)),
            opened: futures::FutureExt::shared(opened),
        })
    }

    /// A body of `text` that ends only when every writer's body is at its end.
    fn body(self: &Arc<Self>, text: String) -> ByteStream {
        let gate = Arc::clone(self);
        let end = stream::once(async move {
            if gate.arrived.fetch_add(1, Ordering::SeqCst) + 1 == gate.writers {
                let open = gate.open.lock().unwrap().take();
                let _ = open.expect("the gate opens once").send(());
            }
            let _ = gate.opened.clone().await;
            Ok::<_, StreamError>(Bytes::new())
        });
        ByteStream::from_stream(stream::iter([Ok(Bytes::from(text))]).chain(end))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_that_reach_the_commit_together_have_one_winner() {
    const WRITERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    for round in 0..10 {
        let key = format!("contended-{round}");
        let gate = Gate::new(WRITERS);
        let attempts = (0..WRITERS).map(|i| {
            let (client, key, body) = (client.clone(), key.clone(), gate.body(format!("{i}")));
            tokio::spawn(async move { client.put_if_absent(&key, body).await })
        });
        let mut wins = 0;
        for attempt in futures::future::join_all(attempts).await {
            match attempt.unwrap() {
                Ok(_) => wins += 1,
                Err(BucketError::AlreadyExists { .. }) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(wins, 1, "round {round}: {wins} creates won");
    }
}

/// Set in a child process of [`put_if_absent_is_exclusive_across_processes`]: the directory to
/// race in.
const RACE_DIR: &str = "ALCHEMY_LOCAL_BUCKET_RACE_DIR";

#[test]
fn put_if_absent_is_exclusive_across_processes() {
    const CHILDREN: usize = 6;
    const TASKS: usize = 4;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    if let Ok(dir) = std::env::var(RACE_DIR) {
        // A child: wait for the start signal, then race TASKS creates of one key.
        let dir = Path::new(&dir);
        while !dir.join("go").exists() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        runtime.block_on(async {
            let client = open(&dir.join("bucket")).await;
            let attempts = (0..TASKS).map(|task| {
                let client = client.clone();
                async move {
                    let body = format!("{}-{task}", std::process::id());
                    (body.clone(), client.put_if_absent("contended", body).await)
                }
            });
            for (body, outcome) in futures::future::join_all(attempts).await {
                match outcome {
                    Ok(_) => println!("race-outcome won {body}"),
                    Err(BucketError::AlreadyExists { .. }) => println!("race-outcome lost {body}"),
                    Err(other) => panic!("{body}: {other}"),
                }
            }
        });
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(open(&dir.path().join("bucket")));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<std::process::Child> = (0..CHILDREN)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "local::bucket::tests::put_if_absent_is_exclusive_across_processes",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(RACE_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(dir.path().join("go"), "").unwrap();
    let mut winners = Vec::new();
    let mut losers = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a racing process failed");
        // The test harness may print its own text before an outcome on the same line.
        let stdout = String::from_utf8(output.stdout).unwrap();
        for outcome in stdout
            .lines()
            .filter_map(|line| line.split("race-outcome ").nth(1))
        {
            match outcome.split_once(' ') {
                Some(("won", body)) => winners.push(body.to_owned()),
                Some(("lost", _)) => losers += 1,
                _ => panic!("an unexpected outcome: {outcome}"),
            }
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(losers, CHILDREN * TASKS - 1);
    let stored = runtime.block_on(async {
        let client = open(&dir.path().join("bucket")).await;
        client.get_bytes("contended", 64).await.unwrap()
    });
    assert_eq!(stored, winners[0].as_bytes());
}

/// Counts the bytes of chunks that exist: made by the producer and not yet dropped by the
/// consumer.
#[derive(Debug, Default)]
struct InFlight {
    live: AtomicU64,
    peak: AtomicU64,
}

/// A chunk owner that tells an [`InFlight`] when it is dropped.
struct Tracked {
    data: Bytes,
    gauge: Arc<InFlight>,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.gauge
            .live
            .fetch_sub(self.data.len() as u64, Ordering::SeqCst);
    }
}

/// A body of `total` bytes in chunks of `pattern`, each counted in `gauge` while it exists.
fn tracked_body(pattern: &Bytes, total: u64, gauge: &Arc<InFlight>) -> ByteStream {
    let chunks = total / pattern.len() as u64;
    let (pattern, gauge) = (pattern.clone(), Arc::clone(gauge));
    let body = stream::iter(0..chunks).map(move |_| {
        let len = pattern.len() as u64;
        let live = gauge.live.fetch_add(len, Ordering::SeqCst) + len;
        gauge.peak.fetch_max(live, Ordering::SeqCst);
        Ok::<_, StreamError>(Bytes::from_owner(Tracked {
            data: pattern.clone(),
            gauge: Arc::clone(&gauge),
        }))
    });
    ByteStream::from_stream(body)
}

/// Checks that a stream holds `total` bytes of repeated `pattern`, chunk by chunk, and returns
/// the largest chunk.
async fn check_repeated(mut body: ByteStream, pattern: &Bytes, total: u64) -> usize {
    let (mut offset, mut largest) = (0u64, 0);
    while let Some(chunk) = body.try_next().await.unwrap() {
        largest = largest.max(chunk.len());
        let mut at = 0;
        while at < chunk.len() {
            let start = ((offset + at as u64) % pattern.len() as u64) as usize;
            let len = (pattern.len() - start).min(chunk.len() - at);
            assert!(
                chunk[at..at + len] == pattern[start..start + len],
                "wrong bytes at {}",
                offset + at as u64
            );
            at += len;
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, total);
    largest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gibibyte_object_streams_through_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    const CHUNK: usize = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    let pattern: Bytes = (0..CHUNK)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let gauge = Arc::new(InFlight::default());

    let put = client
        .put("huge", tracked_body(&pattern, SIZE, &gauge))
        .await
        .unwrap();
    let peak = gauge.peak.load(Ordering::SeqCst);
    assert!(
        peak <= 4 * CHUNK as u64,
        "the put held {peak} bytes of the body at once"
    );
    assert_eq!(
        gauge.live.load(Ordering::SeqCst),
        0,
        "the put kept chunks alive"
    );

    let got = client.get("huge").await.unwrap();
    assert_eq!(
        (got.meta.size, got.meta.etag.as_str()),
        (SIZE, put.etag.as_str())
    );
    assert_eq!(got.body.len(), Some(SIZE));
    let largest = check_repeated(got.body, &pattern, SIZE).await;
    assert!(
        largest <= READ_CHUNK,
        "the get yielded a chunk of {largest} bytes"
    );
    client.delete("huge").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_holds_at_most_its_parts_in_flight() {
    const PART: usize = 5 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    const SIZE: u64 = 6 * PART as u64;
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path()).await;
    let pattern: Bytes = (0..CHUNK)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    let gauge = Arc::new(InFlight::default());
    let options = UploadOptions {
        part_size: PART,
        concurrency: 2,
        ..UploadOptions::default()
    };
    let put = client
        .upload_with("parts", tracked_body(&pattern, SIZE, &gauge), options)
        .await
        .unwrap();
    assert!(
        put.etag.ends_with("-6\""),
        "not a six-part upload: {}",
        put.etag
    );
    let peak = gauge.peak.load(Ordering::SeqCst);
    assert!(
        peak <= 3 * PART as u64 + CHUNK as u64,
        "the upload held {peak} bytes at once"
    );
    assert!(
        peak >= PART as u64,
        "parts are assembled in memory, {peak} bytes at most"
    );
    assert_eq!(gauge.live.load(Ordering::SeqCst), 0);
    let got = client.get("parts").await.unwrap();
    check_repeated(got.body, &pattern, SIZE).await;
    assert!(
        names(&dir.path().join("~alchemy/uploads")).is_empty(),
        "the upload was left behind"
    );
}
