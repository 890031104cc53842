//! The local server: binding, body limits, HEAD, panics, and graceful shutdown.

use std::convert::Infallible;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alchemy_http::client::Client;
use alchemy_http::{handler_fn, serve, ByteStream, HttpHandler, ServeError, Server};
use alchemy_stream::StreamError;
use futures::channel::oneshot;
use futures::stream;
use http::{Method, Request, Response, StatusCode};

fn get(path: &str) -> Request<ByteStream> {
    Request::get(path).body(ByteStream::empty()).unwrap()
}

fn hello() -> impl HttpHandler {
    handler_fn(|_: Request<ByteStream>| async { Response::new(ByteStream::from("hello")) })
}

/// Tries to connect until the server refuses: it has stopped accepting.
async fn wait_until_refused(server_addr: std::net::SocketAddr) {
    while tokio::net::TcpStream::connect(server_addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn port_zero_picks_a_free_port_and_the_url_names_it() {
    let server = serve("127.0.0.1:0", hello()).await.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.url(), format!("http://127.0.0.1:{}", addr.port()));
    let client = Client::new(&server.url()).unwrap();
    let response = client.send(get("/")).await.unwrap();
    assert_eq!(response.into_body().collect(16).await.unwrap(), "hello");
}

#[tokio::test]
async fn a_base_url_with_a_path_puts_it_before_every_request_path() {
    let echo = handler_fn(|req: Request<ByteStream>| async move {
        Response::new(ByteStream::from(req.uri().to_string()))
    });
    let server = serve("127.0.0.1:0", echo).await.unwrap();
    for base in [
        format!("{}/_aws/lambda-url/abc", server.url()),
        format!("{}/_aws/lambda-url/abc/", server.url()),
    ] {
        let client = Client::new(&base).unwrap();
        let response = client.send(get("/photos/a.jpg?x=1")).await.unwrap();
        assert_eq!(
            response.into_body().collect(256).await.unwrap(),
            "/_aws/lambda-url/abc/photos/a.jpg?x=1"
        );
    }
    let plain = Client::new(&server.url()).unwrap();
    let response = plain.send(get("/photos")).await.unwrap();
    assert_eq!(response.into_body().collect(256).await.unwrap(), "/photos");
    let error = Client::new(&format!("{}/api?x=1", server.url()))
        .expect_err("a base URL with a query is refused")
        .to_string();
    assert!(error.contains("a base URL has no query"), "{error}");
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let first = serve("127.0.0.1:0", hello()).await.unwrap();
    let taken = first.local_addr();
    let error = serve(taken, hello()).await.unwrap_err();
    assert!(matches!(error, ServeError::Bind { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains(&taken.to_string()), "{text}");
    assert!(text.contains("port 0 picks a free one"), "{text}");
}

#[test]
fn serving_outside_a_runtime_is_a_clear_error() {
    let error = futures::executor::block_on(serve("127.0.0.1:0", hello())).unwrap_err();
    assert!(matches!(error, ServeError::NoRuntime), "{error:?}");
    assert!(error.to_string().contains("#[tokio::main]"), "{error}");
}

#[tokio::test]
async fn bound_listeners_are_served_as_they_are() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_addr = std_listener.local_addr().unwrap();
    let from_std = serve(std_listener, hello()).await.unwrap();
    assert_eq!(from_std.local_addr(), std_addr);

    let tokio_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let from_tokio = serve(tokio_listener, hello()).await.unwrap();
    for server in [&from_std, &from_tokio] {
        let client = Client::new(&server.url()).unwrap();
        let response = client.send(get("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// A handler that counts its calls and reads the whole body, failing as the body does.
fn counting_reader(calls: Arc<AtomicUsize>) -> impl HttpHandler {
    handler_fn(move |request: Request<ByteStream>| {
        let calls = Arc::clone(&calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let body = request.into_body().collect_unbounded().await?;
            Ok::<_, StreamError>(Response::new(ByteStream::from(body.len().to_string())))
        }
    })
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .max_request_body_size(1000)
        .serve("127.0.0.1:0", counting_reader(Arc::clone(&calls)))
        .await
        .unwrap();
    let client = Client::new(&server.url()).unwrap();
    let post = |body: ByteStream| Request::post("/").body(body).unwrap();

    // At the limit, with and without a declared length.
    let response = client
        .send(post(ByteStream::from(vec![1u8; 1000])))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body().collect(8).await.unwrap(), "1000");
    let chunks = stream::iter([Ok::<_, StreamError>(vec![1u8; 600]), Ok(vec![2u8; 400])]);
    let response = client
        .send(post(ByteStream::from_stream(chunks)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A declared length over the limit is refused before the handler runs.
    let response = client
        .send(post(ByteStream::from(vec![1u8; 1001])))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.into_body().collect(64).await.unwrap(),
        "413 Payload Too Large\n"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the handler ran for a refused body"
    );

    // A body of unknown length is refused once it passes the limit, whatever the handler says.
    let client = Client::new(&server.url()).unwrap();
    let chunks = stream::iter([Ok::<_, StreamError>(vec![1u8; 600]), Ok(vec![2u8; 600])]);
    let response = client
        .send(post(ByteStream::from_stream(chunks)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_handler_that_swallows_the_overflow_still_gives_413() {
    let swallow = handler_fn(|request: Request<ByteStream>| async move {
        let read = request.into_body().collect_unbounded().await;
        assert!(
            matches!(read, Err(StreamError::TooLarge { limit: 10 })),
            "{read:?}"
        );
        Response::new(ByteStream::from("all is well"))
    });
    let server = Server::builder()
        .max_request_body_size(10)
        .serve("127.0.0.1:0", swallow)
        .await
        .unwrap();
    let client = Client::new(&server.url()).unwrap();
    let chunks = stream::iter([Ok::<_, StreamError>("0123456789"), Ok("overflow")]);
    let request = Request::post("/")
        .body(ByteStream::from_stream(chunks))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["connection"], "close");
}

#[tokio::test]
async fn head_responses_have_the_length_and_no_body_over_both_protocols() {
    let server = serve("127.0.0.1:0", hello()).await.unwrap();
    for client in [Client::new(&server.url()), Client::http2(&server.url())] {
        let client = client.unwrap();
        let head = Request::builder()
            .method(Method::HEAD)
            .uri("/")
            .body(ByteStream::empty())
            .unwrap();
        let response = client.send(head).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-length"], "5");
        assert!(response.into_body().collect(16).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_panicking_handler_gives_500_and_the_server_goes_on() {
    let panicky = handler_fn(|request: Request<ByteStream>| async move {
        if request.uri().path() == "/panic" {
            panic!("a bug in the handler");
        }
        Response::new(ByteStream::from("fine"))
    });
    let server = serve("127.0.0.1:0", panicky).await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    let response = client.send(get("/panic")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = client.send(get("/")).await.unwrap();
    assert_eq!(response.into_body().collect(16).await.unwrap(), "fine");
}

/// A handler that reports each request as it arrives and answers once released.
#[derive(Clone, Default)]
struct Gated {
    arrived: Arc<Mutex<Vec<oneshot::Sender<oneshot::Sender<()>>>>>,
}

impl Gated {
    /// A handler, and the receiver of the release handle of each request that arrives.
    fn handler(&self) -> impl HttpHandler {
        let arrived = Arc::clone(&self.arrived);
        handler_fn(move |_: Request<ByteStream>| {
            let arrived = Arc::clone(&arrived);
            async move {
                let (release, released) = oneshot::channel();
                if let Some(report) = arrived.lock().unwrap().pop() {
                    let _ = report.send(release);
                }
                let _ = released.await;
                Ok::<_, Infallible>(Response::new(ByteStream::from("finished")))
            }
        })
    }

    /// Resolves to the release handle of the next request to arrive.
    fn next_arrival(&self) -> oneshot::Receiver<oneshot::Sender<()>> {
        let (report, arrival) = oneshot::channel();
        self.arrived.lock().unwrap().push(report);
        arrival
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_stops_accepting_and_lets_in_flight_requests_finish() {
    let gated = Gated::default();
    let arrival = gated.next_arrival();
    let server = serve("127.0.0.1:0", gated.handler()).await.unwrap();
    let addr = server.local_addr();
    let client = Client::new(&server.url()).unwrap();
    let in_flight = tokio::spawn(async move { client.send(get("/")).await });
    let release = arrival.await.unwrap();

    let shutdown = tokio::spawn(server.shutdown());
    wait_until_refused(addr).await;
    assert!(
        !in_flight.is_finished(),
        "the in-flight request was cut off"
    );
    assert!(
        !shutdown.is_finished(),
        "shutdown did not wait for the in-flight request"
    );

    release.send(()).unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body().collect(16).await.unwrap(), "finished");
    shutdown.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_timeout_closes_connections_that_do_not_finish() {
    let gated = Gated::default();
    let arrival = gated.next_arrival();
    let server = Server::builder()
        .shutdown_timeout(Duration::from_millis(50))
        .serve("127.0.0.1:0", gated.handler())
        .await
        .unwrap();
    let client = Client::new(&server.url()).unwrap();
    let in_flight = tokio::spawn(async move { client.send(get("/")).await });
    let _never_released = arrival.await.unwrap();
    server.shutdown().await;
    let outcome = in_flight.await.unwrap();
    assert!(outcome.is_err(), "a stuck request completed: {outcome:?}");
}

#[tokio::test]
async fn the_shutdown_signal_stops_an_awaited_server() {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::builder()
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .serve("127.0.0.1:0", hello())
        .await
        .unwrap();
    let addr = server.local_addr();
    let running = tokio::spawn(server.into_future());
    let client = Client::new(&format!("http://{addr}")).unwrap();
    assert_eq!(
        client.send(get("/")).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(!running.is_finished());
    stop.send(()).unwrap();
    running.await.unwrap();
    wait_until_refused(addr).await;
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = serve("127.0.0.1:0", hello()).await.unwrap();
    let addr = server.local_addr();
    drop(server);
    wait_until_refused(addr).await;
}

#[tokio::test]
async fn idle_keep_alive_connections_do_not_hold_up_shutdown() {
    let server = serve("127.0.0.1:0", hello()).await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            client.send(get("/")).await.unwrap().status(),
            StatusCode::OK
        );
    }
    // The client's pooled connection stays open and idle; shutdown closes it and returns.
    server.shutdown().await;
    assert!(client.send(get("/")).await.is_err());
}

#[tokio::test]
async fn client_errors_name_the_url_and_the_cause() {
    let server = serve("127.0.0.1:0", hello()).await.unwrap();
    let url = server.url();
    server.shutdown().await;
    let client = Client::new(&url).unwrap();
    let error = client.send(get("/path")).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains(&format!("{url}/path")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");

    let error = Client::new("ftp://127.0.0.1:1").unwrap_err();
    assert!(error.to_string().contains("only http://"), "{error}");
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_head_is_disconnected() {
    let server = Server::builder()
        .header_read_timeout(Duration::from_millis(50))
        .serve("127.0.0.1:0", hello())
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The head never ends; the server answers 408 or just closes, but does not wait forever.
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}
