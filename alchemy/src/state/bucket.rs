//! State in a bucket: S3, R2, or any other [`BucketStore`](crate::bucket::BucketStore), so
//! that a team shares a stage.
//!
//! Everything rests on the bucket's conditional writes (`If-None-Match: *` and `If-Match`), the
//! one atomic operation every object store offers:
//!
//! - `lock.json` holds the lease and the last fencing token. Taking, renewing and giving back
//!   the lease are compare-and-swap writes on it, so two deploys racing for a free lease cannot
//!   both win, and tokens only grow.
//! - `journal/<token>-<seq>.json` holds one checkpoint each, written create-only. Before every
//!   checkpoint the lease is read back: a deploy whose lease was taken over stops with
//!   [`Error::LeaseLost`] before its next provider call.
//! - `state.json` holds the last committed snapshot and how far into the journal it reaches;
//!   `state.json.bak` the one before. A commit replaces `state.json` by compare-and-swap and
//!   then deletes the journal entries it folded in; entries it could not delete are skipped on
//!   load.
//!
//! A lease is taken over only once it has expired: a remote backend cannot tell whether the
//! holder's process is alive.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{JournalEntry, Lease, LeaseOwner, Snapshot, StateBackend, FORMAT_VERSION};
use crate::bucket::{BucketClient, BucketError, PutMode};
use crate::error::{Error, Result};

/// The largest state object read (a 10,000-resource state is about 1 MiB).
const MAX_OBJECT: usize = 256 << 20;
/// Journal entries read at once on load.
const READ_AHEAD: usize = 16;
/// Attempts at a compare-and-swap on the lock that keeps losing to other writers.
const LOCK_ATTEMPTS: usize = 5;

/// `lock.json`: the lease, if one is held, and the last token handed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LockFile {
    token: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
}

/// `state.json`: the snapshot and the journal position it includes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateFile {
    /// Entries up to (not including) this position are in `snapshot`.
    folded: Position,
    snapshot: Snapshot,
}

/// A journal position: the writer's fencing token, then its sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Position {
    token: u64,
    seq: u64,
}

/// State kept in a bucket under a key prefix (default `<app>/<stage>/`).
pub struct BucketBackend {
    bucket: BucketClient,
    app: String,
    stage: String,
    prefix: String,
    /// The next journal sequence number, per fencing token.
    next: Mutex<Position>,
}

impl std::fmt::Debug for BucketBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketBackend")
            .field("provider", &self.bucket.provider())
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl BucketBackend {
    /// The state of `stage` of `app` in `bucket`, under the prefix `<app>/<stage>/`.
    pub fn new(bucket: BucketClient, app: &str, stage: &str) -> Self {
        BucketBackend {
            bucket,
            app: app.to_owned(),
            stage: stage.to_owned(),
            prefix: format!("{app}/{stage}/"),
            next: Mutex::new(Position::default()),
        }
    }

    /// Keeps the state under `prefix` instead (a `/` is added when missing); several apps or
    /// teams can share one bucket with prefixes of their own.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.prefix = prefix;
        self
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn where_(&self, name: &str) -> String {
        format!("{}://{}", self.bucket.provider(), self.key(name))
    }

    fn bucket_error(&self, what: &str, e: BucketError) -> Error {
        Error::Config(format!(
            "cannot {what} the state of stage `{}` in {}: {e}",
            self.stage,
            self.where_("")
        ))
    }

    fn corrupt(&self, name: &str, detail: impl std::fmt::Display) -> Error {
        Error::CorruptState {
            path: self.where_(name).into(),
            detail: detail.to_string(),
            backup: self.where_("state.json.bak").into(),
        }
    }

    /// Reads `name` and its etag, or `None` when it does not exist.
    async fn read(&self, name: &str) -> Result<Option<(Bytes, String)>> {
        match self.bucket.get(&self.key(name)).await {
            Ok(got) => {
                let etag = got.meta.etag.clone();
                let bytes = got
                    .bytes(MAX_OBJECT)
                    .await
                    .map_err(|e| self.bucket_error("read", e))?;
                Ok(Some((bytes, etag)))
            }
            Err(BucketError::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.bucket_error("read", e)),
        }
    }

    async fn read_lock(&self) -> Result<Option<(LockFile, String)>> {
        let Some((bytes, etag)) = self.read("lock.json").await? else {
            return Ok(None);
        };
        let lock = serde_json::from_slice(&bytes).map_err(|e| self.corrupt("lock.json", e))?;
        Ok(Some((lock, etag)))
    }

    /// Writes `lock.json` if it is still at `etag` (or still absent). `false` when another
    /// writer got there first.
    async fn swap_lock(&self, lock: &LockFile, etag: Option<&str>) -> Result<bool> {
        let body = serde_json::to_vec(lock).expect("a lock file serialises");
        let mode = match etag {
            Some(etag) => PutMode::Update(etag.to_owned()),
            None => PutMode::Create,
        };
        match self
            .bucket
            .put_with(&self.key("lock.json"), body, mode.into())
            .await
        {
            Ok(_) => Ok(true),
            Err(
                BucketError::Precondition { .. }
                | BucketError::AlreadyExists { .. }
                | BucketError::NotFound { .. },
            ) => Ok(false),
            Err(e) => Err(self.bucket_error("write the lease on", e)),
        }
    }

    fn lost(&self, ours: &Lease, current: Option<&LockFile>) -> Error {
        Error::LeaseLost {
            stage: self.stage.clone(),
            ours: ours.token,
            current: current
                .and_then(|l| l.lease.as_ref())
                .map_or(0, |l| l.token),
        }
    }

    /// Reads the lock back and checks that `lease` still holds it.
    async fn check(&self, lease: &Lease) -> Result<(LockFile, String)> {
        match self.read_lock().await? {
            Some((lock, etag)) if lock.lease.as_ref().is_some_and(|l| l.token == lease.token) => {
                Ok((lock, etag))
            }
            other => Err(self.lost(lease, other.as_ref().map(|(l, _)| l))),
        }
    }

    async fn read_state(&self) -> Result<Option<(StateFile, String)>> {
        let Some((bytes, etag)) = self.read("state.json").await? else {
            return Ok(None);
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt("state.json", e))?;
        let version = value
            .pointer("/snapshot/version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) {
            return Err(Error::StateTooNew {
                path: self.where_("state.json").into(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let state = serde_json::from_value(value).map_err(|e| self.corrupt("state.json", e))?;
        Ok(Some((state, etag)))
    }

    /// The journal entries after `from`, by position.
    async fn journal(&self, from: Position) -> Result<Vec<(Position, String)>> {
        let prefix = self.key("journal/");
        let metas: Vec<_> = self
            .bucket
            .list_all(prefix.clone())
            .try_collect()
            .await
            .map_err(|e| self.bucket_error("list", e))?;
        let mut entries = Vec::new();
        for meta in metas {
            let name = &meta.key[prefix.len()..];
            let position = parse_position(name).ok_or_else(|| {
                self.corrupt(&format!("journal/{name}"), "not a journal entry name")
            })?;
            if position >= from {
                entries.push((position, meta.key));
            }
        }
        entries.sort();
        Ok(entries)
    }
}

fn journal_name(position: Position) -> String {
    format!("journal/{:020}-{:010}.json", position.token, position.seq)
}

fn parse_position(name: &str) -> Option<Position> {
    let stem = name.strip_suffix(".json")?;
    let (token, seq) = stem.split_once('-')?;
    Some(Position {
        token: token.parse().ok()?,
        seq: seq.parse().ok()?,
    })
}

#[async_trait]
impl StateBackend for BucketBackend {
    fn describe(&self) -> String {
        self.where_("")
    }

    async fn lock(&self, owner: &LeaseOwner, ttl: Duration) -> Result<Lease> {
        for _ in 0..LOCK_ATTEMPTS {
            let current = self.read_lock().await?;
            let now = now_ms();
            if let Some(held) = current.as_ref().and_then(|(l, _)| l.lease.as_ref()) {
                if held.expires_at_ms > now {
                    return Err(Error::Locked {
                        stage: self.stage.clone(),
                        owner: held.owner.to_string(),
                        token: held.token,
                        expires_in_secs: (held.expires_at_ms - now).div_ceil(1000),
                    });
                }
            }
            let token = current.as_ref().map_or(0, |(l, _)| l.token) + 1;
            let lease = Lease {
                owner: owner.clone(),
                token,
                acquired_at_ms: now,
                expires_at_ms: now + ttl.as_millis() as u64,
            };
            let lock = LockFile {
                token,
                lease: Some(lease.clone()),
            };
            if self
                .swap_lock(&lock, current.as_ref().map(|(_, e)| e.as_str()))
                .await?
            {
                *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Position { token, seq: 0 };
                return Ok(lease);
            }
        }
        Err(Error::Config(format!(
            "the lease on the state of stage `{}` in {} keeps changing under us: another deploy is starting; try again",
            self.stage,
            self.where_("lock.json")
        )))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        for _ in 0..LOCK_ATTEMPTS {
            let (_, etag) = self.check(lease).await?;
            let renewed = Lease {
                expires_at_ms: now_ms() + ttl.as_millis() as u64,
                ..lease.clone()
            };
            let lock = LockFile {
                token: lease.token,
                lease: Some(renewed.clone()),
            };
            if self.swap_lock(&lock, Some(&etag)).await? {
                return Ok(renewed);
            }
        }
        Err(self.lost(lease, None))
    }

    async fn unlock(&self, lease: &Lease) -> Result<()> {
        for _ in 0..LOCK_ATTEMPTS {
            let Ok((lock, etag)) = self.check(lease).await else {
                return Ok(());
            };
            let free = LockFile {
                token: lock.token,
                lease: None,
            };
            if self.swap_lock(&free, Some(&etag)).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn force_unlock(&self) -> Result<()> {
        for _ in 0..LOCK_ATTEMPTS {
            let Some((lock, etag)) = self.read_lock().await? else {
                return Ok(());
            };
            if lock.lease.is_none() {
                return Ok(());
            }
            let free = LockFile {
                token: lock.token,
                lease: None,
            };
            if self.swap_lock(&free, Some(&etag)).await? {
                return Ok(());
            }
        }
        Err(Error::Config(format!(
            "the lease in {} keeps changing: a deploy is running; stop it first",
            self.where_("lock.json")
        )))
    }

    async fn load(&self) -> Result<Option<Snapshot>> {
        let state = self.read_state().await?;
        let from = state
            .as_ref()
            .map_or(Position::default(), |(s, _)| s.folded);
        let journal = self.journal(from).await?;
        if state.is_none() && journal.is_empty() {
            return Ok(None);
        }
        let mut snapshot = state.map_or_else(
            || Snapshot::new(&self.app, &self.stage),
            |(s, _)| s.snapshot,
        );
        let mut entries = futures::stream::iter(journal)
            .map(|(_, key)| async move {
                let got = self.bucket.get(&key).await?;
                got.bytes(MAX_OBJECT).await.map(|b| (key, b))
            })
            .buffered(READ_AHEAD);
        while let Some(next) = entries.next().await {
            let (key, bytes) = next.map_err(|e| self.bucket_error("read the journal of", e))?;
            let name = key[self.prefix.len()..].to_owned();
            let entry: JournalEntry =
                serde_json::from_slice(&bytes).map_err(|e| self.corrupt(&name, e))?;
            snapshot.apply(&entry);
        }
        Ok(Some(snapshot))
    }

    async fn append(&self, lease: &Lease, entry: &JournalEntry) -> Result<()> {
        self.check(lease).await?;
        let position = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            if next.token != lease.token {
                *next = Position {
                    token: lease.token,
                    seq: 0,
                };
            }
            let position = *next;
            next.seq += 1;
            position
        };
        let body = serde_json::to_vec(entry).expect("a journal entry serialises");
        self.bucket
            .put_with(
                &self.key(&journal_name(position)),
                body,
                PutMode::Create.into(),
            )
            .await
            .map_err(|e| self.bucket_error("write a checkpoint to", e))?;
        Ok(())
    }

    async fn commit(&self, lease: &Lease, snapshot: &Snapshot) -> Result<()> {
        self.check(lease).await?;
        let folded = *self.next.lock().unwrap_or_else(|e| e.into_inner());
        let folded = if folded.token == lease.token {
            folded
        } else {
            Position {
                token: lease.token,
                seq: 0,
            }
        };
        let previous = self.read("state.json").await?;
        if let Some((bytes, _)) = &previous {
            self.bucket
                .put(&self.key("state.json.bak"), bytes.clone())
                .await
                .map_err(|e| self.bucket_error("back up", e))?;
        }
        let file = StateFile {
            folded,
            snapshot: snapshot.clone(),
        };
        let body = serde_json::to_vec(&file).expect("a snapshot serialises");
        let mode = match &previous {
            Some((_, etag)) => PutMode::Update(etag.clone()),
            None => PutMode::Create,
        };
        match self
            .bucket
            .put_with(&self.key("state.json"), body, mode.into())
            .await
        {
            Ok(_) => {}
            Err(
                BucketError::Precondition { .. }
                | BucketError::AlreadyExists { .. }
                | BucketError::NotFound { .. },
            ) => {
                return Err(self.lost(lease, self.read_lock().await?.as_ref().map(|(l, _)| l)));
            }
            Err(e) => return Err(self.bucket_error("commit", e)),
        }
        // Entries before `folded` are in the new snapshot; load skips any left behind.
        for (_, key) in self.journal(Position::default()).await? {
            let position = parse_position(&key[self.key("journal/").len()..]);
            if position.is_some_and(|p| p < folded) {
                self.bucket
                    .delete(&key)
                    .await
                    .map_err(|e| self.bucket_error("clean up the journal of", e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
