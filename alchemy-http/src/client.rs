//! [`Client`]: a small HTTP client over hyper, for tests, tools and the conformance suite
//! (feature `server`).

use std::fmt;

use alchemy_stream::{BoxError, ByteStream};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::wire::WireBody;

/// An HTTP client that sends `Request<ByteStream>` and streams the response back as a
/// `Response<ByteStream>`, over pooled keep-alive connections.
///
/// Requests may carry a path only (`/echo?x=1`): they go to the client's base URL, after its
/// path if it has one (a client of `http://host:port/api` sends `/echo` to `/api/echo`). Bodies
/// stream both ways; a request body with a known length is sent with a `Content-Length`, and a
/// response's `Content-Length` becomes its body's [`len`](ByteStream::len). `http://` only.
///
/// ```no_run
/// use alchemy_http::client::Client;
/// use alchemy_stream::ByteStream;
/// use http::Request;
///
/// # async fn run() -> Result<(), alchemy_http::client::ClientError> {
/// let client = Client::new("http://127.0.0.1:8080")?;
/// let response = client.send(Request::get("/hello").body(ByteStream::empty()).unwrap()).await?;
/// println!("{}", response.status());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<HttpConnector, WireBody<ByteStream>>,
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path, without a trailing `/` (empty for none).
    prefix: String,
}

impl Client {
    /// A client of `base_url` (`http://host:port`) over HTTP/1.1.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::build(base_url, false)
    }

    /// A client of `base_url` over HTTP/2 without TLS (h2c, with prior knowledge), as the
    /// local server accepts it.
    pub fn http2(base_url: &str) -> Result<Self, ClientError> {
        Self::build(base_url, true)
    }

    fn build(base_url: &str, http2: bool) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = base_url
            .parse()
            .map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(invalid("only http:// URLs are supported (no TLS)"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL has no query"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("the URL has no host"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(http2)
            .build(connector);
        Ok(Self {
            inner,
            scheme: Scheme::HTTP,
            authority,
            prefix,
        })
    }

    /// Sends `request`, resolving a path-only URI against the base URL, and returns the
    /// response as soon as its head arrives; the body streams after it.
    pub async fn send(
        &self,
        mut request: Request<ByteStream>,
    ) -> Result<Response<ByteStream>, ClientError> {
        if request.uri().authority().is_none() {
            let mut path = request
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            if !self.prefix.is_empty() {
                path = format!("{}{path}", self.prefix)
                    .parse()
                    .map_err(|error: http::uri::InvalidUri| self.failed(&request, error.into()))?;
            }
            *request.uri_mut() = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(self.authority.clone())
                .path_and_query(path)
                .build()
                .map_err(|error| self.failed(&request, error.into()))?;
        }
        let url = request.uri().to_string();
        let response = self
            .inner
            .request(request.map(WireBody::new))
            .await
            .map_err(|error| ClientError::request(url, error.into()))?;
        Ok(response.map(ByteStream::from_body))
    }

    fn failed(&self, request: &Request<ByteStream>, source: BoxError) -> ClientError {
        let url = format!("{}://{}{}", self.scheme, self.authority, request.uri());
        ClientError::request(url, source)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field(
                "base",
                &format_args!("{}://{}{}", self.scheme, self.authority, self.prefix),
            )
            .finish()
    }
}

/// Why a [`Client`] could not be made or a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is unusable.
    #[error("the base URL {url:?} is unusable: {reason}; pass one such as http://127.0.0.1:8080")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The request failed: the connection could not be made or broke, or the request body
    /// failed.
    #[error(
        "the HTTP request to {url} failed: {reason}; check that a server listens there, \
         and that the request body did not fail"
    )]
    Request {
        /// The URL of the request.
        url: String,
        /// What failed, with every cause.
        reason: String,
        /// The error.
        #[source]
        source: BoxError,
    },
}

impl ClientError {
    fn request(url: String, source: BoxError) -> Self {
        let mut reason = source.to_string();
        let mut cause = source.source();
        while let Some(error) = cause {
            reason.push_str(": ");
            reason.push_str(&error.to_string());
            cause = error.source();
        }
        Self::Request {
            url,
            reason,
            source,
        }
    }
}
