//! The few operating-system calls the file backend needs, with a portable fallback.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// Enough of a file's metadata to tell that it was replaced or rewritten since it was last read.
///
/// Files the backend rewrites are replaced by a rename, so the inode alone changes on every
/// write; the size and the change times cover an inode number that is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl Stamp {
    /// The stamp of a file's metadata.
    pub(super) fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                len: meta.len(),
                modified: meta.modified().ok(),
                changed: (meta.ctime(), meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            Stamp {
                dev: 0,
                ino: 0,
                len: meta.len(),
                modified: meta.modified().ok(),
                changed: (0, 0),
            }
        }
    }

    /// The stamp of the file at `path`, `None` if there is none.
    pub(super) fn at(path: &Path) -> io::Result<Option<Stamp>> {
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(Stamp::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Blocks until this open file holds the exclusive `flock` on its file; closing it releases it.
///
/// `flock` locks belong to the open file, so two handles in one process exclude each other just
/// as two processes do.
#[cfg(unix)]
pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Without `flock` there is no cross-process exclusion: the lease check-and-set is then only
/// as atomic as the rename that writes the lease.
#[cfg(not(unix))]
pub(super) fn lock_exclusive(_file: &File) -> io::Result<()> {
    Ok(())
}

/// Whether a process with this id may be running on this host.
///
/// Only a definite "no such process" (`ESRCH`) counts as dead; a process of another user
/// (`EPERM`) or an id that is not a valid pid counts as alive.
#[cfg(unix)]
pub(super) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        // 0 and negative ids address process groups, not one process.
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Without `kill(pid, 0)` a process cannot be known dead; its lease runs until it expires.
#[cfg(not(unix))]
pub(super) fn pid_alive(_pid: u32) -> bool {
    true
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Tells cheaply whether a file that is only ever replaced whole, by a rename, was replaced
/// since it was read.
///
/// On Unix it keeps the file open: once the name points at a new file, the old one has no
/// links left, which an `fstat` sees without looking the path up again. Elsewhere an open file
/// could stand in the way of the rename, so it compares stamps of the path instead.
#[derive(Debug)]
pub(super) struct Witness {
    #[cfg(unix)]
    file: File,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
    #[cfg(not(unix))]
    stamp: Stamp,
}

impl Witness {
    /// A witness for `file`, just read from `path`.
    #[cfg(unix)]
    pub(super) fn new(file: File, _path: &Path) -> io::Result<Witness> {
        Ok(Witness { file })
    }

    /// A witness for `file`, just read from `path`.
    #[cfg(not(unix))]
    pub(super) fn new(file: File, path: &Path) -> io::Result<Witness> {
        Ok(Witness {
            stamp: Stamp::of(&file.metadata()?),
            path: path.to_path_buf(),
        })
    }

    /// Whether the file at the path is no longer the one read.
    #[cfg(unix)]
    pub(super) fn replaced(&self) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        Ok(self.file.metadata()?.nlink() == 0)
    }

    /// Whether the file at the path is no longer the one read.
    #[cfg(not(unix))]
    pub(super) fn replaced(&self) -> io::Result<bool> {
        Ok(Stamp::at(&self.path)? != Some(self.stamp))
    }
}
