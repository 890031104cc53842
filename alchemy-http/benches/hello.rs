//! Hello-world throughput: a raw hyper server against the same response through
//! `alchemy_http::serve`, both in this process on 127.0.0.1, driven by a bounded in-process
//! load generator (hyper's HTTP/1.1 client, keep-alive connections).
//!
//! `cargo bench -p alchemy-http --bench hello`; it prints requests per second
//! for each server and their ratio, and stops by itself. Set `HELLO_CONNECTIONS`,
//! `HELLO_REQUESTS` (per connection) and `HELLO_ROUNDS` to change the load.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alchemy_http::{handler_fn, serve, ByteStream};
use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const HELLO: &[u8] = b"Hello, world!";

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

        let total = (connections * requests) as f64;
        println!(
            "hello: {connections} connections x {requests} requests, {rounds} rounds each, \
             alternating"
        );
        // One round each to warm up connections, caches and the allocator.
        drive(raw, connections, requests / 10 + 1).await;
        drive(adapter_addr, connections, requests / 10 + 1).await;

        let mut raw_rates = Vec::with_capacity(rounds);
        let mut adapter_rates = Vec::with_capacity(rounds);
        for round in 1..=rounds {
            let raw_rate = total / drive(raw, connections, requests).await.as_secs_f64();
            let adapter_rate = total
                / drive(adapter_addr, connections, requests)
                    .await
                    .as_secs_f64();
            println!(
                "  round {round}: raw hyper {raw_rate:>9.0} req/s   \
                 alchemy-http {adapter_rate:>9.0} req/s   ratio {:.3}",
                adapter_rate / raw_rate
            );
            raw_rates.push(raw_rate);
            adapter_rates.push(adapter_rate);
        }
        let best_raw = raw_rates.iter().copied().fold(0.0, f64::max);
        let best_adapter = adapter_rates.iter().copied().fold(0.0, f64::max);
        println!("raw hyper:    {best_raw:>9.0} req/s (best round)");
        println!("alchemy-http: {best_adapter:>9.0} req/s (best round)");
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
