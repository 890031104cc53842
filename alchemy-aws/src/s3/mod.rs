//! S3 as a neutral bucket: [`S3Bucket`] implements [`BucketStore`] over `aws-sdk-s3`.
//!
//! ```no_run
//! # async fn example() -> alchemy::bucket::Result<()> {
//! use alchemy::bucket::BucketClient;
//! use alchemy_aws::s3::S3Bucket;
//!
//! // Credentials, region and `AWS_ENDPOINT_URL` from the standard chain.
//! let photos = BucketClient::new(S3Bucket::from_env("my-photos").await);
//! photos.put_if_absent("cat.txt", "meow").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Bodies and memory
//!
//! - A body of known length goes up in one `PutObject` as it is read (a body that is one chunk
//!   in memory goes up as an in-memory body, which the SDK can send again when it retries).
//! - A body of unknown length, which `PutObject` cannot take, goes up in one `PutObject` when
//!   it fits in one part and as a multipart upload otherwise: one part
//!   ([`S3Bucket::with_part_size`], 8 MiB by default) in memory at a time, the upload aborted
//!   if anything fails.
//! - A get hands out the response body as it arrives, with its exact length.
//!
//! # Errors and conditions
//!
//! `PutMode::Create` sends `If-None-Match: *` and `PutMode::Update` sends `If-Match`, on
//! `PutObject`, `CopyObject` and `CompleteMultipartUpload` (a multipart upload's condition
//! travels in the upload id). S3's answers become the neutral [`BucketError`] variants:
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
//! | 429, 5xx, `SlowDown`, timeouts, failed connections | any | `Backend`, retryable |
//!
//! A body that fails while it is sent is reported as [`BucketError::Stream`] with its own
//! error, not as the failed request it caused.

mod body;
mod error;
mod wire;

use std::collections::BTreeMap;

use alchemy::bucket::{
    validate_key, validate_metadata, BucketError, BucketStore, ByteRange, Capabilities, GetOptions,
    GetResult, ListOptions, ListPage, ObjectMeta, PartInfo, PutMode, PutOptions, PutResult, Result,
};
use alchemy_stream::{ByteStream, StreamError};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, EncodingType};
use aws_sdk_s3::Client;

use self::body::{from_sdk, to_sdk_sized, BodyErrors};
use self::error::{complete_error, sdk_failure, write_error};
use self::wire::{millis, required_etag, sdk_metadata};
use alchemy_s3::parts::{
    check_parts, decode_upload_id, encode_upload_id, sized_part, upload_in_parts, PartReader,
};
use alchemy_s3::wire::{copy_source, decode_listed, is_empty_range, parse_content_range};

/// The provider's name in errors and reports.
pub(crate) const PROVIDER: &str = alchemy_s3::PROVIDER;

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

/// One S3 bucket as a [`BucketStore`]: wrap it in a
/// [`BucketClient`](alchemy::bucket::BucketClient) to use it.
///
/// The store holds no state of its own beyond the SDK client (cheap to clone and share): a
/// multipart upload id it hands out carries the upload's write condition, so another process
/// can complete the upload.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
    part_size: usize,
    capabilities: Capabilities,
}

impl S3Bucket {
    /// The bucket `bucket`, reached through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Bucket {
            client,
            bucket: bucket.into(),
            part_size: DEFAULT_PART_SIZE,
            capabilities: Self::s3_capabilities(),
        }
    }

    /// The bucket `bucket`, with credentials, region and endpoint from the standard AWS chain
    /// (environment, profile files, container and instance metadata); `AWS_ENDPOINT_URL`
    /// points it at an S3-compatible endpoint.
    ///
    /// Requests use path-style addressing when an endpoint is configured (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_S3` or `endpoint_url` in the profile), as emulators and S3-compatible
    /// stores expect; virtual-hosted style otherwise, as AWS recommends.
    pub async fn from_env(bucket: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let s3_endpoint =
            std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|url| !url.is_empty());
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(config.endpoint_url().is_some() || s3_endpoint)
            .build();
        Self::new(Client::from_conf(s3_config), bucket)
    }

    /// The bucket `bucket`, with the client made from `config`. When `config` overrides the
    /// endpoint (an emulator, an S3-compatible store), requests use path-style addressing
    /// (`http://endpoint/bucket/key`), which such endpoints expect.
    pub fn from_sdk_config(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let path_style = config.endpoint_url().is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Self::new(Client::from_conf(s3_config), bucket)
    }

    /// Uses parts of `part_size` bytes (at least 5 MiB, S3's minimum) for bodies of unknown
    /// length; this is the memory one such upload holds. The default is 8 MiB.
    pub fn with_part_size(mut self, part_size: usize) -> Self {
        let min = usize::try_from(MIN_PART_SIZE).unwrap_or(usize::MAX);
        self.part_size = part_size.max(min);
        self
    }

    /// Declares what the endpoint supports, for S3-compatible stores that lack some of S3's
    /// features (conditional writes, say). Operations and options that `capabilities` leaves
    /// out are refused with [`BucketError::NotSupported`], never sent and silently ignored.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// What S3 itself supports: every flag of [`Capabilities`], parts of 5 MiB to 5 GiB, at
    /// most 10 000 of them, single writes up to 5 GiB and objects up to 5 TiB. This is what a
    /// new `S3Bucket` declares; see [`with_capabilities`](Self::with_capabilities) for
    /// endpoints that offer less.
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

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client, for what the neutral API does not cover.
    pub fn client(&self) -> &Client {
        &self.client
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
        len: u64,
        options: PutOptions,
    ) -> Result<PutResult> {
        let (body, errors) = to_sdk_sized(body, len).await?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .set_content_type(options.content_type)
            .set_metadata(sdk_metadata(options.metadata));
        let (if_none_match, if_match) = preconditions(&options.mode);
        let request = request
            .set_if_none_match(if_none_match)
            .set_if_match(if_match);
        match request.send().await {
            Ok(output) => Ok(PutResult {
                etag: required_etag(output.e_tag, key)?,
                version: output.version_id,
            }),
            Err(error) => Err(body_error(&errors)
                .unwrap_or_else(|| write_error(sdk_failure(error), key, &options.mode))),
        }
    }

    /// A body of unknown length: one `PutObject` when it fits in one part, else a multipart
    /// upload, one part in memory at a time, aborted if anything fails. On an endpoint
    /// declared without multipart uploads, the body is read into memory (up to
    /// `max_put_size`) and sent in one `PutObject`.
    async fn put_unsized(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        if !self.capabilities.multipart {
            // Without multipart uploads the only way to give PutObject its length is to read
            // the whole body first.
            let limit = self.capabilities.max_put_size.unwrap_or(MAX_PUT_SIZE);
            let data = body
                .collect(usize::try_from(limit).unwrap_or(usize::MAX))
                .await
                .map_err(|error| match error {
                    StreamError::TooLarge { limit } => BucketError::TooLarge { limit },
                    other => BucketError::Stream(other),
                })?;
            let len = data.len() as u64;
            return self
                .put_object(key, ByteStream::from(data), len, options)
                .await;
        }
        let mut reader = PartReader::new(body, self.part_size);
        let first = reader.next_part().await?;
        let Some(first) = first else {
            return self.put_object(key, ByteStream::empty(), 0, options).await;
        };
        if reader.is_done().await? {
            let len = first.len as u64;
            return self
                .put_object(key, first.into_stream(), len, options)
                .await;
        }
        upload_in_parts(self, key, first, reader, options, self.part_size).await
    }
}

/// The conditional-write headers a put in `mode` sends: `If-None-Match: *` to create only,
/// `If-Match: <etag>` to update only, neither to overwrite.
fn preconditions(mode: &PutMode) -> (Option<String>, Option<String>) {
    match mode {
        PutMode::Overwrite => (None, None),
        PutMode::Create => (Some("*".to_owned()), None),
        PutMode::Update(etag) => (None, Some(etag.clone())),
    }
}

/// The error for an upload id S3 does not know (completed, aborted or never started).
fn no_such_upload(key: &str, upload_id: &str) -> BucketError {
    BucketError::NoSuchUpload {
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
    }
}

/// The error of a request body that failed, which is the reason the request failed.
fn body_error(errors: &BodyErrors) -> Option<BucketError> {
    errors.take().map(BucketError::Stream)
}

#[async_trait::async_trait]
impl BucketStore for S3Bucket {
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
        let sent = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(options.range.map(|range| range.to_string()))
            .set_if_match(options.if_match.clone())
            .set_if_none_match(options.if_none_match.clone())
            .send()
            .await;
        let output = match sent {
            Ok(output) => output,
            Err(error) => {
                let failure = sdk_failure(error);
                return Err(if failure.is_not_found() {
                    BucketError::not_found(key)
                } else if failure.is(416, &["InvalidRange"]) {
                    match options.range {
                        Some(range) => self.invalid_range(key, range).await,
                        None => failure.backend(format_args!("reading `{key}`")),
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
                    failure.backend(format_args!("reading `{key}`"))
                });
            }
        };
        let len = output
            .content_length
            .and_then(|len| u64::try_from(len).ok())
            .ok_or_else(|| {
                BucketError::backend(
                    PROVIDER,
                    format!("reading `{key}`: the answer had no Content-Length"),
                )
            })?;
        let (range, size) = match output.content_range.as_deref() {
            Some(content_range) => parse_content_range(content_range).ok_or_else(|| {
                BucketError::backend(
                    PROVIDER,
                    format!("reading `{key}`: cannot read the Content-Range `{content_range}`"),
                )
            })?,
            None => (0..len, len),
        };
        if let (Some(asked), None) = (options.range, output.content_range.as_deref()) {
            // S3 sends a whole object without Content-Range when the range covers it all, or
            // (some S3-compatible stores) for ranges of an empty object.
            if asked.resolve(key, size)? != (0..size) {
                return Err(BucketError::backend(
                    PROVIDER,
                    format!("reading {asked} of `{key}`: the endpoint ignored the range"),
                ));
            }
        }
        let meta = ObjectMeta {
            key: key.to_owned(),
            size,
            etag: output.e_tag.unwrap_or_default(),
            last_modified: millis(output.last_modified),
            content_type: output.content_type,
            metadata: output.metadata.unwrap_or_default().into_iter().collect(),
        };
        Ok(GetResult {
            meta,
            range,
            body: from_sdk(output.body, len),
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| {
                let failure = sdk_failure(error);
                if failure.is_not_found() {
                    BucketError::not_found(key)
                } else {
                    failure.backend(format_args!("reading the metadata of `{key}`"))
                }
            })?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: output
                .content_length
                .and_then(|len| u64::try_from(len).ok())
                .unwrap_or(0),
            etag: output.e_tag.unwrap_or_default(),
            last_modified: millis(output.last_modified),
            content_type: output.content_type,
            metadata: output.metadata.unwrap_or_default().into_iter().collect(),
        })
    }

    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        self.require_mode(&options.mode)?;
        match body.len() {
            Some(len) if len <= MAX_PUT_SIZE => self.put_object(key, body, len, options).await,
            _ => self.put_unsized(key, body, options).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = sdk_failure(error);
                if failure.is(404, &["NoSuchKey"]) {
                    Ok(())
                } else {
                    Err(failure.backend(format_args!("deleting `{key}`")))
                }
            }
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
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(options.prefix.clone())
            .set_delimiter(options.delimiter)
            .set_start_after(start_after)
            .set_continuation_token(options.continuation)
            .max_keys(i32::try_from(max_keys).unwrap_or(1000))
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .map_err(|error| {
                sdk_failure(error).backend(format_args!(
                    "listing `{}`",
                    options.prefix.as_deref().unwrap_or("")
                ))
            })?;
        // Keys come back URL-encoded when the endpoint honours `encoding-type=url` (it says so
        // in the answer), as they are otherwise.
        let decode = |value: String| {
            if output.encoding_type == Some(EncodingType::Url) {
                decode_listed(&value)
            } else {
                value
            }
        };
        let objects = output
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|object| {
                Some(ObjectMeta {
                    key: decode(object.key?),
                    size: object
                        .size
                        .and_then(|size| u64::try_from(size).ok())
                        .unwrap_or(0),
                    etag: object.e_tag.unwrap_or_default(),
                    last_modified: millis(object.last_modified),
                    content_type: None,
                    metadata: BTreeMap::new(),
                })
            })
            .collect();
        let common_prefixes = output
            .common_prefixes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|prefix| prefix.prefix.map(decode))
            .collect();
        let next = if output.is_truncated.unwrap_or(false) {
            output.next_continuation_token
        } else {
            None
        };
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
        let request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(copy_source(&self.bucket, from));
        let (if_none_match, if_match) = preconditions(&mode);
        let request = request
            .set_if_none_match(if_none_match)
            .set_if_match(if_match);
        match request.send().await {
            Ok(output) => {
                let result = output.copy_object_result;
                Ok(PutResult {
                    etag: required_etag(result.and_then(|result| result.e_tag), to)?,
                    version: output.version_id,
                })
            }
            Err(error) => {
                let failure = sdk_failure(error);
                if !failure.is_not_found() {
                    return Err(write_error(failure, to, &mode));
                }
                // A 404 names no key: the source is missing, or (for `If-Match`) the target.
                if let PutMode::Update(etag) = &mode {
                    if self.head(from).await.is_ok() {
                        return Err(BucketError::Precondition {
                            key: to.to_owned(),
                            detail: format!(
                                "no object has the key, so the etag {etag} cannot match"
                            ),
                        });
                    }
                }
                Err(BucketError::not_found(from))
            }
        }
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
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_content_type(options.content_type)
            .set_metadata(sdk_metadata(options.metadata))
            .send()
            .await
            .map_err(|error| {
                sdk_failure(error).backend(format_args!("starting a multipart upload of `{key}`"))
            })?;
        let s3_id = output.upload_id.ok_or_else(|| {
            BucketError::backend(
                PROVIDER,
                format!("starting a multipart upload of `{key}`: the answer had no upload id"),
            )
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
        let (sdk_body, errors) = to_sdk_sized(body, size).await?;
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(s3_id)
            .part_number(i32::try_from(part_number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(sdk_body)
            .send()
            .await;
        match sent {
            Ok(output) => Ok(PartInfo {
                part_number,
                etag: required_etag(output.e_tag, key)?,
                size,
            }),
            Err(error) => Err(body_error(&errors).unwrap_or_else(|| {
                let failure = sdk_failure(error);
                if failure.is_no_such_upload() || failure.status == Some(404) {
                    no_such_upload(key, upload_id)
                } else {
                    failure.backend(format_args!("writing part {part_number} of `{key}`"))
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
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(part.part_number).unwrap_or(i32::MAX))
                            .e_tag(&part.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(s3_id)
            .multipart_upload(completed);
        let (if_none_match, if_match) = preconditions(&mode);
        let request = request
            .set_if_none_match(if_none_match)
            .set_if_match(if_match);
        match request.send().await {
            Ok(output) => Ok(PutResult {
                etag: required_etag(output.e_tag, key)?,
                version: output.version_id,
            }),
            Err(error) => {
                let failure = sdk_failure(error);
                Err(complete_error(failure, key, upload_id, &parts, &mode))
            }
        }
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        validate_key(key)?;
        self.require(self.capabilities.multipart, "multipart uploads")?;
        let (s3_id, _) = decode_upload_id(upload_id);
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(s3_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let failure = sdk_failure(error);
                if failure.is_no_such_upload() || failure.status == Some(404) {
                    Ok(())
                } else {
                    Err(failure.backend(format_args!("aborting the upload of `{key}`")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket whose client points at a port nothing listens on: any request would fail
    /// with a backend error, so a `NotSupported` proves the call was refused before I/O.
    fn unreachable_bucket(capabilities: Capabilities) -> S3Bucket {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        S3Bucket::from_sdk_config(&config, "b").with_capabilities(capabilities)
    }

    #[tokio::test]
    async fn undeclared_options_are_refused_not_ignored() {
        let mut capabilities = S3Bucket::s3_capabilities();
        capabilities.copy_conditional = false;
        capabilities.put_update = false;
        capabilities.range = false;
        let bucket = unreachable_bucket(capabilities);
        fn refused<T>(result: Result<T>) -> bool {
            matches!(
                result,
                Err(BucketError::NotSupported { provider: "s3", .. })
            )
        }
        assert!(refused(bucket.copy("a", "b", PutMode::Create).await));
        assert!(refused(
            bucket
                .put(
                    "a",
                    ByteStream::from("x"),
                    PutMode::Update("\"e\"".into()).into()
                )
                .await
        ));
        let ranged = GetOptions {
            range: Some((0..1).into()),
            ..GetOptions::default()
        };
        assert!(refused(bucket.get("a", ranged).await));
    }

    #[tokio::test]
    async fn keys_and_part_numbers_are_checked_before_any_request() {
        let bucket = unreachable_bucket(S3Bucket::s3_capabilities());
        assert!(matches!(
            bucket.head("../up").await,
            Err(BucketError::InvalidKey { .. })
        ));
        assert!(matches!(
            bucket
                .put_part("k", "id", 10_001, ByteStream::from("x"))
                .await,
            Err(BucketError::InvalidPart {
                part_number: 10_001,
                ..
            })
        ));
        let part = |part_number, size| PartInfo {
            part_number,
            etag: "\"e\"".into(),
            size,
        };
        assert!(matches!(
            bucket
                .complete_multipart("k", "id", vec![part(1, 10), part(2, 10)])
                .await,
            Err(BucketError::InvalidPart { part_number: 1, .. })
        ));
        assert!(matches!(
            bucket
                .complete_multipart("k", "id", vec![part(2, MIN_PART_SIZE), part(1, 10)])
                .await,
            Err(BucketError::InvalidPart { part_number: 1, .. })
        ));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_retryable_backend_error() {
        let bucket = unreachable_bucket(S3Bucket::s3_capabilities());
        let error = bucket.head("k").await.expect_err("nothing listens");
        assert!(
            matches!(
                error,
                BucketError::Backend {
                    provider: "s3",
                    retryable: true,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("reading the metadata of `k`"),
            "{error}"
        );
    }
}
