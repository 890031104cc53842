//! [`R2Bucket`]: an R2 bucket binding as the neutral [`BucketStore`].
//!
//! | R2 | neutral |
//! |---|---|
//! | `put` with `onlyIf` that answers `null` | `AlreadyExists` (create) or `Precondition` (update) |
//! | a ranged or conditional read | a `head` first, then the read pinned to that etag |
//! | error 10024 (`NoSuchUpload`) | `NoSuchUpload` |
//! | errors 10025 (`InvalidPart`) and 10011 (`EntityTooSmall`) | `InvalidPart` |
//! | anything else | `Backend`, naming the operation and the key |
//!
//! Bodies stream across the JS boundary. R2 needs the length of a streamed body up front, so
//! a body of known length (a request's `Content-Length`, [`ByteStream::with_exact_len`])
//! streams through a `FixedLengthStream`; a body of unknown length is collected first, up to
//! [`UNKNOWN_LENGTH_LIMIT`] (for larger ones, give the length or use `BucketClient::upload`).

mod errors;

use std::collections::{BTreeMap, HashMap};

use alchemy::bucket::{
    validate_key, validate_metadata, BucketError, BucketStore, ByteRange, Capabilities, GetOptions,
    GetResult, ListOptions, ListPage, ObjectMeta, PartInfo, PutMode, PutOptions, PutResult, Result,
};
use alchemy_stream::{ByteStream, StreamError};
use worker::{Conditional, Data, FixedLengthStream, HttpMetadata, Include, Object, Range};

use crate::js::{self, BodyFailure};
use errors::{r2_error, unquote};

/// The provider name in messages.
const PROVIDER: &str = "r2";

/// The largest body of unknown length that a `put` collects before sending it.
pub const UNKNOWN_LENGTH_LIMIT: u64 = 32 * 1024 * 1024;

/// An R2 bucket, reached through its binding, as a neutral [`BucketStore`].
///
/// Wrap it in a [`BucketClient`](alchemy::bucket::BucketClient) to use it; services get one
/// from `Init::bind` when they run on Cloudflare.
#[derive(Debug, Clone)]
pub struct R2Bucket {
    bucket: worker::Bucket,
    binding: String,
}

impl R2Bucket {
    /// The bucket bound under `binding` in the Worker's environment.
    pub fn from_env(env: &worker::Env, binding: &str) -> Result<Self> {
        let bucket = env.bucket(binding).map_err(|error| {
            BucketError::backend(
                PROVIDER,
                format!(
                    "the Worker has no R2 binding `{binding}` ({error}): \
                     add an `r2_buckets` entry with that binding to its configuration"
                ),
            )
        })?;
        Ok(Self::new(bucket, binding))
    }

    /// A bucket over a binding the caller already holds.
    pub fn new(bucket: worker::Bucket, binding: &str) -> Self {
        R2Bucket {
            bucket,
            binding: binding.to_string(),
        }
    }

    /// The binding's name.
    pub fn binding(&self) -> &str {
        &self.binding
    }

    /// The data to send for `body`, and where its failure is recorded.
    async fn data(&self, body: ByteStream) -> Result<(Data, BodyFailure)> {
        let failure = BodyFailure::default();
        let data = match body.len() {
            Some(0) => Data::Empty,
            Some(len) => {
                let failure = failure.clone();
                let chunks = js::byte_chunks(body, failure);
                Data::Stream(FixedLengthStream::wrap(chunks, len))
            }
            None => {
                let limit = UNKNOWN_LENGTH_LIMIT as usize;
                let bytes = body.collect(limit).await.map_err(|error| match error {
                    StreamError::TooLarge { limit } => BucketError::TooLarge { limit },
                    other => BucketError::Stream(other),
                })?;
                Data::Bytes(bytes.to_vec())
            }
        };
        Ok((data, failure))
    }

    /// Reads `key`'s metadata, or `None` when there is no such object.
    async fn head_object(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let object = self
            .bucket
            .head(key)
            .await
            .map_err(|error| r2_error("head", key, error))?;
        object.map(|object| meta(&object)).transpose()
    }
}

/// The neutral metadata of an R2 object.
fn meta(object: &Object) -> Result<ObjectMeta> {
    let metadata = object
        .custom_metadata()
        .map_err(|error| r2_error("reading metadata of", &object.key(), error))?;
    Ok(ObjectMeta {
        key: object.key(),
        size: object.size(),
        etag: object.etag(),
        last_modified: object.uploaded().as_millis(),
        content_type: object.http_metadata().content_type,
        metadata: metadata.into_iter().collect(),
    })
}

/// The R2 range of a resolved byte range.
fn r2_range(range: &std::ops::Range<u64>) -> Range {
    Range::OffsetWithLength {
        offset: range.start,
        length: range.end - range.start,
    }
}

/// The R2 condition of a write mode.
fn put_condition(mode: &PutMode) -> Option<Conditional> {
    match mode {
        PutMode::Overwrite => None,
        PutMode::Create => Some(Conditional {
            etag_does_not_match: Some("*".to_string()),
            ..Conditional::default()
        }),
        PutMode::Update(etag) => Some(Conditional {
            etag_matches: Some(unquote(etag).to_string()),
            ..Conditional::default()
        }),
    }
}

/// The error of a write whose condition did not hold.
fn condition_failed(key: &str, mode: &PutMode) -> BucketError {
    match mode {
        PutMode::Create => BucketError::AlreadyExists {
            key: key.to_string(),
        },
        PutMode::Update(etag) => BucketError::Precondition {
            key: key.to_string(),
            detail: format!("its etag is no longer {etag}"),
        },
        PutMode::Overwrite => BucketError::Backend {
            provider: PROVIDER,
            message: format!("R2 refused an unconditional write of `{key}`"),
            retryable: true,
        },
    }
}

/// The HTTP metadata of a write.
fn http_metadata(content_type: Option<String>) -> HttpMetadata {
    HttpMetadata {
        content_type,
        ..HttpMetadata::default()
    }
}

/// The custom metadata of a write.
fn custom_metadata(metadata: BTreeMap<String, String>) -> HashMap<String, String> {
    metadata.into_iter().collect()
}

/// The part number R2 takes, or `InvalidPart` for one out of its range.
fn part_number(key: &str, number: u32, max: u32) -> Result<u16> {
    match u16::try_from(number) {
        Ok(n) if n >= 1 && u32::from(n) <= max => Ok(n),
        _ => Err(BucketError::InvalidPart {
            key: key.to_string(),
            part_number: number,
            reason: format!("part numbers go from 1 to {max}"),
        }),
    }
}

/// The most parts an R2 upload may have.
const MAX_PARTS: u32 = 10_000;

#[async_trait::async_trait(?Send)]
impl BucketStore for R2Bucket {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.put_create = true;
        capabilities.put_update = true;
        capabilities.get_conditional = true;
        capabilities.range = true;
        capabilities.multipart = true;
        capabilities.multipart_conditional = false;
        capabilities.copy = true;
        capabilities.copy_conditional = true;
        capabilities.list_delimiter = true;
        capabilities.list_start_after = true;
        capabilities.content_type = true;
        capabilities.user_metadata = true;
        capabilities.max_object_size = Some(5 * 1024 * 1024 * 1024 * 1024 - 5 * 1024 * 1024 * 1024);
        capabilities.max_put_size = Some(5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024);
        capabilities.min_part_size = 5 * 1024 * 1024;
        capabilities.max_part_size = Some(5 * 1024 * 1024 * 1024);
        capabilities.max_parts = Some(MAX_PARTS);
        capabilities
    }

    async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult> {
        validate_key(key)?;
        let simple = options.range.is_none()
            && options.if_match.is_none()
            && options.if_none_match.is_none();
        if simple {
            let object = self
                .bucket
                .get(key)
                .execute()
                .await
                .map_err(|error| r2_error("get", key, error))?
                .ok_or_else(|| BucketError::not_found(key))?;
            let meta = meta(&object)?;
            let body = object_body(&object, key, meta.size)?;
            return Ok(GetResult {
                range: 0..meta.size,
                meta,
                body,
            });
        }
        // Conditions and ranges are decided on the object's metadata; the read is then pinned
        // to that etag, and starts over if the object changed in between.
        loop {
            let head = self
                .head_object(key)
                .await?
                .ok_or_else(|| BucketError::not_found(key))?;
            if let Some(expected) = &options.if_match {
                if unquote(expected) != head.etag {
                    return Err(BucketError::Precondition {
                        key: key.to_string(),
                        detail: format!("its etag is {}, not {expected}", head.etag),
                    });
                }
            }
            if let Some(current) = &options.if_none_match {
                if unquote(current) == head.etag {
                    return Err(BucketError::NotModified {
                        key: key.to_string(),
                    });
                }
            }
            let range = options
                .range
                .unwrap_or(ByteRange::From(0))
                .resolve(key, head.size)
                .or_else(|error| match options.range {
                    // A whole read of an empty object is no range error.
                    None => Ok(0..0),
                    Some(_) => Err(error),
                })?;
            let mut request = self.bucket.get(key).only_if(Conditional {
                etag_matches: Some(head.etag.clone()),
                ..Conditional::default()
            });
            if range.end > range.start {
                request = request.range(r2_range(&range));
            }
            let Some(object) = request
                .execute()
                .await
                .map_err(|error| r2_error("get", key, error))?
            else {
                return Err(BucketError::not_found(key));
            };
            if object.body().is_none() {
                // The object changed between the head and the read: decide again.
                continue;
            }
            let body = object_body(&object, key, range.end - range.start)?;
            return Ok(GetResult {
                meta: meta(&object)?,
                range,
                body,
            });
        }
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        self.head_object(key)
            .await?
            .ok_or_else(|| BucketError::not_found(key))
    }

    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        let (data, failure) = self.data(body).await?;
        let mut request = self
            .bucket
            .put(key, data)
            .http_metadata(http_metadata(options.content_type))
            .custom_metadata(custom_metadata(options.metadata));
        if let Some(condition) = put_condition(&options.mode) {
            request = request.only_if(condition);
        }
        match request.execute().await {
            Ok(Some(object)) => Ok(PutResult {
                etag: object.etag(),
                version: Some(object.version()),
            }),
            Ok(None) => Err(condition_failed(key, &options.mode)),
            Err(error) => Err(match failure.take() {
                Some(body_error) => BucketError::Stream(body_error),
                None => r2_error("put", key, error),
            }),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.bucket
            .delete(key)
            .await
            .map_err(|error| r2_error("delete", key, error))
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        let mut request = self
            .bucket
            .list()
            .include(vec![Include::HttpMetadata, Include::CustomMetadata]);
        if let Some(prefix) = options.prefix.filter(|prefix| !prefix.is_empty()) {
            request = request.prefix(prefix);
        }
        if let Some(delimiter) = options.delimiter {
            request = request.delimiter(delimiter);
        }
        if let Some(start_after) = options.start_after {
            request = request.start_after(start_after);
        }
        if let Some(cursor) = options.continuation {
            request = request.cursor(cursor);
        }
        if let Some(max_keys) = options.max_keys {
            request = request.limit(max_keys.clamp(1, 1000));
        }
        let listed = request
            .execute()
            .await
            .map_err(|error| r2_error("list", "", error))?;
        let objects = listed
            .objects()
            .iter()
            .map(meta)
            .collect::<Result<Vec<_>>>()?;
        Ok(ListPage {
            objects,
            common_prefixes: listed.delimited_prefixes(),
            next: if listed.truncated() {
                listed.cursor()
            } else {
                None
            },
        })
    }

    async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        validate_key(from)?;
        validate_key(to)?;
        let source = self
            .bucket
            .get(from)
            .execute()
            .await
            .map_err(|error| r2_error("get", from, error))?
            .ok_or_else(|| BucketError::not_found(from))?;
        let meta = meta(&source)?;
        let body = object_body(&source, from, meta.size)?;
        self.put(
            to,
            body,
            PutOptions {
                mode,
                content_type: meta.content_type,
                metadata: meta.metadata,
            },
        )
        .await
    }

    async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        if options.mode != PutMode::Overwrite {
            return Err(BucketError::NotSupported {
                operation: "conditional multipart uploads",
                provider: PROVIDER,
            });
        }
        let upload = self
            .bucket
            .create_multipart_upload(key)
            .http_metadata(http_metadata(options.content_type))
            .custom_metadata(custom_metadata(options.metadata))
            .execute()
            .await
            .map_err(|error| r2_error("create_multipart", key, error))?;
        Ok(upload.upload_id().await)
    }

    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        validate_key(key)?;
        let number = self::part_number(key, part_number, MAX_PARTS)?;
        let upload = self
            .bucket
            .resume_multipart_upload(key, upload_id)
            .map_err(|error| r2_error("put_part", key, error))?;
        let known = body.len();
        let (data, failure) = self.data(body).await?;
        let size = match &data {
            Data::Bytes(bytes) => bytes.len() as u64,
            _ => known.unwrap_or(0),
        };
        let part =
            upload
                .upload_part(number, data)
                .await
                .map_err(|error| match failure.take() {
                    Some(body_error) => BucketError::Stream(body_error),
                    None => errors::multipart_error("put_part", key, upload_id, error),
                })?;
        Ok(PartInfo {
            part_number,
            etag: part.etag(),
            size,
        })
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        validate_key(key)?;
        for pair in parts.windows(2) {
            if pair[1].part_number <= pair[0].part_number {
                return Err(BucketError::InvalidPart {
                    key: key.to_string(),
                    part_number: pair[1].part_number,
                    reason: "parts must be given in ascending part number order".to_string(),
                });
            }
        }
        let uploaded = parts
            .iter()
            .map(|part| {
                Ok(worker::UploadedPart::new(
                    self::part_number(key, part.part_number, MAX_PARTS)?,
                    unquote(&part.etag).to_string(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let upload = self
            .bucket
            .resume_multipart_upload(key, upload_id)
            .map_err(|error| r2_error("complete_multipart", key, error))?;
        let object = upload.complete(uploaded).await.map_err(|error| {
            errors::multipart_error("complete_multipart", key, upload_id, error)
        })?;
        Ok(PutResult {
            etag: object.etag(),
            version: Some(object.version()),
        })
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        validate_key(key)?;
        let upload = self
            .bucket
            .resume_multipart_upload(key, upload_id)
            .map_err(|error| r2_error("abort_multipart", key, error))?;
        match upload.abort().await {
            Ok(()) => Ok(()),
            Err(error) => match errors::multipart_error("abort_multipart", key, upload_id, error) {
                // Aborting an upload that is gone already succeeds.
                BucketError::NoSuchUpload { .. } => Ok(()),
                other => Err(other),
            },
        }
    }
}

/// The body of an object that was read, of `len` bytes.
fn object_body(object: &Object, key: &str, len: u64) -> Result<ByteStream> {
    match object.body() {
        None => Ok(ByteStream::empty()),
        Some(body) => match body
            .response_body()
            .map_err(|error| r2_error("reading the body of", key, error))?
        {
            worker::ResponseBody::Stream(stream) => Ok(js::byte_stream(stream, Some(len))),
            worker::ResponseBody::Body(bytes) => Ok(ByteStream::from(bytes)),
            worker::ResponseBody::Empty => Ok(ByteStream::empty()),
        },
    }
}
