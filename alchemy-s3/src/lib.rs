//! S3 without the SDK: SigV4 ([`sigv4`]), S3's REST protocol, and S3 as the neutral bucket
//! over any HTTP transport. [`S3Bucket`] implements [`BucketStore`] by signing requests and
//! sending them through a [`Transport`]: reqwest natively ([`ReqwestTransport`], feature
//! `reqwest`), or a Worker's `fetch` (`alchemy_cloudflare::s3::FetchTransport`). The crate
//! builds for `wasm32-unknown-unknown` without a native runtime: the AWS SDK does not run in a
//! Worker; this does, so a Worker on Cloudflare can keep its bucket in S3. `alchemy-aws` shares
//! its protocol helpers (upload ids, the part reader, S3's headers and error codes).
//!
//! # What a Worker gets
//!
//! A service bound to bucket `photos` that the stage places on AWS gets, in its `env`:
//!
//! ```text
//! ALCHEMY_BUCKET_PHOTOS  = "photo-share-prod-photos-3f9a"   plain text: the S3 bucket's name
//! AWS_REGION             = "us-east-1"                      plain text
//! AWS_ENDPOINT_URL       = "http://127.0.0.1:4566"          plain text, optional
//! AWS_ACCESS_KEY_ID      = "AKIA…"                          secret (a plain var works too)
//! AWS_SECRET_ACCESS_KEY  = "…"                              secret (a plain var works too)
//! AWS_SESSION_TOKEN      = "…"                              secret, optional
//! ```
//!
//! `alchemy_cloudflare::CloudflareRuntime::bucket("photos")` then uses the R2 binding `PHOTOS` when the Worker has
//! one, and this client otherwise ([`S3Config::from_vars`] reads the variables). Requests are
//! path-style: `{AWS_ENDPOINT_URL}/{bucket}/{key}`, or
//! `https://s3.{AWS_REGION}.amazonaws.com/{bucket}/{key}` without an endpoint. Path-style
//! works for every bucket name (dots included) and every S3-compatible endpoint.
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn example() -> alchemy::bucket::Result<()> {
//! use alchemy::bucket::BucketClient;
//! use alchemy_s3::{Credentials, ReqwestTransport, S3Bucket, S3Config};
//!
//! let config = S3Config::new("my-photos", "us-east-1", Credentials::new("AKIA…", "secret"));
//! let photos = BucketClient::new(S3Bucket::new(ReqwestTransport::new(), config));
//! photos.put_if_absent("cat.txt", "meow").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Bodies and memory
//!
//! - A body of known length goes up in one `PutObject` as it is read, signed
//!   `UNSIGNED-PAYLOAD` (S3 accepts it); small XML bodies (completing an upload) are signed
//!   with their hash.
//! - A body of unknown length goes up in one `PutObject` when it fits in one part
//!   ([`S3Bucket::with_part_size`], 8 MiB by default), else as a multipart upload, one part in
//!   memory at a time, aborted if anything fails.
//! - A get hands out the response body as it arrives, with its exact length.
//!
//! # Errors and conditions
//!
//! `PutMode::Create` sends `If-None-Match: *` and `PutMode::Update` sends `If-Match`, on
//! `PutObject`, `CopyObject` and `CompleteMultipartUpload` (a multipart upload's condition
//! travels in the upload id). S3's `<Error>` answers become the neutral variants:
//!
//! | S3 answers | for | becomes |
//! |---|---|---|
//! | 412 `PreconditionFailed`, 409 `ConditionalRequestConflict` | `PutMode::Create` | `AlreadyExists` |
//! | 412, 409 `ConditionalRequestConflict`; 404 | `PutMode::Update` | `Precondition` |
//! | 412 | `if_match` | `Precondition` |
//! | 304 | `if_none_match` | `NotModified` |
//! | 404 `NoSuchKey` | reads, copy sources | `NotFound` |
//! | 416 `InvalidRange` | ranges | `InvalidRange`, with the object's size |
//! | `NoSuchUpload` | multipart | `NoSuchUpload` |
//! | `InvalidPart`, `InvalidPartOrder`, `EntityTooSmall` | multipart | `InvalidPart` |
//! | 429, 5xx, `SlowDown`, no answer | any | `Backend`, retryable |
//! | anything else | any | `Backend`, naming the bucket and the key |

pub mod errors;
pub mod parts;
pub mod sigv4;
mod transport;
pub mod wire;
mod xml;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use alchemy::bucket::{
    validate_key, validate_metadata, BucketError, BucketStore, ByteRange, Capabilities, GetOptions,
    GetResult, ListOptions, ListPage, ObjectMeta, PartInfo, PutMode, PutOptions, PutResult, Result,
};
use alchemy_stream::{ByteStream, StreamError};
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};

pub use sigv4::Credentials;
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use transport::ReqwestTransport;
pub use transport::{Transport, TransportError};

use errors::{complete_error, write_error, Failure};
use parts::{
    check_parts, decode_upload_id, encode_upload_id, sized_part, upload_in_parts, PartReader,
};
use sigv4::{Payload, Scope};
use wire::{header, is_empty_range, parse_content_range, META_PREFIX};

/// The provider's name in errors and reports.
pub const PROVIDER: &str = "s3";

const MIB: u64 = 1024 * 1024;
/// S3's smallest part but the last.
const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest part, and its largest single `PutObject`.
const MAX_PUT_SIZE: u64 = 5 * 1024 * MIB;
/// S3's largest object.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// S3's most parts of one upload.
const MAX_PARTS: u32 = 10_000;
/// The part size for bodies of unknown length: memory held per upload.
const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's largest page of a listing.
const MAX_LIST_KEYS: u32 = 1000;
/// The most bytes of an XML answer (an error, a listing) read into memory.
const MAX_XML: usize = 16 * 1024 * 1024;

/// The optional plain-text variable that names the S3 features an S3-compatible endpoint
/// lacks, comma-separated (`copy_conditional` for MiniStack, which copies regardless of
/// conditions): the client then refuses them with `NotSupported` instead of sending them.
pub const UNSUPPORTED_VAR: &str = "ALCHEMY_S3_UNSUPPORTED";

/// Where an S3 bucket is and how to reach it: its name, region, endpoint and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket's name.
    pub bucket: String,
    /// Its region, such as `us-east-1`.
    pub region: String,
    /// The endpoint, such as `http://127.0.0.1:4566`, or `None` for AWS's
    /// `https://s3.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The credentials requests are signed with.
    pub credentials: Credentials,
    /// What the endpoint supports: S3's [`s3_capabilities`](Self::s3_capabilities) unless
    /// the endpoint is an S3-compatible store or emulator that lacks some.
    pub capabilities: Capabilities,
}

impl S3Config {
    /// The bucket `bucket` in `region` on AWS, reached with `credentials`.
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        S3Config {
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            credentials,
            capabilities: Self::s3_capabilities(),
        }
    }

    /// What S3 itself supports: every flag of [`Capabilities`], parts of 5 MiB to 5 GiB, at
    /// most 10 000 of them, single writes up to 5 GiB and objects up to 5 TiB.
    pub fn s3_capabilities() -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.put_create = true;
        capabilities.put_update = true;
        capabilities.get_conditional = true;
        capabilities.range = true;
        capabilities.multipart = true;
        capabilities.multipart_conditional = true;
        capabilities.copy = true;
        capabilities.copy_conditional = true;
        capabilities.list_delimiter = true;
        capabilities.list_start_after = true;
        capabilities.content_type = true;
        capabilities.user_metadata = true;
        capabilities.max_object_size = Some(MAX_OBJECT_SIZE);
        capabilities.max_put_size = Some(MAX_PUT_SIZE);
        capabilities.min_part_size = MIN_PART_SIZE;
        capabilities.max_part_size = Some(MAX_PUT_SIZE);
        capabilities.max_parts = Some(MAX_PARTS);
        capabilities
    }

    /// The same endpoint, declared without the features named in `unsupported` (the names of
    /// the [`Capabilities`] flags: `copy_conditional`, `multipart`, …), as
    /// [`UNSUPPORTED_VAR`] says for an S3-compatible endpoint. An unknown name is an error
    /// that lists the known ones.
    pub fn without(mut self, unsupported: &str) -> std::result::Result<Self, String> {
        for name in unsupported
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let flag = match name {
                "put_create" => &mut self.capabilities.put_create,
                "put_update" => &mut self.capabilities.put_update,
                "get_conditional" => &mut self.capabilities.get_conditional,
                "range" => &mut self.capabilities.range,
                "multipart" => &mut self.capabilities.multipart,
                "multipart_conditional" => &mut self.capabilities.multipart_conditional,
                "copy" => &mut self.capabilities.copy,
                "copy_conditional" => &mut self.capabilities.copy_conditional,
                "list_delimiter" => &mut self.capabilities.list_delimiter,
                "list_start_after" => &mut self.capabilities.list_start_after,
                other => {
                    return Err(format!(
                        "`{UNSUPPORTED_VAR}` names `{other}`, which is no capability: use \
                         put_create, put_update, get_conditional, range, multipart, \
                         multipart_conditional, copy, copy_conditional, list_delimiter or \
                         list_start_after, separated by commas"
                    ))
                }
            };
            *flag = false;
        }
        Ok(self)
    }

    /// The same bucket at another endpoint (an emulator, an S3-compatible store).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The name of the variable that holds the S3 bucket bound as `id`:
    /// [`bucket_env(id)`](alchemy::bucket::bucket_env), `ALCHEMY_BUCKET_<ID>` as on every
    /// platform.
    pub fn bucket_var(id: &str) -> String {
        alchemy::bucket::bucket_env(id)
    }

    /// The configuration of the bucket bound as `id`, from variables that `lookup` reads
    /// (the Worker's `env`, the process environment): `None` when
    /// [`bucket_var(id)`](Self::bucket_var) is not set, and an error naming the variables
    /// that are missing when it is set but the rest is not.
    ///
    /// ```
    /// use alchemy_s3::S3Config;
    ///
    /// let vars = [
    ///     ("ALCHEMY_BUCKET_PHOTOS", "photos-3f9a"),
    ///     ("AWS_REGION", "eu-west-1"),
    ///     ("AWS_ACCESS_KEY_ID", "AKID"),
    ///     ("AWS_SECRET_ACCESS_KEY", "secret"),
    /// ];
    /// let lookup = |name: &str| {
    ///     vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    /// };
    /// let config = S3Config::from_vars("photos", lookup).unwrap().unwrap();
    /// assert_eq!(config.bucket, "photos-3f9a");
    /// assert_eq!(config.base_url(), "https://s3.eu-west-1.amazonaws.com");
    /// assert!(S3Config::from_vars("videos", lookup).unwrap().is_none());
    /// ```
    pub fn from_vars(
        id: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Option<S3Config>, String> {
        let bucket_var = Self::bucket_var(id);
        let Some(bucket) = lookup(&bucket_var).filter(|name| !name.is_empty()) else {
            return Ok(None);
        };
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let region = get("AWS_REGION");
        let access_key = get("AWS_ACCESS_KEY_ID");
        let secret_key = get("AWS_SECRET_ACCESS_KEY");
        let (Some(region), Some(access_key), Some(secret_key)) = (region, access_key, secret_key)
        else {
            let missing: Vec<&str> = ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
                .into_iter()
                .filter(|name| get(name).is_none())
                .collect();
            return Err(format!(
                "`{bucket_var}` places bucket `{id}` in S3 (`{bucket}`), but {} not set: \
                 give the Worker AWS_REGION as a variable and AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY as secrets",
                missing.join(", ") + if missing.len() == 1 { " is" } else { " are" }
            ));
        };
        let mut credentials = Credentials::new(access_key, secret_key);
        credentials.session_token = get("AWS_SESSION_TOKEN");
        let mut config = S3Config::new(bucket, region, credentials);
        config.endpoint = get("AWS_ENDPOINT_URL");
        match get(UNSUPPORTED_VAR) {
            Some(unsupported) => config.without(&unsupported).map(Some),
            None => Ok(Some(config)),
        }
    }

    /// The URL requests go to, without a trailing `/`: the endpoint, or
    /// `https://s3.{region}.amazonaws.com`.
    pub fn base_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
            None => format!("https://s3.{}.amazonaws.com", self.region),
        }
    }
}

/// One S3 bucket as a [`BucketStore`], over the transport `T`: wrap it in a
/// [`BucketClient`](alchemy::bucket::BucketClient) to use it.
///
/// The store holds no state beyond its configuration: a multipart upload id it hands out
/// carries the upload's write condition, so another isolate or process can complete it.
#[derive(Debug, Clone)]
pub struct S3Bucket<T> {
    transport: T,
    config: Arc<S3Config>,
    base_url: String,
    part_size: usize,
    capabilities: Capabilities,
}

/// The first failure of a request body, kept to report it rather than the failed request.
type BodyFailure = Arc<Mutex<Option<StreamError>>>;

impl<T: Transport> S3Bucket<T> {
    /// The bucket `config` describes, reached through `transport`, declaring
    /// `config.capabilities`.
    pub fn new(transport: T, config: S3Config) -> Self {
        S3Bucket {
            transport,
            base_url: config.base_url(),
            capabilities: config.capabilities,
            config: Arc::new(config),
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Uses parts of `part_size` bytes (at least 5 MiB, S3's minimum) for bodies of unknown
    /// length; this is the memory one such upload holds. The default is 8 MiB.
    pub fn with_part_size(mut self, part_size: usize) -> Self {
        let min = usize::try_from(MIN_PART_SIZE).unwrap_or(usize::MAX);
        self.part_size = part_size.max(min);
        self
    }

    /// Declares what the endpoint supports, for S3-compatible stores and emulators that lack
    /// some of S3's features. What `capabilities` leaves out is refused with
    /// [`BucketError::NotSupported`], never sent and silently ignored.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// What S3 itself supports ([`S3Config::s3_capabilities`]).
    pub fn s3_capabilities() -> Capabilities {
        S3Config::s3_capabilities()
    }

    /// The bucket's configuration.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// Refuses `operation` unless `supported`.
    fn require(&self, supported: bool, operation: &'static str) -> Result<()> {
        if supported {
            Ok(())
        } else {
            Err(BucketError::NotSupported {
                operation,
                provider: PROVIDER,
            })
        }
    }

    /// Refuses a [`PutMode`] this endpoint cannot check.
    fn require_mode(&self, mode: &PutMode) -> Result<()> {
        match mode {
            PutMode::Overwrite => Ok(()),
            PutMode::Create => self.require(
                self.capabilities.put_create,
                "conditional put (PutMode::Create)",
            ),
            PutMode::Update(_) => self.require(
                self.capabilities.put_update,
                "conditional put (PutMode::Update)",
            ),
        }
    }

    /// `doing` with the bucket named, for messages: "reading `k` in bucket `b`".
    fn doing(&self, doing: impl std::fmt::Display) -> String {
        format!("{doing} in bucket `{}`", self.config.bucket)
    }

    /// Signs and sends a request for `key` (or the bucket, for `None`) and hands back the
    /// answer when its status is a success, the [`Failure`] otherwise.
    async fn send(&self, call: Call<'_>) -> std::result::Result<Response<ByteStream>, Failure> {
        let mut url = self.base_url.clone();
        match call.key {
            Some(key) => url.push_str(&sigv4::encode_path(&self.config.bucket, key)),
            None => {
                url.push('/');
                url.push_str(&sigv4::encode(&self.config.bucket, true));
            }
        }
        if !call.query.is_empty() {
            let query: Vec<String> = call
                .query
                .iter()
                .map(|(name, value)| match value {
                    None => sigv4::encode(name, true),
                    Some(value) => {
                        format!(
                            "{}={}",
                            sigv4::encode(name, true),
                            sigv4::encode(value, true)
                        )
                    }
                })
                .collect();
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(&url)
            .body(ByteStream::empty())
            .map_err(|error| Failure::unanswered(format!("building the request {url}: {error}")))?;
        *request.headers_mut() = call.headers;
        let (body, payload) = match call.body {
            Body::Empty => (ByteStream::empty(), Payload::Bytes(&[])),
            Body::Bytes(ref bytes) => (
                ByteStream::from(bytes.clone()),
                Payload::Bytes(bytes.as_slice()),
            ),
            Body::Stream(stream) => (stream, Payload::Unsigned),
        };
        let uploads = call.method == Method::PUT || call.method == Method::POST;
        if let (true, Some(len)) = (uploads, body.len()) {
            request
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        let scope = Scope {
            region: &self.config.region,
            service: "s3",
            time: now(),
        };
        sigv4::sign(&mut request, &self.config.credentials, scope, payload);
        *request.body_mut() = body;
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|error| Failure::unanswered(error.message))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let text = read_text(response.into_body()).await.unwrap_or_default();
        Err(Failure::answer(status, &text))
    }

    /// The error for a range that selects nothing of `key`, with the object's size (or
    /// [`BucketError::NotFound`] when there is no object).
    async fn invalid_range(&self, key: &str, range: ByteRange) -> BucketError {
        match self.head(key).await {
            Ok(meta) => BucketError::InvalidRange {
                key: key.to_owned(),
                range: range.to_string(),
                size: meta.size,
            },
            Err(error) => error,
        }
    }

    /// A single `PutObject` of a body of known length.
    async fn put_object(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        let mut headers = write_headers(options.content_type, &options.metadata)?;
        add_condition(&mut headers, &options.mode);
        let (body, failure) = watch(body);
        let sent = self
            .send(Call {
                method: Method::PUT,
                key: Some(key),
                query: Vec::new(),
                headers,
                body: Body::Stream(body),
            })
            .await;
        match sent {
            Ok(response) => put_result(response.headers(), key),
            Err(error) => Err(body_failed(&failure).unwrap_or_else(|| {
                write_error(
                    error,
                    &self.doing(format_args!("writing `{key}`")),
                    key,
                    &options.mode,
                )
            })),
        }
    }

    /// A body of unknown length: one `PutObject` when it fits in one part, else a multipart
    /// upload, one part in memory at a time, aborted if anything fails. Without multipart
    /// uploads the body is read into memory up to `max_put_size`.
    async fn put_unsized(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        if !self.capabilities.multipart {
            let limit = self.capabilities.max_put_size.unwrap_or(MAX_PUT_SIZE);
            let data = body
                .collect(usize::try_from(limit).unwrap_or(usize::MAX))
                .await
                .map_err(|error| match error {
                    StreamError::TooLarge { limit } => BucketError::TooLarge { limit },
                    other => BucketError::Stream(other),
                })?;
            return self.put_object(key, ByteStream::from(data), options).await;
        }
        let mut reader = PartReader::new(body, self.part_size);
        let Some(first) = reader.next_part().await? else {
            return self.put_object(key, ByteStream::empty(), options).await;
        };
        if reader.is_done().await? {
            return self.put_object(key, first.into_stream(), options).await;
        }
        upload_in_parts(self, key, first, reader, options, self.part_size).await
    }
}

/// What [`S3Bucket::send`] sends.
struct Call<'a> {
    method: Method,
    key: Option<&'a str>,
    /// Parameters in order; `None` for a parameter without a value (`?uploads`).
    query: Vec<(&'static str, Option<String>)>,
    headers: HeaderMap,
    body: Body,
}

/// A request body.
enum Body {
    Empty,
    /// In memory: signed with its hash.
    Bytes(Vec<u8>),
    /// Streamed: signed `UNSIGNED-PAYLOAD`.
    Stream(ByteStream),
}

/// Seconds since the Unix epoch.
#[cfg(not(target_arch = "wasm32"))]
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Seconds since the Unix epoch (from JS: `wasm32-unknown-unknown` has no clock of its own).
#[cfg(target_arch = "wasm32")]
fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A body read as text, up to [`MAX_XML`] bytes.
async fn read_text(body: ByteStream) -> Result<String> {
    let bytes = body.collect(MAX_XML).await.map_err(|error| match error {
        StreamError::TooLarge { limit } => BucketError::TooLarge { limit },
        other => BucketError::Stream(other),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `body`, with its first error kept aside: a request that failed because its body did is
/// reported as the body's failure.
fn watch(body: ByteStream) -> (ByteStream, BodyFailure) {
    let failure = BodyFailure::default();
    let kept = failure.clone();
    let len = body.len();
    let watched = ByteStream::from_stream(body.map(move |chunk| {
        chunk.map_err(|error| {
            let message = error.to_string();
            if let Ok(mut slot) = kept.lock() {
                slot.get_or_insert(error);
            }
            StreamError::other(message)
        })
    }));
    let watched = match len {
        Some(len) => watched.with_exact_len(len),
        None => watched,
    };
    (watched, failure)
}

/// The body's failure, if the body failed.
fn body_failed(failure: &BodyFailure) -> Option<BucketError> {
    failure
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .map(BucketError::Stream)
}

/// The headers of a write: its content type and user metadata.
fn write_headers(
    content_type: Option<String>,
    metadata: &BTreeMap<String, String>,
) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(content_type) = content_type {
        let value =
            HeaderValue::from_str(&content_type).map_err(|_| BucketError::InvalidMetadata {
                name: "content-type".into(),
                reason: format!("`{content_type}` cannot be an HTTP header value"),
            })?;
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    for (name, value) in metadata {
        let invalid = || BucketError::InvalidMetadata {
            name: name.clone(),
            reason: "it cannot be sent as an HTTP header".into(),
        };
        let name = HeaderName::from_bytes(format!("{META_PREFIX}{name}").as_bytes())
            .map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The condition headers of a write mode.
fn add_condition(headers: &mut HeaderMap, mode: &PutMode) {
    let (name, value) = match mode {
        PutMode::Overwrite => return,
        PutMode::Create => (http::header::IF_NONE_MATCH, "*".to_string()),
        PutMode::Update(etag) => (http::header::IF_MATCH, etag.clone()),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

/// What a write answered: its etag and version.
fn put_result(headers: &HeaderMap, key: &str) -> Result<PutResult> {
    Ok(PutResult {
        etag: required_etag(header(headers, "etag").map(str::to_string), key)?,
        version: header(headers, "x-amz-version-id").map(str::to_string),
    })
}

/// An etag S3 must have sent.
fn required_etag(etag: Option<String>, key: &str) -> Result<String> {
    etag.ok_or_else(|| {
        BucketError::backend(
            PROVIDER,
            format!("writing `{key}`: the answer had no ETag; the endpoint is not S3-compatible"),
        )
    })
}

/// An object's metadata from the headers of a `GetObject` or `HeadObject` answer.
fn object_meta(key: &str, headers: &HeaderMap, size: u64) -> ObjectMeta {
    ObjectMeta {
        key: key.to_owned(),
        size,
        etag: header(headers, "etag").unwrap_or_default().to_string(),
        last_modified: header(headers, "last-modified")
            .map(wire::http_date_millis)
            .unwrap_or(0),
        content_type: header(headers, "content-type").map(str::to_string),
        metadata: wire::metadata(headers),
    }
}

/// The `Content-Length` of an answer.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    header(headers, "content-length")?.trim().parse().ok()
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<T: Transport> BucketStore for S3Bucket<T> {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult> {
        validate_key(key)?;
        if options.range.is_some() {
            self.require(self.capabilities.range, "range reads")?;
        }
        if options.if_match.is_some() || options.if_none_match.is_some() {
            self.require(self.capabilities.get_conditional, "conditional reads")?;
        }
        if let Some(range) = options.range.filter(|range| is_empty_range(*range)) {
            return Err(self.invalid_range(key, range).await);
        }
        let mut headers = HeaderMap::new();
        let mut set = |name: http::header::HeaderName, value: Option<String>| {
            if let Some(value) = value.and_then(|value| HeaderValue::from_str(&value).ok()) {
                headers.insert(name, value);
            }
        };
        set(
            http::header::RANGE,
            options.range.map(|range| range.to_string()),
        );
        set(http::header::IF_MATCH, options.if_match.clone());
        set(http::header::IF_NONE_MATCH, options.if_none_match.clone());
        let sent = self
            .send(Call {
                method: Method::GET,
                key: Some(key),
                query: Vec::new(),
                headers,
                body: Body::Empty,
            })
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(failure) => {
                return Err(if failure.is_not_found() {
                    BucketError::not_found(key)
                } else if failure.is(416, &["InvalidRange"]) {
                    match options.range {
                        Some(range) => self.invalid_range(key, range).await,
                        None => failure.backend(self.doing(format_args!("reading `{key}`"))),
                    }
                } else if failure.is(304, &["NotModified"]) {
                    BucketError::NotModified {
                        key: key.to_owned(),
                    }
                } else if failure.is_precondition() {
                    BucketError::Precondition {
                        key: key.to_owned(),
                        detail: format!(
                            "the etag {} is not current",
                            options.if_match.as_deref().unwrap_or("given")
                        ),
                    }
                } else {
                    failure.backend(self.doing(format_args!("reading `{key}`")))
                });
            }
        };
        let (parts, body) = response.into_parts();
        let len = content_length(&parts.headers).ok_or_else(|| {
            BucketError::backend(
                PROVIDER,
                format!("reading `{key}`: the answer had no Content-Length"),
            )
        })?;
        let content_range = header(&parts.headers, "content-range");
        let (range, size) = match content_range {
            Some(content_range) => parse_content_range(content_range).ok_or_else(|| {
                BucketError::backend(
                    PROVIDER,
                    format!("reading `{key}`: cannot read the Content-Range `{content_range}`"),
                )
            })?,
            None => (0..len, len),
        };
        if let (Some(asked), None) = (options.range, content_range) {
            // S3 sends a whole object without Content-Range when the range covers it all.
            if asked.resolve(key, size)? != (0..size) {
                return Err(BucketError::backend(
                    PROVIDER,
                    format!("reading {asked} of `{key}`: the endpoint ignored the range"),
                ));
            }
        }
        Ok(GetResult {
            meta: object_meta(key, &parts.headers, size),
            range,
            body: body.with_exact_len(len),
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let response = self
            .send(Call {
                method: Method::HEAD,
                key: Some(key),
                query: Vec::new(),
                headers: HeaderMap::new(),
                body: Body::Empty,
            })
            .await
            .map_err(|failure| {
                if failure.is_not_found() {
                    BucketError::not_found(key)
                } else {
                    failure.backend(self.doing(format_args!("reading the metadata of `{key}`")))
                }
            })?;
        let size = content_length(response.headers()).unwrap_or(0);
        Ok(object_meta(key, response.headers(), size))
    }

    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        self.require_mode(&options.mode)?;
        match body.len() {
            Some(len) if len <= MAX_PUT_SIZE => self.put_object(key, body, options).await,
            _ => self.put_unsized(key, body, options).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let sent = self
            .send(Call {
                method: Method::DELETE,
                key: Some(key),
                query: Vec::new(),
                headers: HeaderMap::new(),
                body: Body::Empty,
            })
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(failure) if failure.is(404, &["NoSuchKey"]) => Ok(()),
            Err(failure) => Err(failure.backend(self.doing(format_args!("deleting `{key}`")))),
        }
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        if options.delimiter.is_some() {
            self.require(self.capabilities.list_delimiter, "a delimiter on list")?;
        }
        if options.start_after.is_some() {
            self.require(self.capabilities.list_start_after, "start_after on list")?;
        }
        let start_after = options
            .start_after
            .filter(|_| options.continuation.is_none());
        let max_keys = options
            .max_keys
            .unwrap_or(MAX_LIST_KEYS)
            .clamp(1, MAX_LIST_KEYS);
        let mut query = vec![("list-type", Some("2".to_string()))];
        let prefix = options.prefix.clone().filter(|prefix| !prefix.is_empty());
        let optional = [
            ("prefix", prefix),
            ("delimiter", options.delimiter),
            ("start-after", start_after),
            ("continuation-token", options.continuation),
        ];
        query.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name, Some(value?)))),
        );
        query.push(("max-keys", Some(max_keys.to_string())));
        query.push(("encoding-type", Some("url".to_string())));
        let listing = || {
            self.doing(format_args!(
                "listing `{}`",
                options.prefix.as_deref().unwrap_or("")
            ))
        };
        let response = self
            .send(Call {
                method: Method::GET,
                key: None,
                query,
                headers: HeaderMap::new(),
                body: Body::Empty,
            })
            .await
            .map_err(|failure| failure.backend(listing()))?;
        let document = read_text(response.into_body()).await?;
        let result = xml::child(&document, "ListBucketResult").ok_or_else(|| {
            BucketError::backend(
                PROVIDER,
                format!("{}: the answer is no ListBucketResult", listing()),
            )
        })?;
        // Keys come back URL-encoded when the endpoint honours `encoding-type=url` (it says
        // so in the answer), as they are otherwise.
        let url_encoded = xml::text(result, "EncodingType").as_deref() == Some("url");
        let decode = |value: String| {
            if url_encoded {
                wire::decode_listed(&value)
            } else {
                value
            }
        };
        let objects = xml::children(result, "Contents")
            .into_iter()
            .filter_map(|object| {
                Some(ObjectMeta {
                    key: decode(xml::text(object, "Key")?),
                    size: xml::text(object, "Size")
                        .and_then(|size| size.trim().parse().ok())
                        .unwrap_or(0),
                    etag: xml::text(object, "ETag").unwrap_or_default(),
                    last_modified: xml::text(object, "LastModified")
                        .map(|time| wire::iso_millis(&time))
                        .unwrap_or(0),
                    content_type: None,
                    metadata: BTreeMap::new(),
                })
            })
            .collect();
        let common_prefixes = xml::children(result, "CommonPrefixes")
            .into_iter()
            .filter_map(|prefix| xml::text(prefix, "Prefix").map(decode))
            .collect();
        let truncated = xml::text(result, "IsTruncated").as_deref() == Some("true");
        let next = xml::text(result, "NextContinuationToken")
            .filter(|token| truncated && !token.is_empty());
        Ok(ListPage {
            objects,
            common_prefixes,
            next,
        })
    }

    async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        validate_key(from)?;
        validate_key(to)?;
        self.require(self.capabilities.copy, "copy")?;
        if mode != PutMode::Overwrite {
            self.require(
                self.capabilities.copy_conditional,
                "conditional copy (a PutMode other than Overwrite)",
            )?;
        }
        let mut headers = HeaderMap::new();
        let source = wire::copy_source(&self.config.bucket, from);
        if let Ok(source) = HeaderValue::from_str(&source) {
            headers.insert("x-amz-copy-source", source);
        }
        add_condition(&mut headers, &mode);
        let doing = self.doing(format_args!("copying `{from}` to `{to}`"));
        let sent = self
            .send(Call {
                method: Method::PUT,
                key: Some(to),
                query: Vec::new(),
                headers,
                body: Body::Empty,
            })
            .await;
        let failure = match sent {
            Ok(response) => {
                let version = header(response.headers(), "x-amz-version-id").map(str::to_string);
                let document = read_text(response.into_body()).await?;
                // CopyObject may fail after it answered 200: the error is in the body.
                match xml::error(&document) {
                    None => {
                        let etag = xml::child(&document, "CopyObjectResult")
                            .and_then(|result| xml::text(result, "ETag"));
                        return Ok(PutResult {
                            etag: required_etag(etag, to)?,
                            version,
                        });
                    }
                    Some(_) => Failure::answer(500, &document),
                }
            }
            Err(failure) => failure,
        };
        if !failure.is_not_found() {
            return Err(write_error(failure, &doing, to, &mode));
        }
        // A 404 names no key: the source is missing, or (for `If-Match`) the target.
        if let PutMode::Update(etag) = &mode {
            if self.head(from).await.is_ok() {
                return Err(BucketError::Precondition {
                    key: to.to_owned(),
                    detail: format!("no object has the key, so the etag {etag} cannot match"),
                });
            }
        }
        Err(BucketError::not_found(from))
    }

    async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        self.require(self.capabilities.multipart, "multipart uploads")?;
        if options.mode != PutMode::Overwrite {
            self.require(
                self.capabilities.multipart_conditional,
                "conditional multipart uploads",
            )?;
        }
        let doing = self.doing(format_args!("starting a multipart upload of `{key}`"));
        let response = self
            .send(Call {
                method: Method::POST,
                key: Some(key),
                query: vec![("uploads", None)],
                headers: write_headers(options.content_type, &options.metadata)?,
                body: Body::Empty,
            })
            .await
            .map_err(|failure| failure.backend(&doing))?;
        let document = read_text(response.into_body()).await?;
        let s3_id = xml::child(&document, "InitiateMultipartUploadResult")
            .and_then(|result| xml::text(result, "UploadId"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                BucketError::backend(PROVIDER, format!("{doing}: the answer had no upload id"))
            })?;
        Ok(encode_upload_id(&s3_id, &options.mode))
    }

    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        validate_key(key)?;
        self.require(self.capabilities.multipart, "multipart uploads")?;
        let body = sized_part(key, part_number, body).await?;
        let size = body.len().unwrap_or(0);
        let (s3_id, _) = decode_upload_id(upload_id);
        let (body, failure) = watch(body);
        let sent = self
            .send(Call {
                method: Method::PUT,
                key: Some(key),
                query: vec![
                    ("partNumber", Some(part_number.to_string())),
                    ("uploadId", Some(s3_id.to_string())),
                ],
                headers: HeaderMap::new(),
                body: Body::Stream(body),
            })
            .await;
        match sent {
            Ok(response) => Ok(PartInfo {
                part_number,
                etag: required_etag(header(response.headers(), "etag").map(str::to_string), key)?,
                size,
            }),
            Err(error) => Err(body_failed(&failure).unwrap_or_else(|| {
                if error.is_no_such_upload() || error.status == Some(404) {
                    BucketError::NoSuchUpload {
                        key: key.to_owned(),
                        upload_id: upload_id.to_owned(),
                    }
                } else {
                    error.backend(self.doing(format_args!("writing part {part_number} of `{key}`")))
                }
            })),
        }
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        validate_key(key)?;
        self.require(self.capabilities.multipart, "multipart uploads")?;
        check_parts(key, &parts, self.capabilities.min_part_size)?;
        let (s3_id, mode) = decode_upload_id(upload_id);
        let mut document = String::from("<CompleteMultipartUpload>");
        for part in &parts {
            document.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                part.part_number,
                xml::escape(&part.etag)
            ));
        }
        document.push_str("</CompleteMultipartUpload>");
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        add_condition(&mut headers, &mode);
        let doing = self.doing(format_args!("completing the upload of `{key}`"));
        let sent = self
            .send(Call {
                method: Method::POST,
                key: Some(key),
                query: vec![("uploadId", Some(s3_id.to_string()))],
                headers,
                body: Body::Bytes(document.into_bytes()),
            })
            .await;
        let failure = match sent {
            Ok(response) => {
                let version = header(response.headers(), "x-amz-version-id").map(str::to_string);
                let answer = read_text(response.into_body()).await?;
                // CompleteMultipartUpload may fail after it answered 200: the error is in the
                // body.
                match xml::error(&answer) {
                    None => {
                        let etag = xml::text(&answer, "ETag");
                        return Ok(PutResult {
                            etag: required_etag(etag, key)?,
                            version,
                        });
                    }
                    Some(_) => Failure::answer(400, &answer),
                }
            }
            Err(failure) => failure,
        };
        Err(complete_error(
            failure, &doing, key, upload_id, &parts, &mode,
        ))
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        validate_key(key)?;
        self.require(self.capabilities.multipart, "multipart uploads")?;
        let (s3_id, _) = decode_upload_id(upload_id);
        let sent = self
            .send(Call {
                method: Method::DELETE,
                key: Some(key),
                query: vec![("uploadId", Some(s3_id.to_string()))],
                headers: HeaderMap::new(),
                body: Body::Empty,
            })
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(failure) if failure.is_no_such_upload() || failure.status == Some(404) => Ok(()),
            Err(failure) => {
                Err(failure.backend(self.doing(format_args!("aborting the upload of `{key}`"))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn the_contract_variables_make_the_configuration() {
        let vars = lookup(&[
            ("ALCHEMY_BUCKET_USER_PHOTOS", "photos-3f9a"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            (UNSUPPORTED_VAR, "copy_conditional, multipart"),
        ]);
        let config = S3Config::from_vars("user-photos", vars)
            .expect("valid")
            .expect("placed in S3");
        assert_eq!(config.bucket, "photos-3f9a");
        assert_eq!(config.base_url(), "http://127.0.0.1:4566");
        assert_eq!(config.credentials.session_token.as_deref(), Some("token"));
        assert!(!config.capabilities.copy_conditional && !config.capabilities.multipart);
        assert!(config.capabilities.put_create);
    }

    #[test]
    fn missing_variables_are_named() {
        let vars = lookup(&[
            ("ALCHEMY_BUCKET_PHOTOS", "photos-3f9a"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
        ]);
        let error = S3Config::from_vars("photos", vars).expect_err("incomplete");
        assert!(
            error.contains("AWS_REGION, AWS_SECRET_ACCESS_KEY are not set"),
            "{error}"
        );
        assert!(error.contains("`ALCHEMY_BUCKET_PHOTOS`"), "{error}");
        assert_eq!(S3Config::from_vars("videos", lookup(&[])), Ok(None));
        let unknown = S3Config::new("b", "r", Credentials::new("a", "s"))
            .without("teleport")
            .expect_err("no such capability");
        assert!(unknown.contains("`teleport`") && unknown.contains("copy_conditional"));
    }
}
