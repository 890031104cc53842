//! [`Transport`]: how the S3 client sends a signed request. `ReqwestTransport` is reqwest
//! (feature `reqwest`, native targets); `alchemy_cloudflare::s3::FetchTransport` is a Worker's
//! `fetch`.

use alchemy::bucket::MaybeSendSync;
use alchemy_stream::ByteStream;
use http::{Request, Response};

/// A request that got no answer: the connection failed, or the transport refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// What failed, with the URL it concerns.
    pub message: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// Sends one HTTP request and hands back the answer, bodies streaming both ways.
///
/// The request is signed already and its URI is absolute; a `content-length` header, when
/// there is one, is the exact length of the body. Any status is an answer: only a request that
/// got none is an error.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Transport: MaybeSendSync + 'static {
    /// Sends `request`.
    async fn send(
        &self,
        request: Request<ByteStream>,
    ) -> Result<Response<ByteStream>, TransportError>;
}

/// reqwest as the transport (feature `reqwest`, native targets), with rustls for `https`.
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
impl ReqwestTransport {
    /// A transport with a client of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport over a client the caller configured.
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
#[async_trait::async_trait]
impl Transport for ReqwestTransport {
    async fn send(
        &self,
        request: Request<ByteStream>,
    ) -> Result<Response<ByteStream>, TransportError> {
        use futures::TryStreamExt;

        let url = request.uri().to_string();
        let (parts, body) = request.into_parts();
        let body = match body.len() {
            Some(0) => reqwest::Body::from(Vec::new()),
            _ => reqwest::Body::wrap_stream(body),
        };
        let response = self
            .client
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|error| TransportError {
                message: format!("sending {url}: {}", error_chain(&error)),
            })?;
        let len = response.content_length();
        let mut builder = Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        let chunks = response
            .bytes_stream()
            .map_err(|error| alchemy_stream::StreamError::other(error_chain(&error)));
        let body = ByteStream::from_stream(chunks);
        let body = match len {
            Some(len) => body.with_exact_len(len),
            None => body,
        };
        builder.body(body).map_err(|error| TransportError {
            message: format!("reading the answer of {url}: {error}"),
        })
    }
}

/// An error and its sources, joined.
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
