//! The file of one object: its bytes, then a trailer with its metadata.
//!
//! ```text
//! [contents][trailer: JSON][trailer length: u32, little endian][MAGIC]
//! ```
//!
//! Contents and metadata live in one file that is written in full to a temp file and renamed
//! into place, so they always agree: a reader that opened the file sees one version whole,
//! whatever is renamed over it meanwhile. The etag (an MD5 digest, as S3 computes it for a
//! single-part object) is computed while the body streams in, so nothing is buffered.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use alchemy_stream::ByteStream;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::bucket::{BucketError, ObjectMeta, Result};

/// The last bytes of every object file.
const MAGIC: &[u8; 8] = b"ALCHOBJ1";

/// The length of the fixed end of a file: the trailer length and the magic.
const FOOTER_LEN: u64 = 4 + MAGIC.len() as u64;

/// What an object file says about its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Trailer {
    /// The object's key (or, for a part, a description of it).
    pub(super) key: String,
    /// The length of the contents.
    pub(super) size: u64,
    /// The etag, quoted as S3 quotes it.
    pub(super) etag: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub(super) last_modified: u64,
    /// The content type given at write time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) content_type: Option<String>,
    /// The user metadata given at write time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) metadata: BTreeMap<String, String>,
}

impl Trailer {
    /// The neutral metadata of the object.
    pub(super) fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            key: self.key.clone(),
            size: self.size,
            etag: self.etag.clone(),
            last_modified: self.last_modified,
            content_type: self.content_type.clone(),
            metadata: self.metadata.clone(),
        }
    }

    /// The bytes that end an object file with this trailer.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("a trailer always serialises");
        let len = u32::try_from(bytes.len()).expect("a trailer is far below 4 GiB");
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(MAGIC);
        bytes
    }
}

/// What to store with an object besides its bytes.
#[derive(Debug, Clone)]
pub(super) struct Describe {
    pub(super) key: String,
    pub(super) content_type: Option<String>,
    pub(super) metadata: BTreeMap<String, String>,
}

/// The current time in milliseconds since the Unix epoch.
pub(super) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A quoted etag of an MD5 digest.
pub(super) fn quoted_etag(digest: impl std::fmt::LowerHex) -> String {
    format!("\"{digest:x}\"")
}

/// Whether two etags name the same version, ignoring quotes and a weak `W/` marker.
pub(super) fn same_etag(a: &str, b: &str) -> bool {
    fn bare(etag: &str) -> &str {
        let etag = etag.trim();
        let etag = etag.strip_prefix("W/").unwrap_or(etag);
        etag.trim_matches('"')
    }
    bare(a) == bare(b)
}

/// A [`BucketError::Backend`] for an I/O error on `path`.
pub(super) fn io_error(action: &str, path: &Path, error: io::Error) -> BucketError {
    BucketError::backend(
        "local",
        format!("could not {action} {}: {error}", path.display()),
    )
}

/// Streams `body` into a new file at `path`, then its trailer, and returns the trailer.
///
/// Fails with [`BucketError::TooLarge`] past `max_size` bytes and with
/// [`BucketError::Stream`] when the body fails; the caller removes the file on failure.
pub(super) async fn write(
    path: &Path,
    mut body: ByteStream,
    describe: Describe,
    max_size: Option<u64>,
    fsync: bool,
) -> Result<Trailer> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|error| io_error("create", path, error))?;
    let mut digest = md5::Context::new();
    let mut size = 0u64;
    while let Some(chunk) = body.try_next().await? {
        size += chunk.len() as u64;
        if let Some(limit) = max_size.filter(|&limit| size > limit) {
            return Err(BucketError::TooLarge { limit });
        }
        digest.consume(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|error| io_error("write", path, error))?;
    }
    let trailer = Trailer {
        key: describe.key,
        size,
        etag: quoted_etag(digest.compute()),
        last_modified: now_millis(),
        content_type: describe.content_type,
        metadata: describe.metadata,
    };
    finish(file, path, &trailer, fsync).await?;
    Ok(trailer)
}

/// Appends `trailer` to a file whose contents are written, and flushes it.
async fn finish(
    mut file: tokio::fs::File,
    path: &Path,
    trailer: &Trailer,
    fsync: bool,
) -> Result<()> {
    file.write_all(&trailer.encode())
        .await
        .map_err(|error| io_error("write", path, error))?;
    file.flush()
        .await
        .map_err(|error| io_error("write", path, error))?;
    if fsync {
        file.sync_all()
            .await
            .map_err(|error| io_error("sync", path, error))?;
    }
    Ok(())
}

/// Reads the trailer of an open object file, leaving the file's position unspecified.
///
/// Fails with [`io::ErrorKind::InvalidData`] when the file is not an object file.
pub(super) fn read_trailer(file: &mut File) -> io::Result<Trailer> {
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an object file: {what}"),
        )
    };
    let len = file.metadata()?.len();
    if len < FOOTER_LEN {
        return Err(invalid("too short"));
    }
    let mut footer = [0u8; FOOTER_LEN as usize];
    file.seek(SeekFrom::Start(len - FOOTER_LEN))?;
    file.read_exact(&mut footer)?;
    let (json_len, magic) = footer.split_at(4);
    if magic != MAGIC {
        return Err(invalid("no trailer"));
    }
    let json_len = u64::from(u32::from_le_bytes(json_len.try_into().expect("4 bytes")));
    let contents = len
        .checked_sub(FOOTER_LEN + json_len)
        .ok_or_else(|| invalid("trailer longer than the file"))?;
    let mut json = vec![0u8; json_len as usize];
    file.seek(SeekFrom::Start(contents))?;
    file.read_exact(&mut json)?;
    let trailer: Trailer =
        serde_json::from_slice(&json).map_err(|error| invalid(&error.to_string()))?;
    if trailer.size != contents {
        return Err(invalid("its size does not match its contents"));
    }
    Ok(trailer)
}

/// Opens the object file at `path` and reads its trailer, or `None` when there is none.
pub(super) fn open(path: &Path) -> Result<Option<(File, Trailer)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if is_missing(&error) => return Ok(None),
        Err(error) => return Err(io_error("open", path, error)),
    };
    let trailer = read_trailer(&mut file).map_err(|error| corrupt(path, error))?;
    Ok(Some((file, trailer)))
}

/// The trailer of the object file at `path`, or `None` when there is none.
pub(super) fn read_meta(path: &Path) -> Result<Option<Trailer>> {
    Ok(open(path)?.map(|(_, trailer)| trailer))
}

/// Whether an error means that nothing is at the path (including a file where a directory of
/// the path should be).
pub(super) fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// A [`BucketError::Backend`] for a file in the bucket that is not an object file.
pub(super) fn corrupt(path: &Path, error: io::Error) -> BucketError {
    if error.kind() == io::ErrorKind::InvalidData {
        BucketError::backend(
            "local",
            format!(
                "{} is not an object file of this bucket ({error}): files placed in a \
                 bucket directory by hand are not objects; move it out, or write it with `put`",
                path.display()
            ),
        )
    } else {
        io_error("read", path, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_without_quotes() {
        assert!(same_etag("\"abc\"", "abc"));
        assert!(same_etag("W/\"abc\"", "\"abc\""));
        assert!(!same_etag("\"abc\"", "\"abd\""));
    }

    #[tokio::test]
    async fn a_written_file_reads_back_with_its_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let describe = Describe {
            key: "k".into(),
            content_type: Some("text/plain".into()),
            metadata: BTreeMap::from([("a".into(), "b".into())]),
        };
        let body = ByteStream::from_chunks(["hello", " ", "world"]);
        let trailer = write(&path, body, describe, None, true).await.unwrap();
        assert_eq!(trailer.etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
        assert_eq!(trailer.size, 11);
        let (mut file, read) = open(&path).unwrap().unwrap();
        assert_eq!(read, trailer);
        let mut contents = vec![0u8; 11];
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_exact(&mut contents).unwrap();
        assert_eq!(contents, b"hello world");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let describe = Describe {
            key: "k".into(),
            content_type: None,
            metadata: BTreeMap::new(),
        };
        let error = write(
            &dir.path().join("o"),
            ByteStream::from("12345"),
            describe,
            Some(4),
            false,
        )
        .await
        .unwrap_err();
        assert!(matches!(error, BucketError::TooLarge { limit: 4 }));
    }

    #[test]
    fn files_without_a_trailer_are_not_objects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stray");
        std::fs::write(&path, b"dropped here by hand, long enough for a footer").unwrap();
        let error = open(&path).unwrap_err();
        assert!(error.to_string().contains("not an object file"), "{error}");
        assert!(open(&dir.path().join("missing")).unwrap().is_none());
    }
}
