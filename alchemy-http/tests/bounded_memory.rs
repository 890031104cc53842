//! A GiB through the local server each way, with the heap measured by a counting allocator:
//! neither the server nor the client buffers a body. Alone in its binary, so no other test
//! allocates while it measures.

use alchemy_stream::conformance::CountingAllocator;

use alchemy_http::client::Client;
use alchemy_http::{conformance, serve, ByteStream};
use alchemy_stream::conformance::{Pattern, BOUNDED_MEMORY_CHUNK};
use futures::TryStreamExt;
use http::{Request, StatusCode};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

const GIB: u64 = 1 << 30;

/// Far below the GiB moved: hyper's connection buffers on both sides, the pattern tables
/// (128 KiB each) and the runtime's bookkeeping.
const MAX_HEAP: usize = 8 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gib_each_way_through_the_server_is_never_buffered() {
    let server = serve("127.0.0.1:0", conformance::app()).await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    // Warm up the connection pool and the runtime, so that the baseline includes them.
    let warm_up = Request::get("/empty").body(ByteStream::empty()).unwrap();
    client
        .send(warm_up)
        .await
        .unwrap()
        .into_body()
        .collect(0)
        .await
        .unwrap();

    for declared in [true, false] {
        let baseline = HEAP.reset_peak();
        let body = Pattern::new().stream(GIB, BOUNDED_MEMORY_CHUNK);
        let body = if declared {
            body
        } else {
            ByteStream::from_stream(body)
        };
        let upload = Request::post("/count").body(body).unwrap();
        let response = client.send(upload).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.into_body().collect(64).await.unwrap(),
            GIB.to_string()
        );
        let peak = HEAP.peak_above(baseline);
        println!("upload of 1 GiB (length declared: {declared}): peak heap {peak} bytes");
        assert!(
            peak < MAX_HEAP,
            "a 1 GiB upload allocated up to {peak} bytes at once"
        );
    }

    let baseline = HEAP.reset_peak();
    let download = Request::get(format!("/stream?size={GIB}&chunk={BOUNDED_MEMORY_CHUNK}"))
        .body(ByteStream::empty())
        .unwrap();
    let response = client.send(download).await.unwrap();
    assert_eq!(response.body().len(), Some(GIB));
    let pattern = Pattern::new();
    let mut body = response.into_body();
    let mut offset = 0u64;
    while let Some(chunk) = body.try_next().await.unwrap() {
        assert_eq!(pattern.find_mismatch(offset, &chunk), None);
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, GIB);
    let peak = HEAP.peak_above(baseline);
    println!("download of 1 GiB: peak heap {peak} bytes");
    assert!(
        peak < MAX_HEAP,
        "a 1 GiB download allocated up to {peak} bytes at once"
    );

    let baseline = HEAP.reset_peak();
    let echo = Request::post("/echo")
        .body(Pattern::new().stream(GIB, BOUNDED_MEMORY_CHUNK))
        .unwrap();
    let response = client.send(echo).await.unwrap();
    let mut body = response.into_body();
    let mut offset = 0u64;
    while let Some(chunk) = body.try_next().await.unwrap() {
        assert_eq!(pattern.find_mismatch(offset, &chunk), None);
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, GIB);
    let peak = HEAP.peak_above(baseline);
    println!("echo of 1 GiB: peak heap {peak} bytes");
    assert!(
        peak < MAX_HEAP,
        "a 1 GiB echo allocated up to {peak} bytes at once"
    );
    server.shutdown().await;
}
