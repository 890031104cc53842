//! The lease of the file backend: `lock.json`, changed only while holding an exclusive `flock`
//! on `lock.guard`, and always replaced whole by a rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sys::{self, Stamp, Witness};
use super::IoContext;
use crate::error::Result;
use crate::state::{Lease, LeaseOwner};

/// What `lock.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LockFile {
    /// The highest fencing token ever issued for this stage; kept when the lease is given back,
    /// so the next one is larger still.
    pub last_token: u64,
    /// The lease in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

impl LockFile {
    /// The token of the lease in force, 0 when there is none.
    pub fn current_token(&self) -> u64 {
        self.lease.as_ref().map_or(0, |lease| lease.token)
    }

    /// Issues the next lease to `owner`.
    pub fn issue(&mut self, owner: &LeaseOwner, now_ms: u64, ttl_ms: u64) -> Lease {
        let token = self.last_token.max(self.current_token()) + 1;
        let lease = Lease {
            owner: owner.clone(),
            token,
            acquired_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        };
        self.last_token = token;
        self.lease = Some(lease.clone());
        lease
    }
}

/// Whether `lease` still keeps others out: it has not expired, and it is not held by a process
/// of this host that is gone.
pub(super) fn in_force(lease: &Lease, now_ms: u64, this_host: &str) -> bool {
    let holder_gone = lease.owner.host == this_host && !sys::pid_alive(lease.owner.pid);
    now_ms < lease.expires_at_ms && !holder_gone
}

/// The files of the lease.
#[derive(Debug)]
pub(super) struct LeaseStore {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    guard: PathBuf,
}

/// Proof of holding the guard; dropping it releases the `flock`.
pub(super) struct Guard {
    _file: File,
}

impl LeaseStore {
    /// The lease files in `dir`.
    pub fn new(dir: &Path) -> Self {
        LeaseStore {
            dir: dir.to_path_buf(),
            path: dir.join("lock.json"),
            tmp: dir.join("lock.json.tmp"),
            guard: dir.join("lock.guard"),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether there is a lock file at all.
    pub fn exists(&self) -> Result<bool> {
        Ok(Stamp::at(&self.path)
            .context("reading", &self.path)?
            .is_some())
    }

    /// Waits for the guard: held only for the few microseconds of a read-modify-write, never for
    /// the life of a lease. Creates the stage directory if needed.
    pub fn guard(&self) -> Result<Guard> {
        fs::create_dir_all(&self.dir).context("creating", &self.dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.guard)
            .context("opening", &self.guard)?;
        sys::lock_exclusive(&file).context("locking", &self.guard)?;
        Ok(Guard { _file: file })
    }

    /// The lock file as it is, and a witness that tells when it is replaced; `None` if there is
    /// none. Needs no guard: the file is only ever replaced whole.
    pub fn read(&self) -> Result<Option<(LockFile, Witness)>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("opening", &self.path),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .context("reading", &self.path)?;
        let lock = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            .context(
                "reading (if no deploy of this stage is running, clear it with `state unlock`)",
                &self.path,
            )?;
        let witness = Witness::new(file, &self.path).context("reading", &self.path)?;
        Ok(Some((lock, witness)))
    }

    /// Replaces the lock file with `lock`, durably. Call it only while holding the guard.
    pub fn write(&self, _guard: &Guard, lock: &LockFile) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(lock)?;
        let mut file = File::create(&self.tmp).context("creating", &self.tmp)?;
        file.write_all(&bytes).context("writing", &self.tmp)?;
        file.sync_data().context("syncing", &self.tmp)?;
        fs::rename(&self.tmp, &self.path).context("replacing", &self.path)
    }
}
