//! Local actor benchmark: increments per second, and what an evicted actor with an open
//! WebSocket costs.
//!
//! `cargo bench -p alchemy --bench actors` prints two Markdown tables:
//!
//! 1. Increments per second of a counter actor that keeps its count in KV storage (a read and
//!    a write of SQLite per increment), sent through `ActorStub::fetch`: on one actor, one
//!    request at a time and from 16 concurrent callers; then across 10,000 actors, each
//!    incremented once (so each is built, its database created, once), 64 at a time. As
//!    references, the same SQLite work done directly with `rusqlite` on the blocking pool: the
//!    read and write of an increment on one open connection, and the life of a new actor's
//!    database (open in WAL mode, create the table, read, write, close) 64 at a time; and two
//!    empty round trips to tokio's blocking pool, where the runtime runs each storage call.
//! 2. The memory of 1,000 actors that each accepted one WebSocket (through
//!    `ActorStub::connect`, the in-process socket pair), measured before they are opened,
//!    while they are all loaded, and after `LocalActors::evict` dropped every instance while
//!    the sockets stay open: the heap counted by the global allocator, the resident set from
//!    `/proc/self/status`, and the open file descriptors. The per-actor figure is
//!    (after eviction − before) / 1,000, and includes both ends of the socket pair. A last
//!    line gives the time the 1,000 evictions took (each closes its actor's database).
//!
//! The heap counts Rust allocations only: SQLite allocates with `malloc` directly, so its
//! memory (page caches of open databases) shows in the resident set alone.

use alchemy_stream::conformance::CountingAllocator;
use std::time::{Duration, Instant};

use alchemy::actor::{
    Actor, ActorContext, ActorId, ActorNamespace, ActorStub, Actors, ByteStream, Message, Result,
    WebSocket, WebSocketConnection,
};
use alchemy::local::actor::{LocalActors, LocalActorsOptions};
use futures::stream::{self, StreamExt};
use http::{Request, Response};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

/// A counter with its count in KV storage; a WebSocket at `/ws`, whose messages it answers
/// with the count.
struct Counter {
    ctx: ActorContext,
}

impl Actor for Counter {
    async fn init(ctx: ActorContext) -> Result<Self> {
        Ok(Counter { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        if req.uri().path() == "/ws" {
            let (socket, response) = self.ctx.accept_websocket(&req, &["listeners"])?;
            socket.serialize_attachment(&self.ctx.id().name())?;
            return Ok(response);
        }
        let storage = self.ctx.storage();
        let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
        storage.put("count", &count).await?;
        Ok(Response::new(ByteStream::from(count.to_string())))
    }

    async fn on_message(&self, ws: &WebSocket, msg: Message) -> Result<()> {
        let count = self.ctx.storage().get::<u64>("count").await?.unwrap_or(0);
        ws.send(format!("{}:{count}", msg.as_text().unwrap_or_default()))
    }
}

static COUNTERS: Actors<Counter> = Actors::new("counters");
static LISTENERS: Actors<Counter> = Actors::new("listeners");

/// Increments the actor's count and returns the new count.
async fn increment(stub: &ActorStub) -> u64 {
    let req = Request::post("/increment")
        .body(ByteStream::empty())
        .unwrap();
    let body = stub.fetch(req).await.unwrap().into_body();
    let count = body.collect(32).await.unwrap();
    std::str::from_utf8(&count).unwrap().parse().unwrap()
}

fn row(workload: &str, requests: usize, in_flight: usize, wall: Duration) {
    let per_second = requests as f64 / wall.as_secs_f64();
    println!(
        "| {workload} | {requests} | {in_flight} | {:.3} s | {per_second:.0} | {:.1} µs |",
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / requests as f64
    );
}

/// One request at a time to one actor.
async fn sequential(counters: &ActorNamespace<Counter>, requests: usize) -> Duration {
    let stub = counters.get_by_name("sequential").unwrap();
    increment(&stub).await; // builds the actor
    let start = Instant::now();
    let mut last = 0;
    for _ in 0..requests {
        last = increment(&stub).await;
    }
    let wall = start.elapsed();
    assert_eq!(last, requests as u64 + 1, "every increment counted once");
    wall
}

/// `callers` tasks, each sending `requests / callers` requests one at a time, to one actor.
async fn concurrent(
    counters: &ActorNamespace<Counter>,
    requests: usize,
    callers: usize,
) -> Duration {
    let stub = counters.get_by_name("concurrent").unwrap();
    increment(&stub).await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let stub = stub.clone();
            tokio::spawn(async move {
                let mut highest = 0;
                for _ in 0..requests / callers {
                    highest = highest.max(increment(&stub).await);
                }
                highest
            })
        })
        .collect();
    let mut highest = 0;
    for task in tasks {
        highest = highest.max(task.await.unwrap());
    }
    let wall = start.elapsed();
    assert_eq!(highest, (requests / callers * callers) as u64 + 1);
    wall
}

/// `actors` distinct actors, each incremented once, `in_flight` at a time.
async fn many(counters: &ActorNamespace<Counter>, actors: usize, in_flight: usize) -> Duration {
    let start = Instant::now();
    let counts: Vec<u64> = stream::iter(0..actors)
        .map(|i| {
            let stub = counters.get_by_name(&format!("counter-{i}")).unwrap();
            async move { increment(&stub).await }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let wall = start.elapsed();
    assert!(counts.iter().all(|&count| count == 1), "each actor is new");
    wall
}

/// Opens a database as the local runtime does: WAL mode, `synchronous=NORMAL`, the KV table.
fn open_database(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _alchemy_kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;",
    )
    .unwrap();
    conn
}

/// An increment as the local runtime's storage does it: a read, then a write in a
/// transaction.
fn increment_directly(conn: &mut rusqlite::Connection) -> u64 {
    let count = conn
        .query_row(
            "SELECT value FROM _alchemy_kv WHERE key = ?1",
            [b"count".as_slice()],
            |row| row.get::<_, Vec<u8>>(0),
        )
        .map(|value| std::str::from_utf8(&value).unwrap().parse::<u64>().unwrap())
        .unwrap_or(0)
        + 1;
    let txn = conn.transaction().unwrap();
    txn.prepare_cached(
        "INSERT INTO _alchemy_kv (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .unwrap()
    .execute((b"count".as_slice(), count.to_string().as_bytes()))
    .unwrap();
    txn.commit().unwrap();
    count
}

/// `requests` increments directly on one open connection, on the blocking pool.
async fn sqlite_one_connection(requests: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.sqlite3");
    tokio::task::spawn_blocking(move || {
        let mut conn = open_database(&path);
        increment_directly(&mut conn);
        let start = Instant::now();
        for _ in 0..requests {
            increment_directly(&mut conn);
        }
        start.elapsed()
    })
    .await
    .unwrap()
}

/// `databases` new databases, each opened, incremented once and closed, `in_flight` at a
/// time on the blocking pool.
async fn sqlite_new_databases(databases: usize, in_flight: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let counts: Vec<u64> = stream::iter(0..databases)
        .map(|i| {
            let path = dir.path().join(format!("{i}.sqlite3"));
            async move {
                tokio::task::spawn_blocking(move || increment_directly(&mut open_database(&path)))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let wall = start.elapsed();
    assert!(counts.iter().all(|&count| count == 1));
    wall
}

/// `pairs` times two empty tasks on the blocking pool, one after the other: what the two
/// storage calls of an increment cost beyond SQLite's own work.
async fn blocking_round_trips(pairs: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..pairs {
        tokio::task::spawn_blocking(|| ()).await.unwrap();
        tokio::task::spawn_blocking(|| ()).await.unwrap();
    }
    start.elapsed()
}

/// The process's memory and open files at one moment.
#[derive(Clone, Copy)]
struct Usage {
    heap: usize,
    rss_kib: u64,
    fds: usize,
}

impl Usage {
    fn now() -> Usage {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("/proc/self/status has a VmRSS line");
        Usage {
            heap: HEAP.current(),
            rss_kib,
            fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
        }
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn usage_row(state: &str, usage: Usage) {
    println!(
        "| {state} | {} | {} | {} |",
        mib(usage.heap as f64),
        mib(usage.rss_kib as f64 * 1024.0),
        usage.fds
    );
}

async fn connect(stub: &ActorStub) -> WebSocketConnection {
    let req = Request::get("/ws").body(ByteStream::empty()).unwrap();
    stub.connect(req).await.unwrap()
}

/// Waits until no actor of `ids` in `namespace` has an instance.
async fn until_unloaded(local: &LocalActors, namespace: &str, ids: &[ActorId]) {
    while ids.iter().any(|id| local.is_loaded(namespace, id)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens `k` actors with one WebSocket each, evicts them all, and prints their memory.
async fn evicted_sockets(k: usize) {
    let dir = tempfile::tempdir().unwrap();
    // Only the explicit evictions below unload an instance.
    let options = LocalActorsOptions::default().idle_timeout(Duration::from_secs(600));
    let local = LocalActors::open(dir.path(), options).unwrap();
    let listeners = local.namespace(&LISTENERS).await.unwrap();

    // A first actor, opened and evicted before measuring, so that what is built once for
    // all (thread pools, SQLite's globals) is in the baseline.
    let warm = listeners.get_by_name("warm-up").unwrap();
    let mut warm_socket = connect(&warm).await;
    local.evict(LISTENERS.id(), warm.id());
    until_unloaded(&local, LISTENERS.id(), std::slice::from_ref(warm.id())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let before = Usage::now();
    let stubs: Vec<ActorStub> = (0..k)
        .map(|i| listeners.get_by_name(&format!("listener-{i}")).unwrap())
        .collect();
    let mut sockets: Vec<WebSocketConnection> = stream::iter(&stubs)
        .map(connect)
        .buffer_unordered(32)
        .collect()
        .await;
    let loaded = Usage::now();

    let ids: Vec<ActorId> = stubs.iter().map(|stub| stub.id().clone()).collect();
    let evicting = Instant::now();
    for id in &ids {
        local.evict(LISTENERS.id(), id);
    }
    until_unloaded(&local, LISTENERS.id(), &ids).await;
    let eviction = evicting.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let evicted = Usage::now();

    println!("| {k} actors, one open WebSocket each | heap | RSS | open files |");
    println!("|---|---:|---:|---:|");
    usage_row("before opening them", before);
    usage_row("all loaded", loaded);
    usage_row("all evicted, sockets open", evicted);
    let per = |after: f64, before: f64| (after - before) / k as f64 / 1024.0;
    println!(
        "| per evicted actor: (evicted − before) / {k} | {:.1} KiB | {:.1} KiB | {:.2} |",
        per(evicted.heap as f64, before.heap as f64),
        per(
            evicted.rss_kib as f64 * 1024.0,
            before.rss_kib as f64 * 1024.0
        ),
        (evicted.fds as f64 - before.fds as f64) / k as f64
    );
    println!(
        "| per loaded actor: (loaded − before) / {k} | {:.1} KiB | {:.1} KiB | {:.2} |",
        per(loaded.heap as f64, before.heap as f64),
        per(
            loaded.rss_kib as f64 * 1024.0,
            before.rss_kib as f64 * 1024.0
        ),
        (loaded.fds as f64 - before.fds as f64) / k as f64
    );

    println!();
    println!("| evicting all {k} (until none is loaded) | wall | per actor |");
    println!("|---|---:|---:|");
    println!(
        "| `LocalActors::evict` of each, then polling `is_loaded` every 10 ms | {:.3} s | {:.0} µs |",
        eviction.as_secs_f64(),
        eviction.as_secs_f64() * 1e6 / k as f64
    );

    // The sockets are still open: a message wakes its actor, which answers.
    for socket in sockets.iter_mut().take(10).chain([&mut warm_socket]) {
        socket.send("ping").await.unwrap();
        let answer = socket
            .recv()
            .await
            .expect("an evicted actor's socket stays open");
        assert_eq!(answer.as_text(), Some("ping:0"));
    }
    drop(sockets);
    local.shutdown().await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    // Each loaded actor holds its SQLite database open (three files in WAL mode); a short
    // idle timeout keeps the 10,000 actors below from holding 30,000 files at once.
    let options = LocalActorsOptions::default().idle_timeout(Duration::from_secs(1));
    let local = LocalActors::open(dir.path(), options).unwrap();
    let counters = local.namespace(&COUNTERS).await.unwrap();

    println!("| workload | increments | callers in flight | wall | increments/s | per increment |");
    println!("|---|---:|---:|---:|---:|---:|");
    let requests = 5_000;
    row(
        "one actor, sequential",
        requests,
        1,
        sequential(&counters, requests).await,
    );
    row(
        "one actor, concurrent callers",
        requests,
        16,
        concurrent(&counters, requests, 16).await,
    );
    row(
        "reference: SQLite directly, one connection",
        requests,
        1,
        sqlite_one_connection(requests).await,
    );
    row(
        "reference: two empty round trips to the blocking pool",
        requests,
        1,
        blocking_round_trips(requests).await,
    );
    // Before the 10,000 actors, so that it does not wait for their files to reach the disk.
    let databases = 1_000;
    row(
        "reference: SQLite directly, a new database each",
        databases,
        64,
        sqlite_new_databases(databases, 64).await,
    );
    let actors = 10_000;
    row(
        "10,000 actors, one increment each",
        actors,
        64,
        many(&counters, actors, 64).await,
    );
    local.shutdown().await;
    drop(dir);

    println!();
    evicted_sockets(1_000).await;
}
