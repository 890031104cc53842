//! The local file state backend: the default for every stage.
//!
//! A stage directory (`.alchemy/<stage>/`) holds:
//!
//! - `state.json`: the snapshot, compact JSON, replaced whole by a rename after an `fsync`;
//! - `state.json.bak`: the snapshot before the last commit;
//! - `journal.jsonl`: the checkpoints appended since the snapshot, one checksummed line each
//!   (see [`journal`]), emptied by every commit;
//! - `lock.json`: the lease and the last fencing token issued, changed only under an exclusive
//!   `flock` on `lock.guard`.
//!
//! Crash safety rests on three rules. An append is one `write` to a file opened with `O_APPEND`,
//! so a killed process leaves at most a damaged last line, which loading ignores. A line records
//! the serial of the snapshot it applies on, so lines left over from a commit interrupted between
//! the rename and the truncation of the journal are recognised as already applied. Loading reads
//! the journal before the snapshot, so a commit running meanwhile cannot make entries vanish.

mod journal;
mod lease;
mod sys;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use self::lease::{in_force, LeaseStore, LockFile};
use self::sys::{Stamp, Witness};
use crate::error::{Error, Result};
use crate::state::lock::hostname;
use crate::state::{
    JournalEntry, Lease, LeaseOwner, ResourceState, SecretsHeader, Snapshot, StateBackend,
    FORMAT_VERSION,
};

/// How long an append trusts its last look at the lock file while the file looks unchanged.
const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// State in files under a directory (by default `.alchemy/<stage>/` beside the app).
///
/// The directory is created by the first write (`lock`, `append` or `commit`); reading a stage
/// that has none gives `None`. Several backends, in one process or many, may point at the same
/// directory: the lease decides which of them writes.
///
/// File I/O is synchronous. On tokio's multi-thread runtime, loads, commits and lease changes
/// tell the runtime they block (`block_in_place`), so other tasks move to other workers; an
/// append is one small `write` and simply runs.
pub struct FileBackend {
    inner: Inner,
}

impl FileBackend {
    /// State for `app`/`stage` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, app: &str, stage: &str) -> Self {
        let dir = dir.into();
        FileBackend {
            inner: Inner {
                state: dir.join("state.json"),
                state_tmp: dir.join("state.json.tmp"),
                backup: dir.join("state.json.bak"),
                backup_tmp: dir.join("state.json.bak.tmp"),
                journal: dir.join("journal.jsonl"),
                leases: LeaseStore::new(&dir),
                dir,
                app: app.into(),
                stage: stage.into(),
                host: hostname(),
                appender: Mutex::default(),
            },
        }
    }

    /// The stage directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

/// Runs blocking file work, telling a multi-thread tokio runtime so that it moves other tasks
/// off this worker; anywhere else it just runs.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBackend")
            .field("dir", &self.inner.dir)
            .field("app", &self.inner.app)
            .field("stage", &self.inner.stage)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl StateBackend for FileBackend {
    fn describe(&self) -> String {
        format!("file {}", self.inner.dir.display())
    }

    async fn lock(&self, owner: &LeaseOwner, ttl: Duration) -> Result<Lease> {
        blocking(|| self.inner.lock(owner, ttl))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        blocking(|| self.inner.renew(lease, ttl))
    }

    async fn unlock(&self, lease: &Lease) -> Result<()> {
        blocking(|| self.inner.unlock(lease))
    }

    async fn force_unlock(&self) -> Result<()> {
        blocking(|| self.inner.force_unlock())
    }

    async fn load(&self) -> Result<Option<Snapshot>> {
        blocking(|| self.inner.load())
    }

    /// Checking the lease costs an `fstat` of the lock file (and a read of it once a second, or
    /// when it changed); the entry is one `write`, with no `fsync`.
    async fn append(&self, lease: &Lease, entry: &JournalEntry) -> Result<()> {
        self.inner.append(lease, entry)
    }

    async fn commit(&self, lease: &Lease, snapshot: &Snapshot) -> Result<()> {
        blocking(|| self.inner.commit(lease, snapshot))
    }
}

/// The synchronous core of a [`FileBackend`].
struct Inner {
    dir: PathBuf,
    app: String,
    stage: String,
    /// This host's name, to recognise leases of local processes.
    host: String,
    state: PathBuf,
    state_tmp: PathBuf,
    backup: PathBuf,
    backup_tmp: PathBuf,
    journal: PathBuf,
    leases: LeaseStore,
    /// Held for every append and for a whole commit, so no append falls between a commit's
    /// rename and its truncation of the journal.
    appender: Mutex<Appender>,
}

/// What appends keep between calls.
#[derive(Default)]
struct Appender {
    /// The snapshot on disk as this backend last read or wrote it.
    snapshot: Option<Base>,
    /// The journal, opened for the lease last checked.
    journal: Option<OpenJournal>,
    /// The lease last confirmed against the lock file.
    checked: Option<Checked>,
}

/// The serial of the snapshot on disk, and the stamp of the `state.json` it was read from.
#[derive(Clone, Copy)]
struct Base {
    stamp: Option<Stamp>,
    serial: u64,
}

struct OpenJournal {
    file: File,
    /// The serial every line written now applies on.
    base: u64,
    /// The line being written, reused.
    buf: Vec<u8>,
}

struct Checked {
    token: u64,
    /// Watches the lock file that showed the token in force.
    witness: Witness,
    at: Instant,
}

impl Inner {
    fn lock(&self, owner: &LeaseOwner, ttl: Duration) -> Result<Lease> {
        let guard = self.leases.guard()?;
        let mut lock = self
            .leases
            .read()?
            .map(|(lock, _)| lock)
            .unwrap_or_default();
        let now = now_ms();
        if let Some(held) = lock
            .lease
            .as_ref()
            .filter(|held| in_force(held, now, &self.host))
        {
            return Err(Error::Locked {
                stage: self.stage.clone(),
                owner: held.owner.to_string(),
                token: held.token,
                expires_in_secs: (held.expires_at_ms - now).div_ceil(1000),
            });
        }
        let lease = lock.issue(owner, now, millis(ttl));
        self.leases.write(&guard, &lock)?;
        Ok(lease)
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let guard = self.leases.guard()?;
        let mut lock = self
            .leases
            .read()?
            .map(|(lock, _)| lock)
            .unwrap_or_default();
        let Some(held) = lock.lease.as_mut().filter(|held| held.token == lease.token) else {
            return Err(self.lease_lost(lease, &lock));
        };
        held.expires_at_ms = now_ms().saturating_add(millis(ttl));
        let renewed = held.clone();
        self.leases.write(&guard, &lock)?;
        Ok(renewed)
    }

    /// Gives `lease` back if it is still in force; a lease already taken over is left alone.
    fn unlock(&self, lease: &Lease) -> Result<()> {
        if !self.leases.exists()? {
            return Ok(());
        }
        let guard = self.leases.guard()?;
        let Some((mut lock, _)) = self.leases.read()? else {
            return Ok(());
        };
        if lock.current_token() == lease.token {
            lock.lease = None;
            self.leases.write(&guard, &lock)?;
        }
        Ok(())
    }

    /// Removes any lease. An unreadable lock file is replaced; as the tokens it recorded are then
    /// unknown, counting restarts from the clock in milliseconds, far above any count of locks.
    fn force_unlock(&self) -> Result<()> {
        if !self.leases.exists()? {
            return Ok(());
        }
        let guard = self.leases.guard()?;
        let lock = match self.leases.read() {
            Ok(Some((lock, _))) if lock.lease.is_none() => return Ok(()),
            Ok(Some((lock, _))) => LockFile {
                lease: None,
                ..lock
            },
            Ok(None) => return Ok(()),
            Err(_) => LockFile {
                last_token: now_ms(),
                lease: None,
            },
        };
        self.leases.write(&guard, &lock)
    }

    /// Confirms that `lease` is the one in force; returns a witness of the lock file that says so.
    fn check_lease(&self, lease: &Lease) -> Result<Witness> {
        match self.leases.read()? {
            Some((lock, witness)) if lock.current_token() == lease.token => Ok(witness),
            Some((lock, _)) => Err(self.lease_lost(lease, &lock)),
            None => Err(self.lease_lost(lease, &LockFile::default())),
        }
    }

    fn lease_lost(&self, ours: &Lease, lock: &LockFile) -> Error {
        Error::LeaseLost {
            stage: self.stage.clone(),
            ours: ours.token,
            current: lock.current_token(),
        }
    }

    fn appender(&self) -> MutexGuard<'_, Appender> {
        // An append that panicked leaves nothing half-done in memory: the buffer is cleared on use.
        self.appender.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn load(&self) -> Result<Option<Snapshot>> {
        // The journal first: a commit that runs between the two reads then only makes its lines
        // stale, which replay skips, instead of emptying a journal not yet read.
        let journal = match fs::read(&self.journal) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).context("reading", &self.journal),
        };
        let (snapshot, stamp) = match File::open(&self.state) {
            Ok(mut file) => {
                let meta = file.metadata().context("reading", &self.state)?;
                let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
                file.read_to_end(&mut bytes)
                    .context("reading", &self.state)?;
                (Some(self.decode_snapshot(&bytes)?), Some(Stamp::of(&meta)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (None, None),
            Err(e) => return Err(e).context("opening", &self.state),
        };
        let parsed = journal::parse(&journal).map_err(|detail| self.corrupt_journal(detail))?;
        if snapshot.is_none() && parsed.records.is_empty() {
            return Ok(None);
        }
        let mut snapshot = snapshot.unwrap_or_else(|| Snapshot::new(&self.app, &self.stage));
        for record in parsed.records {
            if record.base < snapshot.serial {
                continue; // already in the snapshot
            }
            if record.base > snapshot.serial {
                return Err(self.corrupt_journal(format!(
                    "line {} applies on snapshot serial {}, but the snapshot has serial {}: the snapshot is older than its journal",
                    record.line, record.base, snapshot.serial
                )));
            }
            let entry: JournalEntry = serde_json::from_str(record.entry).map_err(|e| {
                self.corrupt_journal(format!("line {} holds no valid entry: {e}", record.line))
            })?;
            snapshot.apply(&entry);
        }
        self.appender().snapshot = Some(Base {
            stamp,
            serial: snapshot.serial,
        });
        Ok(Some(snapshot))
    }

    fn append(&self, lease: &Lease, entry: &JournalEntry) -> Result<()> {
        let mut appender = self.appender();
        let journal = self.prepare(&mut appender, lease)?;
        journal.buf.clear();
        journal::encode(&mut journal.buf, journal.base, entry)?;
        let written = journal.file.write_all(&journal.buf);
        if written.is_err() {
            // Part of the line may be in the file: reopening cuts it off before the next line.
            appender.journal = None;
        }
        written.context("appending to", &self.journal)
    }

    /// Makes sure `lease` is in force and the journal is open for it.
    ///
    /// The lock file is read again when it was replaced (every change replaces it) or a second
    /// has passed; otherwise the check is one `fstat`. A lease not seen before reopens the
    /// journal, cuts off a damaged last line an earlier holder may have left (so the next line is
    /// not glued to it), and learns the serial of the snapshot on disk.
    fn prepare<'a>(
        &self,
        appender: &'a mut Appender,
        lease: &Lease,
    ) -> Result<&'a mut OpenJournal> {
        let Appender {
            snapshot,
            journal,
            checked,
        } = appender;
        let now = Instant::now();
        let reopen = journal.is_none() || checked.as_ref().is_none_or(|c| c.token != lease.token);
        let trusted = match checked {
            Some(checked) if !reopen && now.duration_since(checked.at) < RECHECK_AFTER => {
                let replaced = checked.witness.replaced();
                !replaced.context("checking", self.leases.path())?
            }
            _ => false,
        };
        if !trusted {
            *checked = Some(Checked {
                token: lease.token,
                witness: self.check_lease(lease)?,
                at: now,
            });
        }
        match (reopen, journal) {
            (false, Some(journal)) => Ok(journal),
            (_, slot) => {
                let base = self.disk_serial(snapshot)?;
                let file = self.open_journal()?;
                Ok(slot.insert(OpenJournal {
                    file,
                    base,
                    buf: Vec::new(),
                }))
            }
        }
    }

    fn open_journal(&self) -> Result<File> {
        fs::create_dir_all(&self.dir).context("creating", &self.dir)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.journal)
            .context("opening", &self.journal)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .context("reading", &self.journal)?;
        let parsed = journal::parse(&bytes).map_err(|detail| self.corrupt_journal(detail))?;
        if parsed.intact_len < bytes.len() {
            file.set_len(parsed.intact_len as u64)
                .context("cutting the damaged last line off", &self.journal)?;
        }
        Ok(file)
    }

    /// Writes `snapshot` as format [`FORMAT_VERSION`] with the serial after the one on disk (or
    /// after its own, if that is higher).
    fn commit(&self, lease: &Lease, snapshot: &Snapshot) -> Result<()> {
        let mut appender = self.appender();
        self.check_lease(lease)?;
        self.check_identity(snapshot)?;
        fs::create_dir_all(&self.dir).context("creating", &self.dir)?;
        let serial = self
            .disk_serial(&mut appender.snapshot)?
            .max(snapshot.serial)
            + 1;
        self.write_snapshot(&SnapshotFile::new(snapshot, serial))?;
        appender.snapshot = Some(Base {
            stamp: Stamp::at(&self.state).context("reading", &self.state)?,
            serial,
        });
        if let Some(journal) = &mut appender.journal {
            journal.base = serial;
        }
        match OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.journal)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("emptying", &self.journal),
        }
    }

    /// Writes `snapshot` to a temporary file, syncs it, keeps the current snapshot as the backup
    /// and renames the new one into place.
    fn write_snapshot(&self, snapshot: &SnapshotFile<'_>) -> Result<()> {
        let file = File::create(&self.state_tmp).context("creating", &self.state_tmp)?;
        let mut writer = BufWriter::with_capacity(1 << 16, file);
        serde_json::to_writer(&mut writer, snapshot)
            .map_err(io::Error::from)
            .context("writing", &self.state_tmp)?;
        let file = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .context("writing", &self.state_tmp)?;
        file.sync_all().context("syncing", &self.state_tmp)?;
        drop(file);
        self.keep_backup()?;
        fs::rename(&self.state_tmp, &self.state).context("replacing", &self.state)?;
        sys::sync_dir(&self.dir).context("syncing", &self.dir)
    }

    /// Makes the current `state.json`, if any, the backup: a hard link where the file system
    /// has them, a copy otherwise. The old backup is replaced only once the new one is complete.
    fn keep_backup(&self) -> Result<()> {
        match fs::remove_file(&self.backup_tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("removing", &self.backup_tmp),
        }
        match fs::hard_link(&self.state, &self.backup_tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(_) => {
                fs::copy(&self.state, &self.backup_tmp).context("copying", &self.state)?;
            }
        }
        fs::rename(&self.backup_tmp, &self.backup).context("replacing", &self.backup)
    }

    /// The serial of the snapshot on disk (0 when there is none), read again only when
    /// `state.json` changed since `cache` was filled.
    fn disk_serial(&self, cache: &mut Option<Base>) -> Result<u64> {
        let stamp = Stamp::at(&self.state).context("reading", &self.state)?;
        if let Some(base) = cache.filter(|base| base.stamp == stamp) {
            return Ok(base.serial);
        }
        let serial = match stamp {
            None => 0,
            Some(_) => {
                let bytes = fs::read(&self.state).context("reading", &self.state)?;
                let head: Head = serde_json::from_slice(&bytes)
                    .map_err(|e| self.corrupt_state(e.to_string()))?;
                self.check_version(head.version)?;
                head.serial
            }
        };
        *cache = Some(Base { stamp, serial });
        Ok(serial)
    }

    fn decode_snapshot(&self, bytes: &[u8]) -> Result<Snapshot> {
        let snapshot: Snapshot = match serde_json::from_slice(bytes) {
            Ok(snapshot) => snapshot,
            Err(e) => {
                // A newer format may not parse as this one: say so rather than call it corrupt.
                if let Ok(head) = serde_json::from_slice::<Head>(bytes) {
                    self.check_version(head.version)?;
                }
                return Err(self.corrupt_state(e.to_string()));
            }
        };
        self.check_version(snapshot.version)?;
        self.check_identity(&snapshot)?;
        Ok(snapshot)
    }

    fn check_version(&self, found: u32) -> Result<()> {
        if found > FORMAT_VERSION {
            return Err(Error::StateTooNew {
                path: self.state.clone(),
                found,
                supported: FORMAT_VERSION,
            });
        }
        Ok(())
    }

    fn check_identity(&self, snapshot: &Snapshot) -> Result<()> {
        if snapshot.app != self.app || snapshot.stage != self.stage {
            return Err(Error::Config(format!(
                "the state in {} belongs to app `{}` stage `{}`, not to app `{}` stage `{}`: give every stage a state directory of its own",
                self.dir.display(),
                snapshot.app,
                snapshot.stage,
                self.app,
                self.stage
            )));
        }
        Ok(())
    }

    fn corrupt_state(&self, detail: String) -> Error {
        Error::CorruptState {
            path: self.state.clone(),
            detail,
            backup: self.backup.clone(),
        }
    }

    fn corrupt_journal(&self, detail: String) -> Error {
        Error::CorruptState {
            path: self.journal.clone(),
            detail,
            backup: self.state.clone(),
        }
    }
}

/// A [`Snapshot`] as it is written: the same fields, with the version and serial of the commit.
#[derive(Serialize)]
struct SnapshotFile<'a> {
    version: u32,
    app: &'a str,
    stage: &'a str,
    serial: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    secrets: Option<&'a SecretsHeader>,
    resources: &'a BTreeMap<String, ResourceState>,
}

impl<'a> SnapshotFile<'a> {
    fn new(snapshot: &'a Snapshot, serial: u64) -> Self {
        // Exhaustive, so that a field added to `Snapshot` cannot be left out of the file.
        let Snapshot {
            version: _,
            app,
            stage,
            serial: _,
            secrets,
            resources,
        } = snapshot;
        SnapshotFile {
            version: FORMAT_VERSION,
            app,
            stage,
            serial,
            secrets: secrets.as_ref(),
            resources,
        }
    }
}

/// The fields of a snapshot needed before (or without) reading all of it.
#[derive(Deserialize)]
struct Head {
    version: u32,
    #[serde(default)]
    serial: u64,
}

fn now_ms() -> u64 {
    millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Attaches what was being done, and to which file, to an I/O error.
trait IoContext<T> {
    fn context(self, doing: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn context(self, doing: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(format!("{doing} {}", path.display()), e))
    }
}
