//! An axum `Router` is an HTTP handler as it is: served by the local server, boxed, and called
//! in process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use alchemy_http::client::Client;
use alchemy_http::{respond, serve, BoxHandler, ByteStream, HttpHandler};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request as AxumRequest, State};
use axum::routing::{get, post};
use axum::Router;
use futures::TryStreamExt;
use http::{Request, StatusCode};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Visits(Arc<AtomicUsize>);

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from axum" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/count",
            post(|request: AxumRequest| async move {
                let mut chunks = request.into_body().into_data_stream();
                let mut total = 0usize;
                while let Some(chunk) = chunks
                    .try_next()
                    .await
                    .map_err(|_| StatusCode::BAD_REQUEST)?
                {
                    total += chunk.len();
                }
                Ok::<_, StatusCode>(total.to_string())
            }),
        )
        .route(
            "/visits",
            get(|State(visits): State<Visits>| async move {
                (visits.0.fetch_add(1, Ordering::SeqCst) + 1).to_string()
            }),
        )
        .with_state(Visits::default())
}

/// Compiles only if an axum `Router` is an `HttpHandler`.
fn assert_handler<H: HttpHandler>(handler: H) -> H {
    handler
}

fn get_request(path: &str) -> Request<ByteStream> {
    Request::get(path).body(ByteStream::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_is_served_as_it_is() {
    let server = serve("127.0.0.1:0", assert_handler(router()))
        .await
        .unwrap();
    let client = Client::new(&server.url()).unwrap();

    let response = client.send(get_request("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.body().len(), Some(15));
    assert_eq!(
        response.into_body().collect(64).await.unwrap(),
        "hello from axum"
    );

    let response = client.send(get_request("/users/42")).await.unwrap();
    assert_eq!(response.into_body().collect(64).await.unwrap(), "user 42");

    let response = client
        .send(get_request("/users/not-a-number"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = client.send(get_request("/nowhere")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let echo = Request::post("/echo")
        .body(ByteStream::from("ping"))
        .unwrap();
    let response = client.send(echo).await.unwrap();
    assert_eq!(response.into_body().collect(64).await.unwrap(), "ping");

    for expected in ["1", "2"] {
        let response = client.send(get_request("/visits")).await.unwrap();
        assert_eq!(response.into_body().collect(64).await.unwrap(), expected);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_reads_request_bodies_as_they_stream() {
    let server = serve("127.0.0.1:0", router()).await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    let total = 32u64 << 20;
    let body = alchemy_stream::conformance::Pattern::new().stream(total, 64 * 1024);
    let response = client
        .send(
            Request::post("/count")
                .body(ByteStream::from_stream(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect(64).await.unwrap(),
        total.to_string()
    );
}

#[tokio::test]
async fn a_router_is_called_in_process_boxed_or_through_respond() {
    let boxed = BoxHandler::new(router());
    let response = boxed.oneshot(get_request("/users/7")).await.unwrap();
    assert_eq!(response.into_body().collect(64).await.unwrap(), "user 7");

    let response = respond(router(), get_request("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .into_byte_stream()
        .collect(64)
        .await
        .unwrap();
    assert_eq!(body, "hello from axum");

    // Requests from axum's own tests (with axum's body) are handlers' requests after a map.
    let axum_request = Request::get("/").body(Body::empty()).unwrap();
    let response = router()
        .oneshot(axum_request.map(ByteStream::from_body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
