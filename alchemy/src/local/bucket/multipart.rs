//! Multipart uploads: parts are object files under `~alchemy/uploads/<id>/`, joined on disk
//! when the upload completes.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alchemy_stream::ByteStream;
use serde::{Deserialize, Serialize};

use crate::bucket::{
    validate_key, validate_metadata, BucketError, PartInfo, PutMode, PutOptions, PutResult, Result,
};

use super::object_file::{self, io_error, quoted_etag, same_etag, Describe, Trailer};
use super::{blocking, random_id, LocalBucket, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE};

/// What `create_multipart` was asked, kept with the upload's parts.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    key: String,
    mode: StoredMode,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

/// A [`PutMode`] as the manifest stores it.
#[derive(Debug, Serialize, Deserialize)]
enum StoredMode {
    Overwrite,
    Create,
    Update(String),
}

impl From<PutMode> for StoredMode {
    fn from(mode: PutMode) -> Self {
        match mode {
            PutMode::Overwrite => StoredMode::Overwrite,
            PutMode::Create => StoredMode::Create,
            PutMode::Update(etag) => StoredMode::Update(etag),
        }
    }
}

impl From<StoredMode> for PutMode {
    fn from(mode: StoredMode) -> Self {
        match mode {
            StoredMode::Overwrite => PutMode::Overwrite,
            StoredMode::Create => PutMode::Create,
            StoredMode::Update(etag) => PutMode::Update(etag),
        }
    }
}

/// The file of part `number` in an upload's directory.
fn part_path(upload: &Path, number: u32) -> PathBuf {
    upload.join(format!("part-{number:05}"))
}

/// Reads the manifest of the upload at `dir`, checking that it is an upload of `key`.
fn read_manifest(dir: &Path, key: &str, upload_id: &str) -> Result<Manifest> {
    let no_such_upload = || BucketError::NoSuchUpload {
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
    };
    let path = dir.join("manifest.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(error) if object_file::is_missing(&error) => return Err(no_such_upload()),
        Err(error) => return Err(io_error("read", &path, error)),
    };
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|error| {
        BucketError::backend(
            "local",
            format!(
                "the upload manifest {} is unreadable: {error}",
                path.display()
            ),
        )
    })?;
    if manifest.key != key {
        return Err(no_such_upload());
    }
    Ok(manifest)
}

/// The digest bytes of a quoted MD5 etag.
fn digest_bytes(etag: &str) -> Vec<u8> {
    let hex = etag.trim_matches('"');
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

impl LocalBucket {
    /// The directory of upload `upload_id`, or `None` when the id cannot be one of ours.
    fn upload_dir(&self, upload_id: &str) -> Option<PathBuf> {
        let ours = upload_id.len() == 32
            && upload_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ours.then(|| self.internal().join("uploads").join(upload_id))
    }

    /// The directory of upload `upload_id`, or [`BucketError::NoSuchUpload`].
    fn existing_upload_dir(&self, key: &str, upload_id: &str) -> Result<PathBuf> {
        self.upload_dir(upload_id)
            .ok_or_else(|| BucketError::NoSuchUpload {
                key: key.to_owned(),
                upload_id: upload_id.to_owned(),
            })
    }

    pub(super) async fn create_upload(&self, key: &str, options: PutOptions) -> Result<String> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        let upload_id = random_id()?;
        let dir = self.existing_upload_dir(key, &upload_id)?;
        let manifest = Manifest {
            key: key.to_owned(),
            mode: options.mode.into(),
            content_type: options.content_type,
            metadata: options.metadata,
        };
        blocking(move || {
            std::fs::create_dir(&dir).map_err(|error| io_error("create", &dir, error))?;
            let path = dir.join("manifest.json");
            let json = serde_json::to_vec(&manifest).expect("a manifest always serialises");
            std::fs::write(&path, json).map_err(|error| io_error("write", &path, error))
        })
        .await?;
        Ok(upload_id)
    }

    pub(super) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        validate_key(key)?;
        if !(1..=MAX_PARTS).contains(&part_number) {
            return Err(BucketError::InvalidPart {
                key: key.to_owned(),
                part_number,
                reason: format!("part numbers run from 1 to {MAX_PARTS}"),
            });
        }
        let dir = self.existing_upload_dir(key, upload_id)?;
        let (manifest_dir, owned_key, owned_id) =
            (dir.clone(), key.to_owned(), upload_id.to_owned());
        blocking(move || read_manifest(&manifest_dir, &owned_key, &owned_id).map(drop)).await?;

        let temp = self.temp_file()?;
        let describe = Describe {
            key: format!("{key} (part {part_number} of upload {upload_id})"),
            content_type: None,
            metadata: BTreeMap::new(),
        };
        let trailer =
            object_file::write(temp.path(), body, describe, Some(MAX_PART_SIZE), self.fsync)
                .await?;
        let target = part_path(&dir, part_number);
        let from = temp.keep();
        let renamed = tokio::fs::rename(&from, &target).await;
        if let Err(error) = renamed {
            let _ = tokio::fs::remove_file(&from).await;
            return Err(if object_file::is_missing(&error) {
                BucketError::NoSuchUpload {
                    key: key.to_owned(),
                    upload_id: upload_id.to_owned(),
                }
            } else {
                io_error("store a part as", &target, error)
            });
        }
        Ok(PartInfo {
            part_number,
            etag: trailer.etag,
            size: trailer.size,
        })
    }

    pub(super) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        validate_key(key)?;
        let dir = self.existing_upload_dir(key, upload_id)?;
        let temp = self.temp_file()?;
        let fsync = self.fsync;
        let (owned_key, owned_id, upload) = (key.to_owned(), upload_id.to_owned(), dir.clone());
        let (temp, mode, etag) = blocking(move || {
            let manifest = read_manifest(&upload, &owned_key, &owned_id)?;
            let files = check_parts(&upload, &owned_key, &parts)?;
            let trailer = join_parts(
                temp.path(),
                &files,
                manifest_trailer(&manifest, &files),
                fsync,
            )?;
            Ok((temp, PutMode::from(manifest.mode), trailer.etag))
        })
        .await?;
        self.commit(key, temp, mode).await?;
        // The object is in place; a leftover upload directory only takes space.
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(PutResult {
            etag,
            version: None,
        })
    }

    pub(super) async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        validate_key(key)?;
        let Some(dir) = self.upload_dir(upload_id) else {
            return Ok(());
        };
        let (owned_key, owned_id) = (key.to_owned(), upload_id.to_owned());
        blocking(move || {
            match read_manifest(&dir, &owned_key, &owned_id) {
                Ok(_) => {}
                Err(BucketError::NoSuchUpload { .. }) if !dir.exists() => return Ok(()),
                Err(error) => return Err(error),
            }
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(error) if object_file::is_missing(&error) => Ok(()),
                Err(error) => Err(io_error("remove", &dir, error)),
            }
        })
        .await
    }
}

/// A stored part that will be joined.
struct PartFile {
    number: u32,
    path: PathBuf,
    trailer: Trailer,
}

/// Checks the parts a caller lists against the stored parts: ascending, present, with the
/// same etags, and big enough.
fn check_parts(upload: &Path, key: &str, parts: &[PartInfo]) -> Result<Vec<PartFile>> {
    let invalid = |part_number: u32, reason: String| BucketError::InvalidPart {
        key: key.to_owned(),
        part_number,
        reason,
    };
    if parts.is_empty() {
        return Err(invalid(
            0,
            "no parts were given: list every part that put_part returned".into(),
        ));
    }
    let mut files = Vec::with_capacity(parts.len());
    let mut previous = 0;
    for (index, part) in parts.iter().enumerate() {
        if part.part_number <= previous {
            return Err(invalid(
                part.part_number,
                format!(
                    "it is listed after part {previous}: \
                     list the parts in ascending order of part number, each once"
                ),
            ));
        }
        previous = part.part_number;
        let path = part_path(upload, part.part_number);
        let Some(trailer) = object_file::read_meta(&path)? else {
            return Err(invalid(
                part.part_number,
                "it was never uploaded: put it with put_part first".into(),
            ));
        };
        if !same_etag(&trailer.etag, &part.etag) {
            return Err(invalid(
                part.part_number,
                format!(
                    "its etag is {}, not {}: \
                     pass the PartInfo that the last put_part of this part returned",
                    trailer.etag, part.etag
                ),
            ));
        }
        let last = index + 1 == parts.len();
        if !last && trailer.size < MIN_PART_SIZE {
            return Err(invalid(
                part.part_number,
                format!(
                    "it has {} bytes, below the minimum of {MIN_PART_SIZE} bytes \
                     for every part but the last: use bigger parts",
                    trailer.size
                ),
            ));
        }
        files.push(PartFile {
            number: part.part_number,
            path,
            trailer,
        });
    }
    Ok(files)
}

/// The trailer of the object the parts make: S3's multipart etag (the MD5 of the parts'
/// digests, a dash and the number of parts).
fn manifest_trailer(manifest: &Manifest, files: &[PartFile]) -> Trailer {
    let mut digests = md5::Context::new();
    for file in files {
        digests.consume(digest_bytes(&file.trailer.etag));
    }
    let etag = quoted_etag(digests.compute());
    Trailer {
        key: manifest.key.clone(),
        size: files.iter().map(|file| file.trailer.size).sum(),
        etag: format!("{}-{}\"", etag.trim_end_matches('"'), files.len()),
        last_modified: object_file::now_millis(),
        content_type: manifest.content_type.clone(),
        metadata: manifest.metadata.clone(),
    }
}

/// Writes the contents of the parts, in order, and then `trailer` to a new file at `path`.
fn join_parts(path: &Path, files: &[PartFile], trailer: Trailer, fsync: bool) -> Result<Trailer> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| io_error("create", path, error))?;
    for file in files {
        // Opened again: check that it is still the part whose etag was checked.
        let mut part = match object_file::open(&file.path)? {
            Some((part, stored)) if stored.etag == file.trailer.etag => part,
            _ => {
                return Err(BucketError::InvalidPart {
                    key: trailer.key.clone(),
                    part_number: file.number,
                    reason: "it was replaced or removed while the upload completed: \
                             complete the upload again with the new part's etag"
                        .into(),
                })
            }
        };
        let copied = part
            .seek(SeekFrom::Start(0))
            .and_then(|_| std::io::copy(&mut part.take(file.trailer.size), &mut out))
            .map_err(|error| io_error("copy", &file.path, error))?;
        if copied != file.trailer.size {
            return Err(io_error(
                "copy",
                &file.path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the part is shorter than its trailer says",
                ),
            ));
        }
    }
    out.write_all(&trailer.encode())
        .and_then(|()| if fsync { out.sync_all() } else { Ok(()) })
        .map_err(|error| io_error("write", path, error))?;
    Ok(trailer)
}
