//! [`Transport`]: how the S3 client sends a signed request. `FetchTransport` is the Worker's
//! `fetch` (on `wasm32`); `ReqwestTransport` is reqwest (feature `s3-native`), for tests and
//! native programs.

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

/// The Worker's `fetch` as the transport (`wasm32` only).
///
/// A body of known length crosses as one buffer when small and as a `FixedLengthStream`
/// otherwise, so workerd sends it with its `Content-Length` (S3 needs one); the response body
/// streams back.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

#[cfg(target_arch = "wasm32")]
#[async_trait::async_trait(?Send)]
impl Transport for FetchTransport {
    async fn send(
        &self,
        request: Request<ByteStream>,
    ) -> Result<Response<ByteStream>, TransportError> {
        let url = request.uri().to_string();
        let failed = |what: &str, detail: String| TransportError {
            message: format!("{what} {url}: {detail}"),
        };
        let (mut parts, body) = request.into_parts();
        // The body sets the length: workerd sends it for a buffer or a fixed-length stream.
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let empty_upload = body.len() == Some(0)
            && parts.method != http::Method::GET
            && parts.method != http::Method::HEAD;
        let request = crate::js::to_js_request(Request::from_parts(parts, body))
            .await
            .map_err(|error| failed("preparing", crate::js::describe(&error)))?;
        let request = if empty_upload {
            with_empty_body(&request)
                .map_err(|error| failed("preparing", crate::js::describe(&error)))?
        } else {
            request
        };
        let response = worker::Fetch::Request(worker::Request::from(request))
            .send()
            .await
            .map_err(|error| failed("fetching", error.to_string()))?;
        let response = web_sys::Response::from(response);
        crate::js::from_js_response(&response).map_err(|error| failed("reading", error.to_string()))
    }
}

/// `request` again with an empty body, so that an upload of nothing says `Content-Length: 0`.
#[cfg(target_arch = "wasm32")]
fn with_empty_body(request: &web_sys::Request) -> Result<web_sys::Request, wasm_bindgen::JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(&request.method());
    init.set_headers(&request.headers().into());
    init.set_body(&js_sys::Uint8Array::new_with_length(0).into());
    web_sys::Request::new_with_str_and_init(&request.url(), &init)
}

/// reqwest as the transport (feature `s3-native`, native targets), with rustls for `https`.
#[cfg(all(feature = "s3-native", not(target_arch = "wasm32")))]
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[cfg(all(feature = "s3-native", not(target_arch = "wasm32")))]
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

#[cfg(all(feature = "s3-native", not(target_arch = "wasm32")))]
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
#[cfg(all(feature = "s3-native", not(target_arch = "wasm32")))]
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
