//! [`Storage`]: an actor's own key-value store, with atomic batches and transactions.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::shorten;
use super::{ActorError, Capabilities, MaybeSendSync, Result};

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Store `value` under `key`, replacing what was there.
    Put {
        /// The key.
        key: String,
        /// The value's bytes.
        value: Bytes,
    },
    /// Remove `key`, if it is there.
    Delete {
        /// The key.
        key: String,
    },
}

impl WriteOp {
    /// The key the write concerns.
    pub fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key } => key,
        }
    }
}

/// Which entries [`Storage::list_with`] returns.
///
/// Entries come in key order (byte-wise), or in reverse with `reverse`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys that start with this.
    pub prefix: String,
    /// Only keys after this one (before it, with `reverse`).
    pub start_after: Option<String>,
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Largest key first.
    pub reverse: bool,
}

impl ListOptions {
    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        ListOptions {
            prefix: prefix.into(),
            ..ListOptions::default()
        }
    }

    /// Whether `key` is selected by `prefix` and `start_after` (not by `limit`).
    pub fn selects(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && match &self.start_after {
                None => true,
                Some(after) if self.reverse => key < after.as_str(),
                Some(after) => key > after.as_str(),
            }
    }
}

/// The key-value store of one actor instance, as a provider implements it.
///
/// Only the actor's own instance uses it, one turn at a time, so implementations need no
/// concurrency control between actors; `write` must be atomic (all of it or none).
/// Application code uses it through [`Storage`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait StorageBackend: MaybeSendSync + 'static {
    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// The entries that `options` selects, in order.
    async fn list(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>>;

    /// Applies every write, in order, atomically.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<()>;

    /// Removes `key`, saying whether it was there.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Removes every key.
    async fn delete_all(&self) -> Result<()>;
}

/// The key-value store of one actor instance.
///
/// Values are bytes ([`get_bytes`](Self::get_bytes), [`put_bytes`](Self::put_bytes)) or any
/// serde type, stored as JSON ([`get`](Self::get), [`put`](Self::put)). Every write is durable
/// when its future completes. [`batch`](Self::batch) applies several writes atomically and
/// [`transaction`](Self::transaction) runs reads and writes that commit together or not at all.
///
/// Keys are non-empty UTF-8 strings up to
/// [`Capabilities::max_key_bytes`](super::Capabilities::max_key_bytes); values are at most
/// [`Capabilities::max_value_bytes`](super::Capabilities::max_value_bytes).
#[derive(Clone)]
pub struct Storage {
    backend: Arc<dyn StorageBackend>,
    limits: Capabilities,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

impl Storage {
    /// A store over `backend`, enforcing the key and value limits of `limits`.
    pub fn new(backend: Arc<dyn StorageBackend>, limits: Capabilities) -> Self {
        Storage { backend, limits }
    }

    /// The value under `key`, decoded from JSON, or `None` when there is none.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get_bytes(key).await? {
            Some(bytes) => decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The bytes under `key`, or `None` when there is none.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>> {
        self.check_key(key)?;
        self.backend.get(key).await
    }

    /// Stores `value` as JSON under `key`.
    pub async fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.put_bytes(key, encode(value)?).await
    }

    /// Stores `value` under `key`.
    pub async fn put_bytes(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        let op = self.put_op(key, value.into())?;
        self.backend.write(vec![op]).await
    }

    /// Removes `key`, saying whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        self.check_key(key)?;
        self.backend.delete(key).await
    }

    /// Removes every key of this actor.
    pub async fn delete_all(&self) -> Result<()> {
        self.backend.delete_all().await
    }

    /// Every entry whose key starts with `prefix`, in key order, decoded from JSON.
    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<BTreeMap<String, T>> {
        self.list_bytes(prefix)
            .await?
            .into_iter()
            .map(|(key, bytes)| decode(&key, &bytes).map(|value| (key, value)))
            .collect()
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub async fn list_bytes(&self, prefix: &str) -> Result<Vec<(String, Bytes)>> {
        self.list_with(&ListOptions::prefix(prefix)).await
    }

    /// The entries that `options` selects, in order.
    pub async fn list_with(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>> {
        self.backend.list(options).await
    }

    /// Applies every write of `batch` atomically: after a crash, all of them or none are there.
    ///
    /// ```
    /// # async fn example(storage: alchemy::actor::Storage) -> alchemy::actor::Result<()> {
    /// use alchemy::actor::Batch;
    ///
    /// let batch = Batch::new().put("a", &1)?.put("b", &2)?.delete("old");
    /// storage.batch(batch).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn batch(&self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        for op in &batch.ops {
            match op {
                WriteOp::Put { key, value } => self.check_value(key, value)?,
                WriteOp::Delete { key } => self.check_key(key)?,
            }
        }
        self.backend.write(batch.ops).await
    }

    /// Runs `f` with a [`Transaction`] and commits its writes atomically when `f` returns
    /// `Ok`; when it returns `Err` (or calls [`Transaction::rollback`]), nothing is written.
    ///
    /// Reads through the transaction see its own writes. Actors run one turn at a time, so no
    /// other event of this actor interleaves with the transaction; code of the same turn that
    /// writes through [`Storage`] directly while the transaction is open is not isolated from it.
    ///
    /// ```
    /// # async fn example(storage: alchemy::actor::Storage) -> alchemy::actor::Result<()> {
    /// let moved: u64 = storage
    ///     .transaction(|txn| async move {
    ///         let from: u64 = txn.get("alice").await?.unwrap_or(0);
    ///         let to: u64 = txn.get("bob").await?.unwrap_or(0);
    ///         txn.put("alice", &(from - from.min(5)))?;
    ///         txn.put("bob", &(to + from.min(5)))?;
    ///         Ok(from.min(5))
    ///     })
    ///     .await?;
    /// # let _ = moved;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn transaction<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let txn = Transaction {
            storage: self.clone(),
            state: Arc::new(Mutex::new(TxnState::default())),
        };
        let value = f(txn.clone()).await?;
        let ops = {
            let mut state = txn.lock();
            state.finished = true;
            if state.rolled_back {
                return Ok(value);
            }
            std::mem::take(&mut state.writes)
                .into_iter()
                .map(|(key, value)| match value {
                    Some(value) => WriteOp::Put { key, value },
                    None => WriteOp::Delete { key },
                })
                .collect::<Vec<_>>()
        };
        if !ops.is_empty() {
            self.backend.write(ops).await?;
        }
        Ok(value)
    }

    fn check_key(&self, key: &str) -> Result<()> {
        let reason = if key.is_empty() {
            "it is empty".to_string()
        } else if key.len() > self.limits.max_key_bytes {
            format!(
                "it is {} bytes long, more than the limit of {}",
                key.len(),
                self.limits.max_key_bytes
            )
        } else {
            return Ok(());
        };
        Err(ActorError::InvalidKey {
            key: shorten(key),
            reason,
        })
    }

    fn check_value(&self, key: &str, value: &Bytes) -> Result<()> {
        self.check_key(key)?;
        if value.len() > self.limits.max_value_bytes {
            return Err(ActorError::TooLarge {
                what: "stored value",
                size: value.len(),
                limit: self.limits.max_value_bytes,
            });
        }
        Ok(())
    }

    fn put_op(&self, key: &str, value: Bytes) -> Result<WriteOp> {
        self.check_value(key, &value)?;
        Ok(WriteOp::Put {
            key: key.to_string(),
            value,
        })
    }
}

/// Writes to apply together with [`Storage::batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<WriteOp>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Adds a write of `value`, as JSON, under `key`.
    pub fn put<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Result<Self> {
        Ok(self.put_bytes(key, encode(value)?))
    }

    /// Adds a write of `value` under `key`.
    pub fn put_bytes(mut self, key: &str, value: impl Into<Bytes>) -> Self {
        self.ops.push(WriteOp::Put {
            key: key.to_string(),
            value: value.into(),
        });
        self
    }

    /// Adds a removal of `key`.
    pub fn delete(mut self, key: &str) -> Self {
        self.ops.push(WriteOp::Delete {
            key: key.to_string(),
        });
        self
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Whether the batch has no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[derive(Default)]
struct TxnState {
    /// Pending writes: `None` is a delete.
    writes: BTreeMap<String, Option<Bytes>>,
    rolled_back: bool,
    finished: bool,
}

/// The reads and writes of one [`Storage::transaction`].
///
/// Writes are kept until the transaction's closure returns `Ok`, then applied atomically;
/// reads see them. A `Transaction` is a cheap handle: clones share the same transaction.
#[derive(Clone)]
pub struct Transaction {
    storage: Storage,
    state: Arc<Mutex<TxnState>>,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Transaction")
            .field("pending_writes", &state.writes.len())
            .field("rolled_back", &state.rolled_back)
            .finish()
    }
}

impl Transaction {
    fn lock(&self) -> std::sync::MutexGuard<'_, TxnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self, key: &str) -> Option<Option<Bytes>> {
        self.lock().writes.get(key).cloned()
    }

    fn record(&self, key: &str, value: Option<Bytes>) -> Result<()> {
        let mut state = self.lock();
        if state.finished {
            return Err(ActorError::backend(
                "storage",
                "the transaction is over: write inside the closure given to `transaction`",
            ));
        }
        state.writes.insert(key.to_string(), value);
        Ok(())
    }

    /// The value under `key` as this transaction sees it, decoded from JSON.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get_bytes(key).await? {
            Some(bytes) => decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The bytes under `key` as this transaction sees it.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>> {
        match self.pending(key) {
            Some(value) => Ok(value),
            None => self.storage.get_bytes(key).await,
        }
    }

    /// Writes `value` as JSON under `key` when the transaction commits.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.put_bytes(key, encode(value)?)
    }

    /// Writes `value` under `key` when the transaction commits.
    pub fn put_bytes(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        let value = value.into();
        self.storage.check_value(key, &value)?;
        self.record(key, Some(value))
    }

    /// Removes `key` when the transaction commits, saying whether it is there now.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let existed = self.get_bytes(key).await?.is_some();
        self.record(key, None)?;
        Ok(existed)
    }

    /// The entries that `options` selects, as this transaction sees them.
    pub async fn list_with(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>> {
        let unlimited = ListOptions {
            limit: None,
            ..options.clone()
        };
        let mut entries: BTreeMap<String, Bytes> = self
            .storage
            .list_with(&unlimited)
            .await?
            .into_iter()
            .collect();
        for (key, value) in self.lock().writes.iter() {
            if !options.selects(key) {
                continue;
            }
            match value {
                Some(value) => entries.insert(key.clone(), value.clone()),
                None => entries.remove(key),
            };
        }
        let limit = options.limit.unwrap_or(usize::MAX);
        Ok(if options.reverse {
            entries.into_iter().rev().take(limit).collect()
        } else {
            entries.into_iter().take(limit).collect()
        })
    }

    /// Every entry whose key starts with `prefix`, as this transaction sees them, decoded
    /// from JSON.
    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<BTreeMap<String, T>> {
        self.list_with(&ListOptions::prefix(prefix))
            .await?
            .into_iter()
            .map(|(key, bytes)| decode(&key, &bytes).map(|value| (key, value)))
            .collect()
    }

    /// Discards every write: the transaction commits nothing, even if its closure returns
    /// `Ok`.
    pub fn rollback(&self) {
        let mut state = self.lock();
        state.rolled_back = true;
        state.writes.clear();
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(ActorError::Encode)
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| ActorError::Decode {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_options_select_by_prefix_and_start() {
        let mut options = ListOptions::prefix("a/");
        assert!(options.selects("a/1"));
        assert!(!options.selects("b/1"));
        options.start_after = Some("a/1".into());
        assert!(!options.selects("a/1"));
        assert!(options.selects("a/2"));
        options.reverse = true;
        assert!(options.selects("a/0"));
        assert!(!options.selects("a/2"));
    }

    #[test]
    fn batches_keep_their_order() {
        let batch = Batch::new()
            .put("a", &1)
            .unwrap()
            .delete("b")
            .put_bytes("c", "x");
        let keys: Vec<&str> = batch.ops().iter().map(WriteOp::key).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert!(!batch.is_empty());
        assert!(Batch::new().is_empty());
    }
}
