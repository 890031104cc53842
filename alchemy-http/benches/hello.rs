//! Hello-world throughput: a raw hyper server against the same response through
//! `alchemy_http::serve`, both in this process on 127.0.0.1, driven by a bounded in-process
//! load generator (hyper's HTTP/1.1 client, keep-alive connections).
//!
//! `cargo bench -p alchemy-http --bench hello`; it prints requests per second for each server
//! and their ratio, and the heap allocations per request (client and server together, so the
//! difference is the adapter's own; under load it also depends on how the tasks interleave,
//! which decides whether hyper can reuse its read buffers), and stops by itself. Set `HELLO_CONNECTIONS`,
//! `HELLO_REQUESTS` (per connection) and `HELLO_ROUNDS` to change the load.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alchemy_http::{handler_fn, serve, ByteStream};
use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const HELLO: &[u8] = b"Hello, world!";

/// Counts heap allocations (not bytes), to compare what each server allocates per request.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

/// The requests per second of one round against `addr`, and the allocations per request.
async fn round(addr: SocketAddr, connections: usize, requests: usize) -> (f64, f64) {
    let total = (connections * requests) as f64;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let elapsed = drive(addr, connections, requests).await;
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    (total / elapsed.as_secs_f64(), allocations as f64 / total)
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A minimal hyper server: HTTP/1.1, keep-alive, `TCP_NODELAY`, one task per connection.
async fn raw_hyper_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let hello = service_fn(|_: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(HELLO))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hello)
                    .await;
            });
        }
    });
    addr
}

/// Runs `connections` keep-alive connections of `requests` requests each against `addr`;
/// returns how long the whole load took.
async fn drive(addr: SocketAddr, connections: usize, requests: usize) -> Duration {
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                for _ in 0..requests {
                    sender.ready().await.unwrap();
                    let request = Request::get("/")
                        .header(header::HOST, "127.0.0.1")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, HELLO);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    start.elapsed()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn main() {
    let connections = setting("HELLO_CONNECTIONS", 32);
    let requests = setting("HELLO_REQUESTS", 2_000);
    let rounds = setting("HELLO_ROUNDS", 7).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    runtime.block_on(async {
        let raw = raw_hyper_server().await;
        let hello =
            handler_fn(|_: Request<ByteStream>| async { Response::new(ByteStream::from(HELLO)) });
        let adapter = serve("127.0.0.1:0", hello).await.unwrap();
        let adapter_addr = adapter.local_addr();

        println!("hello: {connections} connections x {requests} requests, {rounds} rounds each, alternating");
        // One round each to warm up connections, caches and the allocator.
        drive(raw, connections, requests / 10 + 1).await;
        drive(adapter_addr, connections, requests / 10 + 1).await;

        let mut raw_rates = Vec::with_capacity(rounds);
        let mut adapter_rates = Vec::with_capacity(rounds);
        let (mut raw_allocations, mut adapter_allocations) = (f64::MAX, f64::MAX);
        for number in 1..=rounds {
            let (raw_rate, raw_allocs) = round(raw, connections, requests).await;
            let (adapter_rate, adapter_allocs) = round(adapter_addr, connections, requests).await;
            println!(
                "  round {number}: raw hyper {raw_rate:>9.0} req/s   \
                 alchemy-http {adapter_rate:>9.0} req/s   ratio {:.3}",
                adapter_rate / raw_rate
            );
            raw_rates.push(raw_rate);
            adapter_rates.push(adapter_rate);
            raw_allocations = raw_allocations.min(raw_allocs);
            adapter_allocations = adapter_allocations.min(adapter_allocs);
        }
        let best_raw = raw_rates.iter().copied().fold(0.0, f64::max);
        let best_adapter = adapter_rates.iter().copied().fold(0.0, f64::max);
        // One connection at a time, the allocations do not depend on how the tasks interleave.
        let (_, raw_sequential) = round(raw, 1, requests).await;
        let (_, adapter_sequential) = round(adapter_addr, 1, requests).await;
        println!(
            "raw hyper:    {best_raw:>9.0} req/s (best round); allocations per request \
             {raw_allocations:.2} under load, {raw_sequential:.2} on one connection"
        );
        println!(
            "alchemy-http: {best_adapter:>9.0} req/s (best round); allocations per request \
             {adapter_allocations:.2} under load, {adapter_sequential:.2} on one connection"
        );
        println!(
            "ratio of the best rounds (alchemy-http / raw hyper): {:.3}",
            best_adapter / best_raw
        );
        println!(
            "ratio of the medians: {:.3}",
            median(&mut adapter_rates) / median(&mut raw_rates)
        );
        adapter.shutdown().await;
    });
}
