//! The client over TLS (feature `tls`): against a rustls server on loopback with a
//! self-signed certificate.

use std::convert::Infallible;
use std::sync::Arc;

use alchemy_http::client::Client;
use alchemy_http::ByteStream;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A TLS server on 127.0.0.1 that echoes request bodies and says which HTTP version it
/// spoke; its certificate (PEM) is what clients must trust.
struct TlsServer {
    url: String,
    certificate: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let version = format!("{:?}", request.version());
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(Response::builder()
        .header("x-version", version)
        .body(Full::new(body))
        .unwrap())
}

async fn tls_server() -> TlsServer {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), hyper::service::service_fn(echo))
                    .await;
            });
        }
    });
    TlsServer {
        url,
        certificate: certified.cert.pem(),
        task,
    }
}

#[tokio::test]
async fn a_client_trusting_the_certificate_streams_both_ways_over_http2() {
    let server = tls_server().await;
    let client = Client::with_roots(&server.url, server.certificate.as_bytes()).unwrap();
    let body: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let chunks = body.chunks(64 << 10).map(Bytes::copy_from_slice);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/echo")
        .body(ByteStream::from_chunks(chunks.collect::<Vec<_>>()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2, "ALPN chose h2");
    assert_eq!(response.headers()["x-version"], "HTTP/2.0");
    let echoed = response.into_body().collect(2 << 20).await.unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echoed body differs");
}

#[tokio::test]
async fn a_certificate_nobody_vouches_for_is_refused_with_the_reason() {
    let server = tls_server().await;
    let client = Client::new(&server.url).unwrap();
    let request = Request::get("/").body(ByteStream::empty()).unwrap();
    let error = client.send(request).await.unwrap_err().to_string();
    assert!(error.contains(&server.url), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[test]
fn roots_that_are_not_certificates_are_refused() {
    let error = Client::with_roots("https://127.0.0.1:1", b"not a certificate")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no root certificate was given"), "{error}");
}

#[tokio::test]
async fn plain_http_still_works_with_tls_compiled_in() {
    let server = alchemy_http::serve(
        "127.0.0.1:0",
        alchemy_http::handler_fn(|_req: Request<ByteStream>| async {
            Ok::<_, Infallible>(Response::new(ByteStream::from("plain")))
        }),
    )
    .await
    .unwrap();
    let client = Client::new(&server.url()).unwrap();
    let response = client
        .send(Request::get("/").body(ByteStream::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.into_body().collect(64).await.unwrap(), "plain");
    server.shutdown().await;
}
