//! Alarms of local actors: one SQLite index for the whole runtime, and a timer per armed
//! alarm.
//!
//! The index outlives the process: when a namespace is registered, its alarms are armed
//! again, so an alarm set before a restart fires after it. Each `set` bumps the alarm's
//! generation; a firing carries the generation it was armed for, and is dropped when the
//! alarm was replaced or deleted in the meantime.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension};
use tokio::task::AbortHandle;

use super::db::open_connection;
use super::runtime::{Event, Namespace};
use super::tasks::Tasks;
use crate::actor::{ActorError, ActorId, Result};

/// An alarm as the index keeps it.
pub(crate) struct Pending {
    pub(crate) id: ActorId,
    pub(crate) at: SystemTime,
    pub(crate) generation: i64,
}

pub(crate) struct Alarms {
    conn: Arc<Mutex<Connection>>,
    timers: Mutex<HashMap<(String, String), AbortHandle>>,
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn time_of(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

fn index_error(error: impl std::fmt::Display) -> ActorError {
    ActorError::backend("local", format!("the alarm index failed: {error}"))
}

impl Alarms {
    /// Opens the index at `path`.
    pub(crate) fn open(path: &Path) -> Result<Alarms> {
        let conn = open_connection(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS alarms (
                namespace TEXT NOT NULL,
                id TEXT NOT NULL,
                name TEXT,
                at_ms INTEGER NOT NULL,
                generation INTEGER NOT NULL,
                PRIMARY KEY (namespace, id)
            ) WITHOUT ROWID;",
        )
        .map_err(index_error)?;
        Ok(Alarms {
            conn: Arc::new(Mutex::new(conn)),
            timers: Mutex::default(),
        })
    }

    async fn call<R: Send + 'static>(
        &self,
        tasks: &Tasks,
        work: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R> {
        let conn = self.conn.clone();
        tasks
            .handle()
            .spawn_blocking(move || {
                let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                work(&conn)
            })
            .await
            .map_err(index_error)?
            .map_err(index_error)
    }

    /// Schedules the alarm of `id` at `at`, replacing any other.
    pub(crate) async fn set(
        &self,
        tasks: &Tasks,
        namespace: &Arc<Namespace>,
        id: &ActorId,
        at: SystemTime,
    ) -> Result<()> {
        let (ns, key, name) = (
            namespace.name().to_string(),
            id.as_str().to_string(),
            id.name().map(str::to_string),
        );
        let at_ms = millis(at);
        let generation = self
            .call(tasks, move |conn| {
                conn.query_row(
                    "INSERT INTO alarms (namespace, id, name, at_ms, generation)
                     VALUES (?1, ?2, ?3, ?4, 1)
                     ON CONFLICT (namespace, id) DO UPDATE
                        SET at_ms = excluded.at_ms, name = excluded.name,
                            generation = alarms.generation + 1
                     RETURNING generation",
                    (&ns, &key, &name, at_ms),
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        self.arm(tasks, namespace, id.clone(), time_of(at_ms), generation, 0);
        Ok(())
    }

    /// When the alarm of `id` is scheduled, if it is.
    pub(crate) async fn get(
        &self,
        tasks: &Tasks,
        namespace: &str,
        id: &ActorId,
    ) -> Result<Option<SystemTime>> {
        Ok(self.current(tasks, namespace, id).await?.map(|(at, _)| at))
    }

    /// The alarm of `id` and its generation, if one is scheduled.
    pub(crate) async fn current(
        &self,
        tasks: &Tasks,
        namespace: &str,
        id: &ActorId,
    ) -> Result<Option<(SystemTime, i64)>> {
        let (ns, key) = (namespace.to_string(), id.as_str().to_string());
        let row = self
            .call(tasks, move |conn| {
                conn.query_row(
                    "SELECT at_ms, generation FROM alarms WHERE namespace = ?1 AND id = ?2",
                    (&ns, &key),
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
                )
                .optional()
            })
            .await?;
        Ok(row.map(|(at, generation)| (time_of(at), generation)))
    }

    /// Cancels the alarm of `id`.
    pub(crate) async fn delete(&self, tasks: &Tasks, namespace: &str, id: &ActorId) -> Result<()> {
        let (ns, key) = (namespace.to_string(), id.as_str().to_string());
        self.disarm(namespace, id);
        self.call(tasks, move |conn| {
            conn.execute(
                "DELETE FROM alarms WHERE namespace = ?1 AND id = ?2",
                (&ns, &key),
            )
        })
        .await
        .map(drop)
    }

    /// Removes the alarm of `id` once it has run, unless it was set again since `generation`.
    pub(crate) async fn finish(
        &self,
        tasks: &Tasks,
        namespace: &str,
        id: &ActorId,
        generation: i64,
    ) -> Result<()> {
        let (ns, key) = (namespace.to_string(), id.as_str().to_string());
        let removed = self
            .call(tasks, move |conn| {
                conn.execute(
                    "DELETE FROM alarms WHERE namespace = ?1 AND id = ?2 AND generation = ?3",
                    (&ns, &key, generation),
                )
            })
            .await?;
        if removed > 0 {
            self.disarm(namespace, id);
        }
        Ok(())
    }

    /// The alarms of `namespace`, to arm when it is registered.
    pub(crate) async fn pending(&self, tasks: &Tasks, namespace: &str) -> Result<Vec<Pending>> {
        let ns = namespace.to_string();
        self.call(tasks, move |conn| {
            let mut statement = conn
                .prepare("SELECT id, name, at_ms, generation FROM alarms WHERE namespace = ?1")?;
            let rows = statement.query_map([&ns], |row| {
                Ok(Pending {
                    id: ActorId::new(
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?.as_deref(),
                    ),
                    at: time_of(row.get(2)?),
                    generation: row.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Starts the timer that delivers the alarm of `id` at `at`, replacing any other timer of
    /// that actor.
    pub(crate) fn arm(
        &self,
        tasks: &Tasks,
        namespace: &Arc<Namespace>,
        id: ActorId,
        at: SystemTime,
        generation: i64,
        attempt: u32,
    ) {
        let key = (namespace.name().to_string(), id.as_str().to_string());
        let delay = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let target = namespace.clone();
        let timer = tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            // Delivery fails only when the runtime is shutting down; the index keeps the
            // alarm for the next start.
            let _ = target
                .deliver(
                    &id,
                    Event::Alarm {
                        generation,
                        attempt,
                    },
                )
                .await;
        });
        let mut timers = self.timers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = match timer {
            Some(timer) => timers.insert(key, timer),
            None => timers.remove(&key),
        } {
            previous.abort();
        }
    }

    fn disarm(&self, namespace: &str, id: &ActorId) {
        let key = (namespace.to_string(), id.as_str().to_string());
        let mut timers = self.timers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(timer) = timers.remove(&key) {
            timer.abort();
        }
    }
}
