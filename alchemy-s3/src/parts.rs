//! Multipart uploads on S3: the upload id that carries the write's condition, and the reader
//! that cuts a body of unknown length into parts without holding more than one part.

use alchemy::bucket::{BucketError, BucketStore, PartInfo, PutMode, PutOptions, PutResult};
use alchemy_stream::{ByteStream, Bytes, StreamError};
use futures::StreamExt;

/// Separates S3's upload id from the condition in the id Alchemy hands out. S3 upload ids are
/// URL-safe base64 or UUIDs, so they never contain it.
const SEPARATOR: char = '~';

/// The upload id handed to callers: S3's id, plus the [`PutMode`] that
/// `CompleteMultipartUpload` must check (S3 only takes conditions there, not when the upload
/// is created).
///
/// Keeping the condition in the id keeps the store stateless: any process holding the id can
/// complete the upload with the right condition.
pub fn encode_upload_id(s3_id: &str, mode: &PutMode) -> String {
    match mode {
        PutMode::Overwrite => s3_id.to_owned(),
        PutMode::Create => format!("{s3_id}{SEPARATOR}create"),
        PutMode::Update(etag) => {
            let hex: String = etag.bytes().map(|b| format!("{b:02x}")).collect();
            format!("{s3_id}{SEPARATOR}update{SEPARATOR}{hex}")
        }
    }
}

/// S3's upload id and the condition, from an id [`encode_upload_id`] made. An id that was not
/// made here is taken as S3's own, with no condition (S3 then says whether it knows it).
pub fn decode_upload_id(id: &str) -> (&str, PutMode) {
    let Some((s3_id, condition)) = id.split_once(SEPARATOR) else {
        return (id, PutMode::Overwrite);
    };
    if condition == "create" {
        return (s3_id, PutMode::Create);
    }
    let etag = condition
        .strip_prefix("update")
        .and_then(|rest| rest.strip_prefix(SEPARATOR))
        .and_then(decode_hex);
    match etag {
        Some(etag) => (s3_id, PutMode::Update(etag)),
        None => (id, PutMode::Overwrite),
    }
}

fn decode_hex(hex: &str) -> Option<String> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// Cuts a body into parts of `part_size` bytes (the last may be shorter) without copying:
/// a part is the body's own chunks, the one that straddles a boundary split between two parts.
pub struct PartReader {
    body: ByteStream,
    part_size: usize,
    /// A chunk's remainder that belongs to the next part.
    carry: Option<Bytes>,
    ended: bool,
}

/// One part of a body: its chunks and their total length.
pub struct Part {
    /// The chunks, in order.
    pub chunks: Vec<Bytes>,
    /// Their total length in bytes.
    pub len: usize,
}

impl Part {
    /// The part as a body of exact length.
    pub fn into_stream(self) -> ByteStream {
        let len = self.len as u64;
        ByteStream::from_stream(futures::stream::iter(
            self.chunks.into_iter().map(Ok::<_, StreamError>),
        ))
        .with_exact_len(len)
    }
}

impl PartReader {
    /// A reader of `body` in parts of `part_size` bytes.
    pub fn new(body: ByteStream, part_size: usize) -> Self {
        PartReader {
            body,
            part_size: part_size.max(1),
            carry: None,
            ended: false,
        }
    }

    /// The next part: `part_size` bytes, fewer at the end of the body, or `None` once the body
    /// is used up.
    pub async fn next_part(&mut self) -> Result<Option<Part>, StreamError> {
        let mut part = Part {
            chunks: Vec::new(),
            len: 0,
        };
        while part.len < self.part_size {
            let chunk = match self.carry.take() {
                Some(chunk) => chunk,
                None if self.ended => break,
                None => match self.body.next().await {
                    Some(chunk) => chunk?,
                    None => {
                        self.ended = true;
                        break;
                    }
                },
            };
            let room = self.part_size - part.len;
            let mut chunk = chunk;
            if chunk.len() > room {
                self.carry = Some(chunk.split_off(room));
            }
            part.len += chunk.len();
            part.chunks.push(chunk);
        }
        Ok((part.len > 0).then_some(part))
    }

    /// Whether the body is used up: nothing is left to read after the parts handed out.
    pub async fn is_done(&mut self) -> Result<bool, StreamError> {
        if self.carry.is_some() {
            return Ok(false);
        }
        if self.ended {
            return Ok(true);
        }
        match self.body.next().await {
            Some(chunk) => {
                self.carry = Some(chunk?);
                Ok(false)
            }
            None => {
                self.ended = true;
                Ok(true)
            }
        }
    }
}

/// Checks the parts listed to complete an upload of `key` before S3 sees them: at least one,
/// in ascending order of part number, each but the last at least `min_part_size` bytes.
pub fn check_parts(key: &str, parts: &[PartInfo], min_part_size: u64) -> Result<(), BucketError> {
    let invalid = |part_number, reason: String| BucketError::InvalidPart {
        key: key.to_owned(),
        part_number,
        reason,
    };
    if parts.is_empty() {
        return Err(invalid(0, "an upload needs at least one part".into()));
    }
    for pair in parts.windows(2) {
        if pair[1].part_number <= pair[0].part_number {
            return Err(invalid(
                pair[1].part_number,
                format!(
                    "it follows part {}: list parts in ascending order of part number, each once",
                    pair[0].part_number
                ),
            ));
        }
        if pair[0].size < min_part_size {
            return Err(invalid(
                pair[0].part_number,
                format!(
                    "it holds {} bytes; every part but the last needs at least {min_part_size} \
                     bytes",
                    pair[0].size
                ),
            ));
        }
    }
    Ok(())
}

/// The body of part `part_number` of an upload of `key`, ready for `UploadPart`: the part
/// number checked (S3 takes 1 to 10 000), and a body of unknown length collected first, up to
/// S3's largest part, since `UploadPart` needs the length up front.
pub async fn sized_part(
    key: &str,
    part_number: u32,
    body: ByteStream,
) -> Result<ByteStream, BucketError> {
    if !(1..=crate::MAX_PARTS).contains(&part_number) {
        return Err(BucketError::InvalidPart {
            key: key.to_owned(),
            part_number,
            reason: format!("S3 part numbers run from 1 to {}", crate::MAX_PARTS),
        });
    }
    Ok(match body.len() {
        Some(_) => body,
        None => ByteStream::from(
            body.collect(usize::try_from(crate::MAX_PUT_SIZE).unwrap_or(usize::MAX))
                .await?,
        ),
    })
}

/// Writes a body of unknown length to `key` in `store` as a multipart upload: `first`, then
/// every part `reader` cuts, `part_size` bytes each (one in memory at a time), at most S3's
/// 10 000; the upload is aborted if anything fails, and the first error is the one reported.
pub async fn upload_in_parts<S: BucketStore + ?Sized>(
    store: &S,
    key: &str,
    first: Part,
    mut reader: PartReader,
    options: PutOptions,
    part_size: usize,
) -> Result<PutResult, BucketError> {
    let upload_id = store.create_multipart(key, options).await?;
    let uploaded = async {
        let mut parts = Vec::new();
        let mut next = Some(first);
        while let Some(part) = next {
            let number = u32::try_from(parts.len() + 1).unwrap_or(u32::MAX);
            if number > crate::MAX_PARTS {
                return Err(BucketError::TooLarge {
                    limit: u64::from(crate::MAX_PARTS) * part_size as u64,
                });
            }
            parts.push(
                store
                    .put_part(key, &upload_id, number, part.into_stream())
                    .await?,
            );
            next = reader.next_part().await?;
        }
        Ok(parts)
    }
    .await;
    let completed = match uploaded {
        Ok(parts) => store.complete_multipart(key, &upload_id, parts).await,
        Err(error) => Err(error),
    };
    if completed.is_err() {
        // The upload's parts would be billed until a lifecycle rule removes them. The first
        // error is the one to report, so a failed abort is not.
        let _ = store.abort_multipart(key, &upload_id).await;
    }
    completed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_carry_the_condition() {
        for mode in [
            PutMode::Overwrite,
            PutMode::Create,
            PutMode::Update("\"5d41402abc4b2a76b9719d911017c592\"".into()),
            PutMode::Update("\"abc-3\"".into()),
        ] {
            let id = encode_upload_id("VXBsb2FkIElE.ZWxldmVu_-", &mode);
            assert_eq!(decode_upload_id(&id), ("VXBsb2FkIElE.ZWxldmVu_-", mode));
        }
        assert_eq!(
            decode_upload_id("no-such-upload"),
            ("no-such-upload", PutMode::Overwrite)
        );
        assert_eq!(
            decode_upload_id("id~update~zz"),
            ("id~update~zz", PutMode::Overwrite)
        );
    }

    #[tokio::test]
    async fn parts_split_chunks_without_copying() {
        let data: Vec<u8> = (0..=255u8).cycle().take(2500).collect();
        let chunks: Vec<Result<Bytes, StreamError>> = data
            .chunks(700)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        let mut reader =
            PartReader::new(ByteStream::from_stream(futures::stream::iter(chunks)), 1000);
        let mut sizes = Vec::new();
        let mut joined = Vec::new();
        while let Some(part) = reader.next_part().await.expect("part") {
            sizes.push(part.len);
            let bytes = part
                .into_stream()
                .collect(usize::MAX)
                .await
                .expect("collect");
            joined.extend_from_slice(&bytes);
        }
        assert_eq!(sizes, [1000, 1000, 500]);
        assert_eq!(joined, data);
        assert!(reader.is_done().await.expect("done"));
    }

    #[tokio::test]
    async fn a_body_of_exactly_one_part_is_done_after_it() {
        let mut reader = PartReader::new(ByteStream::from(vec![7u8; 1000]), 1000);
        assert_eq!(
            reader.next_part().await.expect("part").map(|p| p.len),
            Some(1000)
        );
        assert!(reader.is_done().await.expect("done"));
        assert!(reader.next_part().await.expect("end").is_none());
    }

    #[test]
    fn listed_parts_are_checked_before_s3_sees_them() {
        let part = |part_number, size| PartInfo {
            part_number,
            etag: format!("\"{part_number}\""),
            size,
        };
        let failed_part = |parts: &[PartInfo]| match check_parts("k", parts, 5) {
            Err(BucketError::InvalidPart { part_number, .. }) => Some(part_number),
            Err(other) => panic!("not InvalidPart: {other}"),
            Ok(()) => None,
        };
        assert_eq!(failed_part(&[]), Some(0));
        assert_eq!(failed_part(&[part(1, 5), part(2, 1)]), None);
        assert_eq!(failed_part(&[part(2, 5), part(2, 5)]), Some(2));
        assert_eq!(failed_part(&[part(1, 4), part(2, 5)]), Some(1));
    }
}
