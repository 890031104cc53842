//! [`LocalBucket`]: a bucket in a directory of this machine.

mod layout;
mod listing;
mod lock;
mod multipart;
mod object_file;
#[cfg(test)]
mod tests;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alchemy_stream::ByteStream;
use tokio::io::AsyncReadExt;

use crate::bucket::{
    validate_key, validate_metadata, BucketError, BucketStore, Capabilities, GetOptions, GetResult,
    ListOptions, ListPage, ObjectMeta, PartInfo, PutMode, PutOptions, PutResult, Result,
};

use lock::CommitLock;
use object_file::{io_error, same_etag, Describe, Trailer};

/// The provider name in errors.
const PROVIDER: &str = "local";

/// The chunk size of bodies read from disk.
const READ_CHUNK: usize = 256 * 1024;

/// The smallest part of a multipart upload but the last, as on S3 and R2.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The largest part of a multipart upload, as on S3.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The most parts of a multipart upload, as on S3 and R2.
const MAX_PARTS: u32 = 10_000;

/// The name of the store's own directory under the root.
const INTERNAL_DIR: &str = "~alchemy";

/// What the format file says; a different text means another layout.
const FORMAT: &str = "alchemy local bucket, format 1\n";

/// A bucket whose objects are files in a directory: the local provider's [`BucketStore`].
///
/// It behaves like S3 and R2 in everything the neutral contract says (it passes the same
/// conformance suite, `alchemy::bucket::conformance`), so code that works against it works in
/// the cloud:
///
/// - **Atomic writes.** A body streams into a temp file that is renamed into place when it is
///   complete; readers see the old object or the new one, and a failed or cancelled write
///   leaves the old one.
/// - **Consistent metadata.** The etag (the MD5 of the contents, computed as they stream in),
///   content type and user metadata are stored in the same file as the contents, so they can
///   never disagree.
/// - **Conditional writes across processes.** The check of a [`PutMode`] and the rename run
///   under a lock that is both an in-process mutex and an `flock` on a lock file, so two
///   processes sharing the directory (a `dev` server and a test, say) never both win a
///   create.
/// - **Bounded memory.** Bodies stream in chunks of at most 256 KiB in both directions;
///   multipart parts are joined on disk without passing through memory.
/// - **Cloud limits.** Multipart parts but the last must have at least 5 MiB, as on S3 and R2,
///   so upload code that passes here does not fail there.
///
/// The directory is the store's own: objects live in files named after their keys (escaped
/// so that any valid key, in any letter case, maps to exactly one file under the root), and
/// `~alchemy/` holds the lock, temp files and unfinished multipart uploads. Files put there by
/// hand are not objects. Temp files that a crashed process left behind are removed when the
/// bucket is next opened, once they are a day old; unfinished multipart uploads stay until
/// they are completed or aborted, as on S3.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::bucket::BucketClient;
/// use alchemy::local::bucket::LocalBucket;
///
/// # let dir = tempfile::tempdir()?;
/// let bucket = BucketClient::new(LocalBucket::open(dir.path().join("photos")).await?);
/// bucket.put("2024/cat.txt", "meow").await?;
/// assert_eq!(bucket.head("2024/cat.txt").await?.size, 4);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalBucket {
    root: PathBuf,
    fsync: bool,
    lock: CommitLock,
}

impl LocalBucket {
    /// Opens the bucket in the directory `root`, creating the directory when it is missing.
    ///
    /// Fails with [`BucketError::Backend`] when the directory cannot be created or was
    /// written by an incompatible version of this store.
    pub async fn open(root: impl AsRef<Path>) -> Result<LocalBucket> {
        let root = root.as_ref().to_path_buf();
        let prepared = root.clone();
        blocking(move || prepare(&prepared)).await?;
        let lock = CommitLock::new(root.join(INTERNAL_DIR).join("lock"));
        Ok(LocalBucket {
            root,
            fsync: false,
            lock,
        })
    }

    /// Whether every write is flushed to the disk (`fsync`) before it counts as done.
    ///
    /// Off by default: writes are atomic either way (a crashed process never leaves a torn
    /// object), and a development store rarely needs to survive a power cut. Turn it on when
    /// it must.
    pub fn with_fsync(mut self, fsync: bool) -> LocalBucket {
        self.fsync = fsync;
        self
    }

    /// The bucket's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's own directory.
    fn internal(&self) -> PathBuf {
        self.root.join(INTERNAL_DIR)
    }

    /// A new, not yet created, temp file path.
    fn temp_file(&self) -> Result<TempFile> {
        Ok(TempFile {
            path: Some(
                self.internal()
                    .join("tmp")
                    .join(format!("{}.tmp", random_id()?)),
            ),
        })
    }

    /// Renames the finished object file `temp` to the object `key`, if `mode` allows.
    async fn commit(&self, key: &str, temp: TempFile, mode: PutMode) -> Result<()> {
        let root = self.root.clone();
        let key = key.to_owned();
        let fsync = self.fsync;
        self.lock
            .run(move || {
                let target = layout::object_path(&root, &key);
                check_mode(&key, &target, &mode)?;
                layout::create_dirs(&root, &key)
                    .map_err(|error| io_error("create the directories of", &target, error))?;
                let from = temp.keep();
                if let Err(error) = std::fs::rename(&from, &target) {
                    let _ = std::fs::remove_file(&from);
                    return Err(io_error("rename a temp file to", &target, error));
                }
                if fsync {
                    if let Some(parent) = target.parent() {
                        sync_dir(parent)?;
                    }
                }
                Ok(())
            })
            .await
    }
}

/// Creates the bucket's directories and checks or writes its format file.
fn prepare(root: &Path) -> Result<()> {
    let internal = root.join(INTERNAL_DIR);
    for dir in [internal.join("tmp"), internal.join("uploads")] {
        std::fs::create_dir_all(&dir).map_err(|error| io_error("create", &dir, error))?;
    }
    let format = internal.join("format");
    match std::fs::read_to_string(&format) {
        Ok(text) if text == FORMAT => {
            remove_abandoned_temp_files(&internal.join("tmp"));
            Ok(())
        }
        Ok(text) => Err(BucketError::backend(
            PROVIDER,
            format!(
                "{} holds a bucket of another format ({:?}): open it with the version of \
                 Alchemy that wrote it, or choose another directory",
                root.display(),
                text.trim()
            ),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&format, FORMAT).map_err(|error| io_error("write", &format, error))
        }
        Err(error) => Err(io_error("read", &format, error)),
    }
}

/// How long a temp file goes unwritten before it counts as left behind by a process that
/// died mid-write. A live write touches its file with every chunk.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Removes the temp files of writes that died: those untouched for [`ABANDONED_AFTER`].
///
/// Best effort: a file that cannot be inspected or removed is left for the next open.
fn remove_abandoned_temp_files(tmp: &Path) {
    let Ok(listing) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in listing.flatten() {
        let abandoned = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|idle| idle > ABANDONED_AFTER);
        if abandoned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks that `mode` allows writing the object file at `target`.
fn check_mode(key: &str, target: &Path, mode: &PutMode) -> Result<()> {
    match mode {
        PutMode::Overwrite => Ok(()),
        PutMode::Create => match target.symlink_metadata() {
            Ok(_) => Err(BucketError::AlreadyExists {
                key: key.to_owned(),
            }),
            Err(error) if object_file::is_missing(&error) => Ok(()),
            Err(error) => Err(io_error("inspect", target, error)),
        },
        PutMode::Update(etag) => match object_file::read_meta(target)? {
            None => Err(BucketError::Precondition {
                key: key.to_owned(),
                detail: "the object does not exist (PutMode::Update replaces an existing \
                         object; use PutMode::Create to make one)"
                    .into(),
            }),
            Some(current) if !same_etag(&current.etag, etag) => Err(BucketError::Precondition {
                key: key.to_owned(),
                detail: format!("its etag is {} now, not {etag}", current.etag),
            }),
            Some(_) => Ok(()),
        },
    }
}

/// Whether a conditional etag (`*` for any) matches `etag`.
fn etag_matches(condition: &str, etag: &str) -> bool {
    condition.trim() == "*"
        || condition
            .split(',')
            .any(|candidate| same_etag(candidate, etag))
}

/// Flushes a directory's entries to the disk.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error("sync", dir, error))
}

/// 32 random lowercase hex digits.
fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|error| {
        BucketError::backend(
            PROVIDER,
            format!("no random numbers for a file name: {error}"),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A temp file that is removed when dropped, unless kept.
#[derive(Debug)]
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    fn path(&self) -> &Path {
        self.path.as_deref().expect("a temp file is only kept once")
    }

    /// Gives up removing the file: the caller takes care of it.
    fn keep(mut self) -> PathBuf {
        self.path.take().expect("a temp file is only kept once")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Missing when the write never started; nothing to clean up then.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs blocking file-system work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        BucketError::backend(
            PROVIDER,
            format!("a file-system task did not finish: {error}"),
        )
    })?
}

/// The object file of `key`, or [`BucketError::NotFound`].
fn open_object(root: &Path, key: &str) -> Result<(std::fs::File, Trailer)> {
    let path = layout::object_path(root, key);
    match object_file::open(&path)? {
        Some((file, trailer)) if trailer.key == key => Ok((file, trailer)),
        _ => Err(BucketError::not_found(key)),
    }
}

#[async_trait::async_trait]
impl BucketStore for LocalBucket {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            put_create: true,
            put_update: true,
            get_conditional: true,
            range: true,
            multipart: true,
            multipart_conditional: true,
            copy: true,
            copy_conditional: true,
            list_delimiter: true,
            list_start_after: true,
            content_type: true,
            user_metadata: true,
            min_part_size: MIN_PART_SIZE,
            max_part_size: Some(MAX_PART_SIZE),
            max_parts: Some(MAX_PARTS),
            ..Capabilities::default()
        }
    }

    async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult> {
        validate_key(key)?;
        let root = self.root.clone();
        let key = key.to_owned();
        let (file, trailer, range) = blocking(move || {
            let (mut file, trailer) = open_object(&root, &key)?;
            if let Some(condition) = &options.if_match {
                if !etag_matches(condition, &trailer.etag) {
                    return Err(BucketError::Precondition {
                        key,
                        detail: format!("its etag is {}, not {condition}", trailer.etag),
                    });
                }
            }
            if let Some(condition) = &options.if_none_match {
                if etag_matches(condition, &trailer.etag) {
                    return Err(BucketError::NotModified { key });
                }
            }
            let range = match options.range {
                Some(range) => range.resolve(&key, trailer.size)?,
                None => 0..trailer.size,
            };
            file.seek(SeekFrom::Start(range.start))
                .map_err(|error| io_error("read", &layout::object_path(&root, &key), error))?;
            Ok((file, trailer, range))
        })
        .await?;
        let len = range.end - range.start;
        let reader = tokio::fs::File::from_std(file).take(len);
        let body = ByteStream::from_async_read(reader, READ_CHUNK).with_exact_len(len);
        Ok(GetResult {
            meta: trailer.meta(),
            range,
            body,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let root = self.root.clone();
        let key = key.to_owned();
        blocking(move || Ok(open_object(&root, &key)?.1.meta())).await
    }

    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult> {
        validate_key(key)?;
        validate_metadata(&options.metadata)?;
        let temp = self.temp_file()?;
        let describe = Describe {
            key: key.to_owned(),
            content_type: options.content_type,
            metadata: options.metadata,
        };
        let trailer = object_file::write(temp.path(), body, describe, None, self.fsync).await?;
        self.commit(key, temp, options.mode).await?;
        Ok(PutResult {
            etag: trailer.etag,
            version: None,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let root = self.root.clone();
        let key = key.to_owned();
        self.lock
            .run(move || {
                let target = layout::object_path(&root, &key);
                match std::fs::remove_file(&target) {
                    Ok(()) => {}
                    Err(error) if object_file::is_missing(&error) => return Ok(()),
                    Err(error) => return Err(io_error("delete", &target, error)),
                }
                layout::remove_empty_dirs(&root, &key)
                    .map_err(|error| io_error("clean up the directories of", &target, error))
            })
            .await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        let root = self.root.clone();
        blocking(move || listing::list(&root, &options)).await
    }

    async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        validate_key(from)?;
        validate_key(to)?;
        let temp = self.temp_file()?;
        let root = self.root.clone();
        let (from, target) = (from.to_owned(), to.to_owned());
        let fsync = self.fsync;
        let (temp, etag) = blocking(move || {
            let (source, trailer) = open_object(&root, &from)?;
            let copied = Trailer {
                key: target,
                last_modified: object_file::now_millis(),
                ..trailer
            };
            write_copy(temp.path(), source, &copied, fsync)?;
            Ok((temp, copied.etag))
        })
        .await?;
        self.commit(to, temp, mode).await?;
        Ok(PutResult {
            etag,
            version: None,
        })
    }

    async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String> {
        self.create_upload(key, options).await
    }

    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        self.upload_part(key, upload_id, part_number, body).await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        self.complete_upload(key, upload_id, parts).await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        self.abort_upload(key, upload_id).await
    }
}

/// Writes the contents of the open object file `source` and then `trailer` to a new file at
/// `path`, without holding the contents in memory.
fn write_copy(
    path: &Path,
    mut source: std::fs::File,
    trailer: &Trailer,
    fsync: bool,
) -> Result<()> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| io_error("create", path, error))?;
    source
        .seek(SeekFrom::Start(0))
        .and_then(|_| {
            std::io::copy(
                &mut std::io::Read::take(&mut source, trailer.size),
                &mut out,
            )
        })
        .and_then(|copied| {
            if copied == trailer.size {
                Ok(())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the source is shorter than its trailer says",
                ))
            }
        })
        .and_then(|()| out.write_all(&trailer.encode()))
        .and_then(|()| if fsync { out.sync_all() } else { Ok(()) })
        .map_err(|error| io_error("copy into", path, error))
}
