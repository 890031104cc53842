//! [`TurnStorage`]: the storage of one actor instance, turn by turn: reads go through to
//! DynamoDB (consistent reads, cached for the turn), writes are buffered and committed with
//! the turn.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use alchemy::actor::{ActorError, ListOptions, Result, StorageBackend, WriteOp};
use bytes::Bytes;

use super::table::{Table, Write, MAX_TURN_BYTES, MAX_WRITES_PER_TURN};
use super::PROVIDER;

/// What a turn has written so far.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    /// `delete_all` was called: nothing of the current generation is visible any more.
    pub(crate) cleared: bool,
    /// The value of each key written, `None` for a delete, in key order.
    pub(crate) writes: BTreeMap<String, Option<Bytes>>,
    /// Keys read from the table this turn (no one else writes while the lease is held).
    reads: HashMap<String, Option<Bytes>>,
}

/// The turn the storage serves.
#[derive(Debug, Default)]
struct State {
    /// The storage generation of the turn.
    gen: u64,
    /// What the turn wrote.
    buffer: Buffer,
    /// No turn is running: writes are refused.
    closed: bool,
}

impl Buffer {
    /// Whether the commit has anything to write.
    pub(crate) fn is_empty(&self) -> bool {
        !self.cleared && self.writes.is_empty()
    }

    /// The writes, as the commit sends them.
    pub(crate) fn writes(&self) -> Vec<Write<'_>> {
        self.writes
            .iter()
            .filter_map(|(key, value)| match value {
                Some(value) => Some(Write::Put(key, value)),
                // After `delete_all`, the new generation starts empty: nothing to delete.
                None if self.cleared => None,
                None => Some(Write::Delete(key)),
            })
            .collect()
    }
}

/// The storage backend of an actor instance; it serves one turn at a time.
pub(crate) struct TurnStorage {
    table: Table,
    label: String,
    id: String,
    state: Mutex<State>,
}

impl TurnStorage {
    /// The storage of actor `id`, closed until [`begin`](Self::begin).
    pub(crate) fn new(table: Table, label: String, id: String) -> Self {
        TurnStorage {
            table,
            label,
            id,
            state: Mutex::new(State {
                closed: true,
                ..State::default()
            }),
        }
    }

    /// Starts a turn on storage generation `gen`, with nothing written or read yet.
    pub(crate) fn begin(&self, gen: u64) {
        *self.lock() = State {
            gen,
            buffer: Buffer::default(),
            closed: false,
        };
    }

    /// Ends the turn: hands over what it wrote, and refuses writes until the next turn.
    pub(crate) fn finish(&self) -> Buffer {
        let mut state = self.lock();
        state.closed = true;
        std::mem::take(&mut state.buffer)
    }

    fn check_open(&self, state: &State) -> Result<()> {
        if state.closed {
            return Err(ActorError::backend(
                PROVIDER,
                format!(
                    "actor `{}` wrote to its storage after its turn ended: the write was refused. Await every write inside the handler",
                    self.label
                ),
            ));
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the turn sees under `key` without asking the table, if it knows.
    fn known(&self, key: &str) -> Option<Option<Bytes>> {
        let state = self.lock();
        let buffer = &state.buffer;
        if let Some(value) = buffer.writes.get(key) {
            return Some(value.clone());
        }
        if buffer.cleared {
            return Some(None);
        }
        buffer.reads.get(key).cloned()
    }
}

#[async_trait::async_trait]
impl StorageBackend for TurnStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Some(value) = self.known(key) {
            return Ok(value);
        }
        let gen = self.lock().gen;
        let value = self.table.get(&self.id, gen, key).await?;
        self.lock()
            .buffer
            .reads
            .insert(key.to_string(), value.clone());
        Ok(value)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>> {
        let (gen, cleared) = {
            let state = self.lock();
            (state.gen, state.buffer.cleared)
        };
        let mut entries: BTreeMap<String, Bytes> = if cleared {
            BTreeMap::new()
        } else {
            self.table
                .list(&self.id, gen, &options.prefix)
                .await?
                .into_iter()
                .collect()
        };
        for (key, value) in &self.lock().buffer.writes {
            match value {
                Some(value) => entries.insert(key.clone(), value.clone()),
                None => entries.remove(key),
            };
        }
        let selected = entries.into_iter().filter(|(key, _)| options.selects(key));
        let limit = options.limit.unwrap_or(usize::MAX);
        Ok(if options.reverse {
            selected.rev().take(limit).collect()
        } else {
            selected.take(limit).collect()
        })
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        let mut state = self.lock();
        self.check_open(&state)?;
        let mut writes = state.buffer.writes.clone();
        for op in ops {
            match op {
                WriteOp::Put { key, value } => writes.insert(key, Some(value)),
                WriteOp::Delete { key } => writes.insert(key, None),
            };
        }
        if writes.len() > MAX_WRITES_PER_TURN {
            return Err(ActorError::backend(
                PROVIDER,
                format!(
                    "actor `{}` writes {} keys in one turn, more than the {MAX_WRITES_PER_TURN} DynamoDB can commit at once (100 items per transaction, one of them the actor's lease): the write was refused; spread the writes over several requests, or store related values under one key",
                    self.label,
                    writes.len()
                ),
            ));
        }
        let bytes: usize = writes
            .iter()
            .map(|(key, value)| key.len() + value.as_ref().map_or(0, Bytes::len))
            .sum();
        if bytes > MAX_TURN_BYTES {
            return Err(ActorError::TooLarge {
                what: "total of the keys and values one turn writes (DynamoDB commits at most 4 MB per transaction)",
                size: bytes,
                limit: MAX_TURN_BYTES,
            });
        }
        state.buffer.writes = writes;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let existed = self.get(key).await?.is_some();
        self.write(vec![WriteOp::Delete {
            key: key.to_string(),
        }])
        .await?;
        Ok(existed)
    }

    async fn delete_all(&self) -> Result<()> {
        let mut state = self.lock();
        self.check_open(&state)?;
        let buffer = &mut state.buffer;
        buffer.cleared = true;
        buffer.writes.clear();
        buffer.reads.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(buffer: &Buffer) -> Vec<String> {
        buffer
            .writes()
            .iter()
            .map(|write| match write {
                Write::Put(key, value) => format!("put {key}={}", value.len()),
                Write::Delete(key) => format!("delete {key}"),
            })
            .collect()
    }

    #[test]
    fn a_commit_writes_puts_and_deletes_in_key_order() {
        let mut buffer = Buffer::default();
        assert!(buffer.is_empty());
        buffer.writes.insert("b".into(), None);
        buffer
            .writes
            .insert("a".into(), Some(Bytes::from_static(b"xy")));
        assert!(!buffer.is_empty());
        assert_eq!(kinds(&buffer), ["put a=2", "delete b"]);
    }

    #[test]
    fn after_delete_all_a_commit_writes_only_puts() {
        let mut buffer = Buffer {
            cleared: true,
            ..Buffer::default()
        };
        // Clearing alone is something to commit: the move to a new generation.
        assert!(!buffer.is_empty());
        buffer.writes.insert("gone".into(), None);
        buffer
            .writes
            .insert("kept".into(), Some(Bytes::from_static(b"x")));
        assert_eq!(kinds(&buffer), ["put kept=1"]);
    }
}
