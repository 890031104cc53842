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
/// response's `Content-Length` becomes its body's [`len`](ByteStream::len).
///
/// `https://` base URLs need the `tls` feature: the server is then checked against the
/// system's root certificates (`SSL_CERT_FILE` names a file of more), or against the ones given
/// to [`Client::with_roots`] (a private CA, a self-signed test server). HTTP/2 is negotiated by
/// ALPN over TLS.
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
    inner: hyper_util::client::legacy::Client<Connector, WireBody<ByteStream>>,
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path, without a trailing `/` (empty for none).
    prefix: String,
}

/// How the client connects: plain TCP, or TCP and TLS for `https://` (feature `tls`).
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;
#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The certificates a TLS client trusts.
#[cfg(feature = "tls")]
enum Roots {
    /// The system's, as rustls-native-certs finds them (honouring `SSL_CERT_FILE`).
    Native,
    /// These only.
    Given(rustls::RootCertStore),
}

impl Client {
    /// A client of `base_url` (`http://host:port`, or `https://` with the `tls` feature)
    /// over HTTP/1.1 (or HTTP/2 when a TLS server offers it).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Self::build(base_url, false, None)
    }

    /// A client of `base_url` over HTTP/2 without TLS (h2c, with prior knowledge), as the
    /// local server accepts it.
    pub fn http2(base_url: &str) -> Result<Self, ClientError> {
        Self::build(base_url, true, None)
    }

    /// A client of the `https://` `base_url` that trusts only the certificates in `pem` (one
    /// or more PEM `CERTIFICATE` blocks): a private CA, or a test server's own certificate.
    #[cfg(feature = "tls")]
    pub fn with_roots(base_url: &str, pem: &[u8]) -> Result<Self, ClientError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;

        let invalid = |reason: String| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| invalid(format!("the root certificates are not PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| invalid(format!("a root certificate is unusable: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid(
                "no root certificate was given: pass PEM `CERTIFICATE` blocks".to_owned(),
            ));
        }
        Self::build(base_url, false, Some(Roots::Given(roots)))
    }

    #[cfg(not(feature = "tls"))]
    fn connector(
        base_url: &str,
        scheme: &Scheme,
        _roots: Option<()>,
    ) -> Result<Connector, ClientError> {
        if *scheme != Scheme::HTTP {
            return Err(ClientError::InvalidUrl {
                url: base_url.to_owned(),
                reason: "only http:// URLs are supported without TLS: enable the `tls` feature \
                         of alchemy-http for https://"
                    .to_owned(),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(connector)
    }

    #[cfg(feature = "tls")]
    fn connector(
        base_url: &str,
        scheme: &Scheme,
        roots: Option<Roots>,
    ) -> Result<Connector, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(invalid(
                "only http:// and https:// URLs are supported".to_owned(),
            ));
        }
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        // The provider is named, not taken from the process default: with several rustls
        // providers compiled in, there is no default.
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match roots.unwrap_or(Roots::Native) {
            Roots::Native => builder
                .with_provider_and_native_roots(provider)
                .map_err(|e| invalid(format!("the system's root certificates: {e}")))?,
            Roots::Given(roots) => builder.with_tls_config(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| invalid(format!("TLS: {e}")))?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ),
        };
        Ok(builder
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp))
    }

    fn build(
        base_url: &str,
        http2: bool,
        #[cfg(feature = "tls")] roots: Option<Roots>,
        #[cfg(not(feature = "tls"))] roots: Option<()>,
    ) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = base_url
            .parse()
            .map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| invalid("the URL has no scheme"))?;
        if uri.query().is_some() {
            return Err(invalid("a base URL has no query"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("the URL has no host"))?;
        let connector = Self::connector(base_url, &scheme, roots)?;
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(http2)
            .build(connector);
        Ok(Self {
            inner,
            scheme,
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
