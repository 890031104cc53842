//! A state backend in memory, for tests and for embedding the engine.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{JournalEntry, Lease, LeaseOwner, Snapshot, StateBackend};
use crate::error::{Error, Result};

/// State held in memory; every checkpoint is kept so tests can inspect them.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    snapshot: Option<Snapshot>,
    journal: Vec<JournalEntry>,
    lease: Option<Lease>,
    last_token: u64,
    appends: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl MemoryBackend {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state that starts as `snapshot`.
    pub fn with(snapshot: Snapshot) -> Self {
        let b = Self::default();
        b.inner.lock().expect("state lock").snapshot = Some(snapshot);
        b
    }

    /// How many checkpoints were appended so far.
    pub fn appends(&self) -> u64 {
        self.inner.lock().expect("state lock").appends
    }

    fn check(inner: &Inner, lease: &Lease, stage: &str) -> Result<()> {
        match &inner.lease {
            Some(l) if l.token == lease.token => Ok(()),
            other => Err(Error::LeaseLost {
                stage: stage.to_string(),
                ours: lease.token,
                current: other.as_ref().map_or(0, |l| l.token),
            }),
        }
    }
}

#[async_trait]
impl StateBackend for MemoryBackend {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn lock(&self, owner: &LeaseOwner, ttl: Duration) -> Result<Lease> {
        let mut inner = self.inner.lock().expect("state lock");
        let now = now_ms();
        if let Some(l) = &inner.lease {
            if l.expires_at_ms > now {
                return Err(Error::Locked {
                    stage: "memory".into(),
                    owner: l.owner.to_string(),
                    token: l.token,
                    expires_in_secs: (l.expires_at_ms - now) / 1000,
                });
            }
        }
        inner.last_token += 1;
        let lease = Lease {
            owner: owner.clone(),
            token: inner.last_token,
            acquired_at_ms: now,
            expires_at_ms: now + ttl.as_millis() as u64,
        };
        inner.lease = Some(lease.clone());
        Ok(lease)
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let mut inner = self.inner.lock().expect("state lock");
        Self::check(&inner, lease, "memory")?;
        let renewed = Lease {
            expires_at_ms: now_ms() + ttl.as_millis() as u64,
            ..lease.clone()
        };
        inner.lease = Some(renewed.clone());
        Ok(renewed)
    }

    async fn unlock(&self, lease: &Lease) -> Result<()> {
        let mut inner = self.inner.lock().expect("state lock");
        if inner.lease.as_ref().is_some_and(|l| l.token == lease.token) {
            inner.lease = None;
        }
        Ok(())
    }

    async fn force_unlock(&self) -> Result<()> {
        self.inner.lock().expect("state lock").lease = None;
        Ok(())
    }

    async fn load(&self) -> Result<Option<Snapshot>> {
        let inner = self.inner.lock().expect("state lock");
        if inner.snapshot.is_none() && inner.journal.is_empty() {
            return Ok(None);
        }
        let mut snap = inner
            .snapshot
            .clone()
            .unwrap_or_else(|| Snapshot::new("", ""));
        for e in &inner.journal {
            snap.apply(e);
        }
        Ok(Some(snap))
    }

    async fn append(&self, lease: &Lease, entry: &JournalEntry) -> Result<()> {
        let mut inner = self.inner.lock().expect("state lock");
        Self::check(&inner, lease, "memory")?;
        inner.journal.push(entry.clone());
        inner.appends += 1;
        Ok(())
    }

    async fn commit(&self, lease: &Lease, snapshot: &Snapshot) -> Result<()> {
        let mut inner = self.inner.lock().expect("state lock");
        Self::check(&inner, lease, "memory")?;
        inner.snapshot = Some(snapshot.clone());
        inner.journal.clear();
        Ok(())
    }
}
