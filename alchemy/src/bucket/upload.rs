//! [`UploadOptions`] and the multipart driver behind
//! [`BucketClient::upload`](super::BucketClient::upload).

use alchemy_stream::{ByteStream, Bytes};
use futures::stream::{self, Stream, StreamExt, TryStreamExt};

use super::{BucketError, BucketStore, PartInfo, PutOptions, PutResult, Result};

/// How [`BucketClient::upload_with`](super::BucketClient::upload_with) splits and sends a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOptions {
    /// The size of every part but the last, in bytes. It must lie within the provider's
    /// [`min_part_size`](super::Capabilities::min_part_size) and
    /// [`max_part_size`](super::Capabilities::max_part_size). Default: 8 MiB.
    pub part_size: usize,
    /// How many parts are written at once (at least 1). Default: 2.
    pub concurrency: usize,
    /// The mode, content type and metadata of the object.
    pub put: PutOptions,
}

impl UploadOptions {
    /// The default part size: 8 MiB.
    pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: Self::DEFAULT_PART_SIZE,
            concurrency: 2,
            put: PutOptions::default(),
        }
    }
}

/// Uploads `body` to `key`, in one put or in parts, holding at most
/// `part_size × (concurrency + 1)` bytes of it.
pub(super) async fn upload(
    store: &dyn BucketStore,
    key: &str,
    body: ByteStream,
    options: UploadOptions,
) -> Result<PutResult> {
    let UploadOptions {
        part_size,
        concurrency,
        put,
    } = options;
    let capabilities = store.capabilities();
    if !capabilities.multipart {
        return store.put(key, body, put).await;
    }
    let part_size_u64 = part_size as u64;
    let invalid_size = |reason: String| BucketError::InvalidPart {
        key: key.to_owned(),
        part_number: 1,
        reason,
    };
    if part_size == 0 || part_size_u64 < capabilities.min_part_size {
        return Err(invalid_size(format!(
            "a part size of {part_size} bytes is below the {} minimum of {} bytes; raise `part_size`",
            store.provider(),
            capabilities.min_part_size.max(1),
        )));
    }
    if let Some(max) = capabilities
        .max_part_size
        .filter(|&max| part_size_u64 > max)
    {
        return Err(invalid_size(format!(
            "a part size of {part_size} bytes is above the {} maximum of {max} bytes; lower `part_size`",
            store.provider(),
        )));
    }
    let max_parts = capabilities.max_parts.unwrap_or(u32::MAX);
    let limit = part_size_u64.saturating_mul(u64::from(max_parts));
    match body.len() {
        Some(len) if len <= part_size_u64 => return store.put(key, body, put).await,
        Some(len) if len > limit => return Err(BucketError::TooLarge { limit }),
        _ => {}
    }

    let mut parts = Box::pin(split_into_parts(body, part_size));
    let Some(first) = parts.try_next().await? else {
        return store.put(key, ByteStream::empty(), put).await;
    };
    let Some(second) = parts.try_next().await? else {
        return store.put(key, first.into_stream(), put).await;
    };

    let upload_id = store.create_multipart(key, put).await?;
    let parts = stream::iter([Ok(first), Ok(second)]).chain(parts);
    let written = put_parts(store, key, &upload_id, parts, concurrency, max_parts, limit).await;
    let completed = match written {
        Ok(infos) => store.complete_multipart(key, &upload_id, infos).await,
        Err(error) => Err(error),
    };
    if completed.is_err() {
        // The upload's own error says what went wrong; a failed abort adds nothing to it.
        let _ = store.abort_multipart(key, &upload_id).await;
    }
    completed
}

/// Writes the parts, `concurrency` at a time, and returns them in order.
async fn put_parts(
    store: &dyn BucketStore,
    key: &str,
    upload_id: &str,
    parts: impl Stream<Item = Result<Part>>,
    concurrency: usize,
    max_parts: u32,
    limit: u64,
) -> Result<Vec<PartInfo>> {
    parts
        .enumerate()
        .map(|(index, part)| async move {
            let part = part?;
            let number = u32::try_from(index + 1)
                .ok()
                .filter(|&number| number <= max_parts)
                .ok_or(BucketError::TooLarge { limit })?;
            store
                .put_part(key, upload_id, number, part.into_stream())
                .await
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// One part's bytes, in the chunks they arrived in.
#[derive(Debug, Default)]
struct Part {
    chunks: Vec<Bytes>,
}

impl Part {
    fn into_stream(self) -> ByteStream {
        ByteStream::from_chunks(self.chunks)
    }
}

/// Cuts `body` into parts of exactly `part_size` bytes (the last may be shorter), reading
/// one part ahead at most.
fn split_into_parts(body: ByteStream, part_size: usize) -> impl Stream<Item = Result<Part>> {
    stream::try_unfold(
        (body, Bytes::new(), false),
        move |(mut body, mut leftover, mut ended)| async move {
            let mut part = Part::default();
            let mut len = 0;
            while len < part_size {
                if leftover.is_empty() {
                    if ended {
                        break;
                    }
                    match body.try_next().await? {
                        Some(chunk) => leftover = chunk,
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                let take = leftover.len().min(part_size - len);
                part.chunks.push(leftover.split_to(take));
                len += take;
            }
            Ok((len > 0).then_some((part, (body, leftover, ended))))
        },
    )
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn part_lens(body: ByteStream, part_size: usize) -> Vec<usize> {
        block_on(
            split_into_parts(body, part_size)
                .map_ok(|part| part.chunks.iter().map(Bytes::len).sum::<usize>())
                .try_collect(),
        )
        .unwrap()
    }

    #[test]
    fn parts_have_the_part_size_except_the_last() {
        let body = ByteStream::from_chunks([vec![1u8; 7], vec![2; 3], vec![3; 11]]);
        assert_eq!(part_lens(body, 5), [5, 5, 5, 5, 1]);
        assert_eq!(part_lens(ByteStream::from(vec![0u8; 10]), 5), [5, 5]);
        assert_eq!(part_lens(ByteStream::from(vec![0u8; 4]), 5), [4]);
        assert!(part_lens(ByteStream::empty(), 5).is_empty());
    }

    #[test]
    fn parts_keep_the_bytes_in_order() {
        let data: Vec<u8> = (0..=255).collect();
        let body = ByteStream::from_chunks(data.chunks(7).map(<[u8]>::to_vec));
        let parts: Vec<Part> =
            block_on(split_into_parts(body, 10).try_collect::<Vec<_>>()).unwrap();
        let joined: Vec<u8> = parts
            .into_iter()
            .flat_map(|part| part.chunks)
            .flat_map(|chunk| chunk.to_vec())
            .collect();
        assert_eq!(joined, data);
    }
}
