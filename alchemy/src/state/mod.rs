//! State: what was deployed, checkpointed around every step, behind a lease lock.
//!
//! A stage's state is a snapshot plus a journal of the steps applied since. Every step of a
//! deploy appends the whole record of the one resource it touches (before and after the provider
//! call), so the bytes written per step do not grow with the stack, and a process killed at any
//! point leaves a journal from which the next deploy knows exactly what was in flight.

mod bucket;
#[cfg(feature = "conformance")]
pub mod conformance;
mod file;
mod lock;
mod memory;

pub use bucket::BucketBackend;
pub use file::FileBackend;
pub use lock::{Lease, LeaseOwner};
pub use memory::MemoryBackend;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::resource::RemovalPolicy;

/// The newest state format version this crate reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// The whole state of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The format version; newer versions are refused with a clear error.
    pub version: u32,
    /// The app.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// Bumped on every commit.
    pub serial: u64,
    /// How secrets in this state are sealed, once there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsHeader>,
    /// Every resource by logical id.
    pub resources: BTreeMap<String, ResourceState>,
}

impl Snapshot {
    /// An empty state for a stage.
    pub fn new(app: &str, stage: &str) -> Self {
        Snapshot {
            version: FORMAT_VERSION,
            app: app.to_string(),
            stage: stage.to_string(),
            serial: 0,
            secrets: None,
            resources: BTreeMap::new(),
        }
    }

    /// Applies one journal entry.
    pub fn apply(&mut self, entry: &JournalEntry) {
        match entry {
            JournalEntry::Put { id, record } => {
                self.resources.insert(id.clone(), record.clone());
            }
            JournalEntry::Remove { id } => {
                self.resources.remove(id);
            }
            JournalEntry::Secrets { header } => self.secrets = Some(header.clone()),
        }
    }
}

/// How the secrets of a state are sealed: the key derivation and a check value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsHeader {
    /// `argon2id` for a passphrase, `raw` for a key given directly.
    pub kdf: String,
    /// The salt for the key derivation, base64.
    pub salt: String,
    /// A known text sealed with the key, to tell a wrong key from a corrupt secret.
    pub check: String,
}

/// Where a resource is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exists with the recorded props and output.
    Created,
    /// A create was started and may or may not have happened.
    Creating,
    /// An update to `pending_props` was started.
    Updating,
    /// A delete was started.
    Deleting,
}

/// One resource as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// The kind.
    pub kind: String,
    /// The provider that hosts it.
    pub provider: String,
    /// Its life-cycle status.
    pub status: Status,
    /// Resolved props last applied (for `Creating`, the props being created); secrets sealed.
    pub props: Value,
    /// What the provider returned, once it returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The props an update in progress is moving to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_props: Option<Value>,
    /// Resources this one depended on when applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// What happens when it is removed.
    #[serde(default, skip_serializing_if = "is_default_removal")]
    pub removal: RemovalPolicy,
    /// Bumped on every replacement; part of the physical name.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// Earlier generations replaced but not yet deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retired>,
}

/// A replaced generation of a resource, waiting to be deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retired {
    /// Its generation.
    pub generation: u64,
    /// Its props.
    pub props: Value,
    /// Its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_default_removal(r: &RemovalPolicy) -> bool {
    *r == RemovalPolicy::Destroy
}

/// One checkpoint: the new record of one resource, or its removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// The resource's record is now this.
    Put {
        /// The resource.
        id: String,
        /// Its record.
        record: ResourceState,
    },
    /// The resource is gone from state.
    Remove {
        /// The resource.
        id: String,
    },
    /// The secrets header was set.
    Secrets {
        /// The header.
        header: SecretsHeader,
    },
}

/// Where a stage's state lives: the local [`FileBackend`] by default, or a [`BucketBackend`]
/// on S3, R2 or any bucket, shared by a team.
///
/// Every write carries the caller's [`Lease`]; a backend refuses writes from a lease that has
/// been taken over (its fencing token is stale) with [`crate::Error::LeaseLost`].
#[async_trait::async_trait]
pub trait StateBackend: Send + Sync {
    /// A human description, for messages (`file .alchemy/dev`).
    fn describe(&self) -> String;

    /// Takes the lease, failing fast with [`crate::Error::Locked`] if someone else holds a live one.
    /// An expired lease, or one whose holder is known to be dead, is taken over.
    async fn lock(&self, owner: &LeaseOwner, ttl: Duration) -> Result<Lease>;

    /// Extends a held lease.
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease>;

    /// Gives the lease back.
    async fn unlock(&self, lease: &Lease) -> Result<()>;

    /// Removes whatever lease is held, whoever holds it (`state unlock`).
    async fn force_unlock(&self) -> Result<()>;

    /// The snapshot with the journal replayed onto it; `None` for a stage never deployed.
    async fn load(&self) -> Result<Option<Snapshot>>;

    /// Appends one checkpoint. Once this returns, a process kill cannot lose it.
    async fn append(&self, lease: &Lease, entry: &JournalEntry) -> Result<()>;

    /// Writes `snapshot` as the new base, atomically, keeps the previous one as a backup, and
    /// empties the journal.
    async fn commit(&self, lease: &Lease, snapshot: &Snapshot) -> Result<()>;
}
