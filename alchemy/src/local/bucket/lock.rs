//! The commit lock: one writer at a time changes the object tree, in this process and across
//! processes.
//!
//! Bodies stream into temp files without any lock; only the short step that checks a
//! condition and renames the file into place (or deletes one) runs under the lock. Within a
//! process a [`tokio::sync::Mutex`] queues writers without tying up threads; across processes
//! an exclusive `flock` on the lock file does the same. On platforms without `flock` only the
//! in-process lock applies.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use crate::bucket::{BucketError, Result};

use super::object_file::io_error;

/// The lock that serialises commits to one bucket directory.
#[derive(Debug)]
pub(super) struct CommitLock {
    path: PathBuf,
    in_process: tokio::sync::Mutex<()>,
}

impl CommitLock {
    /// A lock on the lock file at `path` (created when missing).
    pub(super) fn new(path: PathBuf) -> Self {
        CommitLock {
            path,
            in_process: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs the blocking `commit` while holding the lock.
    pub(super) async fn run<T, F>(&self, commit: F) -> Result<T>
    where
        F: FnOnce() -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _in_process = self.in_process.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|error| io_error("open the lock file", &path, error))?;
            let _held = Held::lock(file).map_err(|error| io_error("lock", &path, error))?;
            commit()
        })
        .await
        .map_err(|error| {
            BucketError::backend("local", format!("a commit did not finish: {error}"))
        })?
    }
}

/// An exclusive `flock` on an open lock file, released when dropped (by closing the file).
struct Held {
    _file: File,
}

impl Held {
    #[cfg(unix)]
    fn lock(file: File) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
            let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if status == 0 {
                return Ok(Held { _file: file });
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    #[cfg(not(unix))]
    fn lock(file: File) -> std::io::Result<Self> {
        Ok(Held { _file: file })
    }
}
