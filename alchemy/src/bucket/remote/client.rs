//! The client side: [`RemoteBucket`], a [`BucketStore`] over the protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use alchemy_http::client::Client;
use alchemy_stream::{ByteStream, StreamError};
use futures::StreamExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::wire::{self, Described, Upload, WireError, WirePage, WirePart, WirePut};
use crate::bucket::{
    validate_key, validate_metadata, BucketClient, BucketError, BucketStore, Capabilities,
    GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PartInfo, PutMode, PutOptions,
    PutResult, Result,
};

/// The most bytes of a JSON answer (a list page, an error) the client reads.
const MAX_JSON_ANSWER: usize = 16 << 20;

/// A bucket that another process serves over HTTP with [`answer`](super::answer): the
/// [`BucketStore`] of a bucket this process cannot open itself, such as an R2 bucket behind a
/// Worker.
///
/// [`connect`](Self::connect) asks the server once for its provider and capabilities, which
/// the store then reports as its own; errors come back as the very [`BucketError`] variants
/// the server's store returned. Only a server that cannot be reached (or answers outside the
/// protocol) is a [`BucketError::Backend`] of provider `"remote"`, naming the URL.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::bucket::{remote, BucketClient};
/// use alchemy::local::bucket::LocalBucket;
///
/// # let dir = tempfile::tempdir()?;
/// let served = BucketClient::new(LocalBucket::open(dir.path()).await?);
/// let server = alchemy::http::serve("127.0.0.1:0", remote::handler(served, "s3cret")).await?;
///
/// let bucket = remote::RemoteBucket::client(&server.url(), "s3cret").await?;
/// bucket.put("greeting.txt", "hello").await?;
/// assert_eq!(bucket.get_bytes("greeting.txt", 64).await?, "hello");
/// assert_eq!(bucket.provider(), "local");
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RemoteBucket {
    http: Client,
    url: String,
    authorization: HeaderValue,
    provider: &'static str,
    capabilities: Capabilities,
}

impl RemoteBucket {
    /// Connects to the bucket server at `base_url` (`http://host:port`, or `https://` with
    /// the `tls` feature, against the system's root certificates), sending `token` as its
    /// bearer token, and learns the provider and capabilities of the bucket it serves.
    ///
    /// Fails when the URL is unusable, the server cannot be reached or refuses the token.
    pub async fn connect(base_url: &str, token: &str) -> Result<RemoteBucket> {
        let url = base_url.trim_end_matches('/').to_owned();
        let unusable = |reason: String| {
            BucketError::backend(
                "remote",
                format!("the bucket server URL {base_url:?} is unusable: {reason}"),
            )
        };
        let http = Client::new(&url).map_err(|error| unusable(error.to_string()))?;
        let has_path = url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'));
        if has_path {
            return Err(unusable(
                "it has a path; give the server's root, such as http://127.0.0.1:8080".into(),
            ));
        }
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| unusable("the token is not printable ASCII".into()))?;
        let mut bucket = RemoteBucket {
            http,
            url,
            authorization,
            provider: "remote",
            capabilities: Capabilities::default(),
        };
        let response = bucket
            .send(Method::GET, "/capabilities", HeaderMap::new(), None)
            .await?;
        let described: Described = bucket.answer("", response).await?;
        bucket.provider = wire::known(&described.provider, "remote");
        bucket.capabilities = described.capabilities.into();
        Ok(bucket)
    }

    /// A [`BucketClient`] over [`connect`](Self::connect)`(base_url, token)`.
    pub async fn client(base_url: &str, token: &str) -> Result<BucketClient> {
        Ok(BucketClient::new(Self::connect(base_url, token).await?))
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one request; a body, when given, streams to the server.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Option<ByteStream>,
    ) -> Result<Response<ByteStream>> {
        // A body that fails makes the request fail; the slot keeps the body's own error, so
        // that the caller gets it back rather than the connection's.
        let failed: Arc<Mutex<Option<StreamError>>> = Arc::default();
        let body = match body {
            None => ByteStream::empty(),
            Some(body) => {
                let hint = body.size_hint();
                let slot = Arc::clone(&failed);
                ByteStream::from_stream(body.map(move |chunk| {
                    chunk.map_err(|error| {
                        let copy = std::io::Error::new(error.kind(), error.to_string());
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                        StreamError::Io(copy)
                    })
                }))
                .with_size_hint(hint)
            }
        };
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = path_and_query.parse().map_err(|_| {
            BucketError::backend(
                "remote",
                format!("{path_and_query:?} is not a request path"),
            )
        })?;
        *request.headers_mut() = headers;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, self.authorization.clone());
        match self.http.send(request).await {
            Ok(response) => Ok(response),
            Err(error) => {
                let body_error = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
                Err(match body_error {
                    Some(error) => BucketError::Stream(error),
                    None => BucketError::Backend {
                        provider: "remote",
                        message: format!(
                            "the bucket server at {} is unreachable: {error}",
                            self.url
                        ),
                        retryable: true,
                    },
                })
            }
        }
    }

    /// A JSON answer, or the failure the response carries.
    async fn answer<T: DeserializeOwned>(
        &self,
        key: &str,
        response: Response<ByteStream>,
    ) -> Result<T> {
        if !response.status().is_success() {
            return Err(self.failure(key, response).await);
        }
        let body = response
            .into_body()
            .collect(MAX_JSON_ANSWER)
            .await
            .map_err(BucketError::Stream)?;
        serde_json::from_slice(&body).map_err(|error| {
            self.off_protocol(&format!(
                "an answer that is not the expected JSON ({error})"
            ))
        })
    }

    /// A response that must be a success without a body (`204`), or its failure.
    async fn done(&self, key: &str, response: Response<ByteStream>) -> Result<()> {
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.failure(key, response).await)
        }
    }

    /// The [`BucketError`] a failed response carries, the variant the server's store returned.
    async fn failure(&self, key: &str, response: Response<ByteStream>) -> BucketError {
        let status = response.status();
        let in_header = response
            .headers()
            .get(wire::ERROR)
            .and_then(|value| value.to_str().ok())
            .and_then(wire::decode)
            .and_then(|text| serde_json::from_str::<WireError>(&text).ok());
        if let Some(wire) = in_header {
            return self.error_from(key, status, wire);
        }
        if status == StatusCode::NOT_MODIFIED {
            return BucketError::NotModified {
                key: key.to_owned(),
            };
        }
        let body = match response.into_body().collect(MAX_JSON_ANSWER).await {
            Ok(body) => body,
            Err(error) => return BucketError::Stream(error),
        };
        let Ok(wire) = serde_json::from_slice::<WireError>(&body) else {
            let text = String::from_utf8_lossy(&body);
            return BucketError::Backend {
                provider: "remote",
                message: format!(
                    "the bucket server at {} answered {status} outside the bucket protocol: {}",
                    self.url,
                    text.chars().take(512).collect::<String>()
                ),
                retryable: status.is_server_error(),
            };
        };
        self.error_from(key, status, wire)
    }

    fn error_from(&self, key: &str, status: StatusCode, wire: WireError) -> BucketError {
        let key_or = |given: Option<String>| given.unwrap_or_else(|| key.to_owned());
        match wire.error.as_str() {
            "not_found" => BucketError::NotFound {
                key: key_or(wire.key),
            },
            "already_exists" => BucketError::AlreadyExists {
                key: key_or(wire.key),
            },
            "precondition" => BucketError::Precondition {
                key: key_or(wire.key),
                detail: wire.detail.unwrap_or(wire.message),
            },
            "not_modified" => BucketError::NotModified {
                key: key_or(wire.key),
            },
            "invalid_key" => BucketError::InvalidKey {
                key: key_or(wire.key),
                reason: wire.reason.unwrap_or(wire.message),
            },
            "invalid_metadata" => BucketError::InvalidMetadata {
                name: wire.name.unwrap_or_default(),
                reason: wire.reason.unwrap_or(wire.message),
            },
            "invalid_range" => BucketError::InvalidRange {
                key: key_or(wire.key),
                range: wire.range.unwrap_or_default(),
                size: wire.size.unwrap_or_default(),
            },
            "invalid_part" => BucketError::InvalidPart {
                key: key_or(wire.key),
                part_number: wire.part_number.unwrap_or_default(),
                reason: wire.reason.unwrap_or(wire.message),
            },
            "no_such_upload" => BucketError::NoSuchUpload {
                key: key_or(wire.key),
                upload_id: wire.upload_id.unwrap_or_default(),
            },
            "not_supported" => BucketError::NotSupported {
                operation: wire::known(wire.operation.as_deref().unwrap_or(""), "this operation"),
                provider: wire::known(wire.provider.as_deref().unwrap_or(""), self.provider),
            },
            "too_large" => BucketError::TooLarge {
                limit: wire.limit.unwrap_or_default(),
            },
            "stream" => BucketError::Stream(StreamError::other(wire.message)),
            "backend" => BucketError::Backend {
                provider: wire::known(wire.provider.as_deref().unwrap_or(""), self.provider),
                message: wire.message,
                retryable: wire.retryable,
            },
            "unauthorized" => BucketError::Backend {
                provider: "remote",
                message: format!(
                    "the bucket server at {} refused the request: {}",
                    self.url, wire.message
                ),
                retryable: false,
            },
            _ => BucketError::Backend {
                provider: "remote",
                message: format!(
                    "the bucket server at {} answered {status} ({}): {}",
                    self.url, wire.error, wire.message
                ),
                retryable: status.is_server_error(),
            },
        }
    }

    fn off_protocol(&self, what: &str) -> BucketError {
        BucketError::backend(
            "remote",
            format!(
                "the bucket server at {} sent {what}: check that the URL points at a bucket \
                 server of this version",
                self.url
            ),
        )
    }

    /// The metadata of `key` from the headers of a `GET` or `HEAD`.
    fn meta(&self, key: &str, headers: &HeaderMap) -> Result<ObjectMeta> {
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let number = |name: &str| -> Result<u64> {
            text(name)
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| {
                    self.off_protocol(&format!("an object without a numeric {name} header"))
                })
        };
        let etag = text(header::ETAG.as_str())
            .map(|value| wire::unquote(value).to_owned())
            .ok_or_else(|| self.off_protocol("an object without an ETag"))?;
        let mut metadata = BTreeMap::new();
        for (name, value) in headers {
            if let Some(meta) = name.as_str().strip_prefix(wire::META_PREFIX) {
                if let Ok(value) = value.to_str() {
                    metadata.insert(meta.to_owned(), value.to_owned());
                }
            }
        }
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: number(wire::SIZE)?,
            etag,
            last_modified: number(wire::LAST_MODIFIED)?,
            content_type: text(header::CONTENT_TYPE.as_str()).map(str::to_owned),
            metadata,
        })
    }
}

/// The headers of a write's mode.
fn mode_headers(headers: &mut HeaderMap, mode: &PutMode) -> Result<()> {
    match mode {
        PutMode::Overwrite => {}
        PutMode::Create => {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        }
        PutMode::Update(etag) => {
            headers.insert(header::IF_MATCH, value(&wire::quote(etag))?);
        }
    }
    Ok(())
}

/// The headers of a write's options.
fn put_headers(options: &PutOptions) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    mode_headers(&mut headers, &options.mode)?;
    if let Some(content_type) = &options.content_type {
        headers.insert(header::CONTENT_TYPE, value(content_type)?);
    }
    for (name, meta) in &options.metadata {
        let header =
            HeaderName::try_from(format!("{}{name}", wire::META_PREFIX)).map_err(|_| {
                BucketError::InvalidMetadata {
                    name: name.clone(),
                    reason: "the name cannot travel as an HTTP header".into(),
                }
            })?;
        headers.insert(header, value(meta)?);
    }
    Ok(headers)
}

fn value(text: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(text).map_err(|_| {
        BucketError::backend(
            "remote",
            format!("{text:?} cannot travel as an HTTP header: use printable ASCII"),
        )
    })
}

/// The range of a `206` from its `Content-Range: bytes a-b/size`.
fn content_range(headers: &HeaderMap) -> Option<Range<u64>> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (range, _) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let end: u64 = end.parse().ok()?;
    Some(start.parse().ok()?..end.checked_add(1)?)
}

/// The path of an object. Callers check the key first: the contract refuses invalid keys
/// before any I/O.
fn object_path(key: &str) -> Result<String> {
    validate_key(key)?;
    Ok(format!("/o/{}", wire::encode(key)))
}

#[async_trait::async_trait]
impl BucketStore for RemoteBucket {
    fn provider(&self) -> &'static str {
        self.provider
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult> {
        let mut headers = HeaderMap::new();
        if let Some(range) = options.range {
            headers.insert(header::RANGE, value(&range.to_string())?);
        }
        if let Some(etag) = &options.if_match {
            headers.insert(header::IF_MATCH, value(&wire::quote(etag))?);
        }
        if let Some(etag) = &options.if_none_match {
            headers.insert(header::IF_NONE_MATCH, value(&wire::quote(etag))?);
        }
        let response = self
            .send(Method::GET, &object_path(key)?, headers, None)
            .await?;
        if !response.status().is_success() {
            return Err(self.failure(key, response).await);
        }
        let meta = self.meta(key, response.headers())?;
        let range = if response.status() == StatusCode::PARTIAL_CONTENT {
            content_range(response.headers())
                .ok_or_else(|| self.off_protocol("a partial answer without a Content-Range"))?
        } else {
            0..meta.size
        };
        let body = response.into_body().with_exact_len(range.end - range.start);
        Ok(GetResult { meta, range, body })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let response = self
            .send(Method::HEAD, &object_path(key)?, HeaderMap::new(), None)
            .await?;
        if !response.status().is_success() {
            return Err(self.failure(key, response).await);
        }
        self.meta(key, response.headers())
    }

    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        let headers = put_headers(&options)?;
        let response = self
            .send(Method::PUT, &object_path(key)?, headers, Some(body))
            .await?;
        self.answer::<WirePut>(key, response).await.map(Into::into)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let response = self
            .send(Method::DELETE, &object_path(key)?, HeaderMap::new(), None)
            .await?;
        self.done(key, response).await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        let mut query = Vec::new();
        let mut add = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                query.push(format!("{name}={}", wire::encode(value)));
            }
        };
        add("prefix", options.prefix.as_deref());
        add("delimiter", options.delimiter.as_deref());
        add("start_after", options.start_after.as_deref());
        add("continuation", options.continuation.as_deref());
        let max_keys = options.max_keys.map(|n| n.to_string());
        add("max_keys", max_keys.as_deref());
        let path = format!("/list?{}", query.join("&"));
        let response = self
            .send(Method::GET, &path, HeaderMap::new(), None)
            .await?;
        self.answer::<WirePage>("", response).await.map(Into::into)
    }

    async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        validate_key(from)?;
        let mut headers = HeaderMap::new();
        mode_headers(&mut headers, &mode)?;
        let path = format!("{}?copy_from={}", object_path(to)?, wire::encode(from));
        let response = self.send(Method::POST, &path, headers, None).await?;
        self.answer::<WirePut>(to, response).await.map(Into::into)
    }

    async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        let headers = put_headers(&options)?;
        let path = format!("{}?uploads", object_path(key)?);
        let response = self.send(Method::POST, &path, headers, None).await?;
        Ok(self.answer::<Upload>(key, response).await?.upload_id)
    }

    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        let path = format!(
            "{}?upload_id={}&part_number={part_number}",
            object_path(key)?,
            wire::encode(upload_id)
        );
        let response = self
            .send(Method::PUT, &path, HeaderMap::new(), Some(body))
            .await?;
        self.answer::<WirePart>(key, response).await.map(Into::into)
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        let parts: Vec<WirePart> = parts.into_iter().map(Into::into).collect();
        let body = serde_json::to_vec(&parts).map_err(|error| {
            BucketError::backend("remote", format!("the parts did not serialise: {error}"))
        })?;
        let path = format!(
            "{}?upload_id={}",
            object_path(key)?,
            wire::encode(upload_id)
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let response = self
            .send(Method::POST, &path, headers, Some(ByteStream::from(body)))
            .await?;
        self.answer::<WirePut>(key, response).await.map(Into::into)
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        let path = format!(
            "{}?upload_id={}",
            object_path(key)?,
            wire::encode(upload_id)
        );
        let response = self
            .send(Method::DELETE, &path, HeaderMap::new(), None)
            .await?;
        self.done(key, response).await
    }
}

impl fmt::Debug for RemoteBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteBucket")
            .field("url", &self.url)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}
