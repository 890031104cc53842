//! Actors on this machine: in-process, one SQLite database per actor, durable alarms and
//! WebSockets with hibernation.
//!
//! [`LocalActors`] is the runtime the local dev server uses. It hosts any number of actor
//! namespaces under one root directory:
//!
//! ```text
//! <root>/alarms.sqlite3                   every scheduled alarm, re-armed on start
//! <root>/actors/<namespace>/<id>.sqlite3  one database per actor: key-value storage and SQL
//! ```
//!
//! - **Turns.** Each live actor has a mailbox and a task that runs its events one at a time,
//!   in order; actors run concurrently on tokio's thread pool. SQLite calls run on the
//!   blocking pool.
//! - **Eviction.** An instance idle for [`LocalActorsOptions::idle_timeout`] is dropped (and
//!   its database closed); its open WebSockets stay, with their tags and attachments, and the
//!   next event rebuilds the instance with `init`. What an evicted actor with open sockets
//!   keeps in memory is bounded: its sockets' tags and attachments (limited in size), their
//!   send queues (at most [`LocalActorsOptions::send_buffer_bytes`] each) and its mailbox
//!   (at most [`LocalActorsOptions::mailbox_capacity`] events).
//! - **Alarms** are written to `alarms.sqlite3` before `set_alarm` returns, and armed again
//!   when the namespace is registered after a restart. A failing `alarm` handler is retried
//!   following [`LocalActorsOptions::alarm_retry`].
//! - **WebSockets** reach actors in-process through
//!   [`ActorStub::connect`](crate::actor::ActorStub::connect), and from clients through the
//!   local HTTP server: a handshake that `alchemy_http::serve` received and a handler passed on
//!   with [`ActorStub::fetch`](crate::actor::ActorStub::fetch) (or [`LocalActors::fetch`]) is
//!   upgraded when the actor accepts it. Protocol errors of the peer (malformed frames, text
//!   that is not UTF-8, messages over the limit) close the socket with 1002, 1007 or 1009, and
//!   the actor's `on_close` sees that code.
//! - **Errors** of handlers that have no caller to return them to (`on_message`, `on_close`,
//!   `alarm`) go to [`LocalActorsOptions::on_error`].
//!
//! Durability: writes are committed to SQLite in WAL mode with `synchronous=NORMAL`, so they
//! survive the process being killed; a power failure may lose the last ones.

mod alarms;
mod client;
mod context;
mod db;
mod runtime;
mod socket;
mod tasks;

#[cfg(test)]
mod tests;

use std::any::TypeId;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use alchemy_stream::ByteStream;
use http::{Request, Response};

use self::alarms::Alarms;
use self::client::LocalClient;
use self::runtime::{Namespace, Shared};
use self::tasks::Tasks;
use crate::actor::{Actor, ActorClient, ActorError, ActorId, ActorNamespace, Actors, Capabilities};
use crate::error::{Error, Result};

/// How a failing alarm handler is retried: after `initial`, then twice as long each time up
/// to `max_delay`, at most `max_attempts` runs in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The longest wait between two runs.
    pub max_delay: Duration,
    /// The most runs of one alarm, the first included.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait after run number `attempt` (counting from 0) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        self.initial.saturating_mul(factor).min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    /// Six runs, waiting 2 s, 4 s, 8 s, 16 s and 32 s in between, as Durable Objects do.
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            max_attempts: 6,
        }
    }
}

/// An error of a handler that has no caller to return it to.
#[derive(Debug)]
pub struct ErrorReport<'a> {
    /// The actor's namespace.
    pub namespace: &'a str,
    /// The actor.
    pub id: &'a ActorId,
    /// What failed: `"on_message"`, `"on_close"` or `"alarm"`.
    pub event: &'static str,
    /// The error.
    pub error: &'a ActorError,
}

impl fmt::Display for ErrorReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "actor {}/{}: {} failed: {}",
            self.namespace, self.id, self.event, self.error
        )
    }
}

/// Where [`ErrorReport`]s go.
pub type ErrorSink = Arc<dyn Fn(&ErrorReport<'_>) + Send + Sync>;

/// Settings of a [`LocalActors`] runtime.
///
/// ```
/// use std::time::Duration;
/// use alchemy::local::actor::LocalActorsOptions;
///
/// let options = LocalActorsOptions::default().idle_timeout(Duration::from_secs(5));
/// assert_eq!(options.idle_timeout, Duration::from_secs(5));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct LocalActorsOptions {
    /// How long an instance may go without events before it is evicted. Default: 30 s.
    pub idle_timeout: Duration,
    /// At most this many instances are built at once across all namespaces; building one more
    /// evicts the least recently used (its sockets stay open). Each built instance holds its
    /// database open (three file handles). Default: 256.
    pub max_loaded: usize,
    /// How many events may wait for one actor; senders wait beyond that. Default: 256.
    pub mailbox_capacity: usize,
    /// How many bytes may wait to be sent on one WebSocket before it is closed because its
    /// peer does not keep up. Default: 4 MiB.
    pub send_buffer_bytes: usize,
    /// The largest serialized WebSocket attachment. Default: 2 KiB, as on Durable Objects.
    pub max_attachment_bytes: usize,
    /// The largest stored value. Default: 2 MiB, as on SQLite-backed Durable Objects.
    pub max_value_bytes: usize,
    /// How failing alarms are retried.
    pub alarm_retry: RetryPolicy,
    /// Where errors of `on_message`, `on_close` and `alarm` go. Default: standard error.
    pub on_error: ErrorSink,
}

impl Default for LocalActorsOptions {
    fn default() -> Self {
        LocalActorsOptions {
            idle_timeout: Duration::from_secs(30),
            max_loaded: 256,
            mailbox_capacity: 256,
            send_buffer_bytes: 4 << 20,
            max_attachment_bytes: 2048,
            max_value_bytes: 2 << 20,
            alarm_retry: RetryPolicy::default(),
            on_error: Arc::new(|report| eprintln!("{report}")),
        }
    }
}

impl fmt::Debug for LocalActorsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalActorsOptions")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_loaded", &self.max_loaded)
            .field("mailbox_capacity", &self.mailbox_capacity)
            .field("send_buffer_bytes", &self.send_buffer_bytes)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("alarm_retry", &self.alarm_retry)
            .finish_non_exhaustive()
    }
}

impl LocalActorsOptions {
    /// Sets [`max_loaded`](Self::max_loaded) (at least 1).
    pub fn max_loaded(mut self, instances: usize) -> Self {
        self.max_loaded = instances.max(1);
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Sets [`mailbox_capacity`](Self::mailbox_capacity).
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity;
        self
    }

    /// Sets [`send_buffer_bytes`](Self::send_buffer_bytes).
    pub fn send_buffer_bytes(mut self, bytes: usize) -> Self {
        self.send_buffer_bytes = bytes;
        self
    }

    /// Sets [`max_attachment_bytes`](Self::max_attachment_bytes).
    pub fn max_attachment_bytes(mut self, bytes: usize) -> Self {
        self.max_attachment_bytes = bytes;
        self
    }

    /// Sets [`max_value_bytes`](Self::max_value_bytes).
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Sets [`alarm_retry`](Self::alarm_retry).
    pub fn alarm_retry(mut self, policy: RetryPolicy) -> Self {
        self.alarm_retry = policy;
        self
    }

    /// Sets [`on_error`](Self::on_error).
    pub fn on_error(mut self, sink: impl Fn(&ErrorReport<'_>) + Send + Sync + 'static) -> Self {
        self.on_error = Arc::new(sink);
        self
    }

    pub(crate) fn capabilities(&self) -> Capabilities {
        Capabilities {
            sql: true,
            alarms: true,
            websockets: true,
            hibernation: true,
            max_attachment_bytes: self.max_attachment_bytes,
            max_value_bytes: self.max_value_bytes,
            ..Capabilities::default()
        }
    }
}

/// The local actor runtime: actor namespaces hosted in this process, their state under one
/// root directory.
///
/// Dropping it stops every actor (in-flight turns are cancelled; what they committed stays)
/// and makes its namespace clients fail with [`ActorError::Unavailable`];
/// [`shutdown`](Self::shutdown) does the same and waits until every task has ended.
/// Opening it again on the same root finds every actor's storage and re-arms its alarms.
pub struct LocalActors {
    shared: Arc<Shared>,
}

impl fmt::Debug for LocalActors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalActors")
            .field("root", &self.shared.root)
            .field("namespaces", &self.namespaces())
            .finish()
    }
}

impl LocalActors {
    /// Opens the runtime on `root`, creating the directory if needed.
    ///
    /// It runs its actors on the current tokio runtime, so call it from within one.
    pub fn open(root: impl AsRef<Path>, options: LocalActorsOptions) -> Result<LocalActors> {
        let root: PathBuf = root.as_ref().to_path_buf();
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "LocalActors::open needs a tokio runtime: call it from async code running on tokio (such as under #[tokio::main])".to_string(),
            )
        })?;
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::io(
                format!("cannot create the actor directory {}", root.display()),
                e,
            )
        })?;
        let alarms = Alarms::open(&root.join("alarms.sqlite3")).map_err(actor_error)?;
        Ok(LocalActors {
            shared: Arc::new(Shared {
                root,
                options,
                namespaces: Default::default(),
                alarms,
                tasks: Tasks::new(handle),
                loaded: Default::default(),
            }),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Hosts the namespace `actors` declares and returns its client; registering the same
    /// declaration again returns a client of the same namespace.
    ///
    /// Alarms of the namespace stored by an earlier run are armed again.
    pub async fn namespace<A: Actor>(&self, actors: &Actors<A>) -> Result<ActorNamespace<A>> {
        crate::resource::validate_id(actors.id())?;
        let namespace = {
            let mut namespaces = self
                .shared
                .namespaces
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = namespaces.get(actors.id()) {
                if existing.type_id != TypeId::of::<A>() {
                    return Err(Error::Config(format!(
                        "actor namespace `{}` is registered already with actor type {}, not {}: give each actor type a namespace of its own",
                        actors.id(),
                        existing.class.type_name(),
                        std::any::type_name::<A>()
                    )));
                }
                return Ok(ActorNamespace::from_client(Arc::new(LocalClient {
                    namespace: existing.clone(),
                })));
            }
            let namespace = Arc::new(Namespace::new(
                actors.id(),
                actors.class(),
                TypeId::of::<A>(),
                &self.shared,
            ));
            namespaces.insert(actors.id().to_string(), namespace.clone());
            namespace
        };
        let pending = self
            .shared
            .alarms
            .pending(&self.shared.tasks, actors.id())
            .await
            .map_err(actor_error)?;
        for alarm in pending {
            self.shared.alarms.arm(
                &self.shared.tasks,
                &namespace,
                alarm.id,
                alarm.at,
                alarm.generation,
                0,
            );
        }
        Ok(ActorNamespace::from_client(Arc::new(LocalClient {
            namespace,
        })))
    }

    /// The client of the registered namespace called `namespace`, for a runtime's binding
    /// (`Runtime::custom` hands it out for declarations of kind `actors`).
    pub fn client(&self, namespace: &str) -> crate::actor::Result<Arc<dyn ActorClient>> {
        Ok(Arc::new(LocalClient {
            namespace: self.find(namespace)?,
        }))
    }

    /// Routes `req` to the actor whose id displays as `id` in `namespace`: the dev server's
    /// way in. Unknown namespaces and bad ids fail with a clear error.
    pub async fn fetch(
        &self,
        namespace: &str,
        id: &str,
        req: Request<ByteStream>,
    ) -> crate::actor::Result<Response<ByteStream>> {
        let client = LocalClient {
            namespace: self.find(namespace)?,
        };
        let id = client.id_from_string(id)?;
        client.fetch(&id, req).await
    }

    /// The registered namespaces, in order.
    pub fn namespaces(&self) -> Vec<String> {
        self.shared
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Whether the actor `id` of `namespace` has a built instance now.
    pub fn is_loaded(&self, namespace: &str, id: &ActorId) -> bool {
        self.find(namespace)
            .is_ok_and(|namespace| namespace.is_loaded(id))
    }

    /// Evicts the instance of actor `id` in `namespace` once its current turn is over, as
    /// idleness would; its WebSockets stay open.
    pub fn evict(&self, namespace: &str, id: &ActorId) {
        if let Ok(namespace) = self.find(namespace) {
            namespace.evict(id);
        }
    }

    /// Stops every actor and waits until all of the runtime's tasks have ended.
    pub async fn shutdown(self) {
        self.shared.tasks.shut_down();
        self.shared.tasks.wait().await;
    }

    fn find(&self, namespace: &str) -> crate::actor::Result<Arc<Namespace>> {
        let namespaces = self
            .shared
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        namespaces
            .get(namespace)
            .cloned()
            .ok_or_else(|| ActorError::UnknownNamespace {
                namespace: namespace.to_string(),
                provider: "local",
                known: if namespaces.is_empty() {
                    "none".to_string()
                } else {
                    namespaces.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })
    }
}

impl Drop for LocalActors {
    fn drop(&mut self) {
        self.shared.tasks.shut_down();
    }
}

fn actor_error(error: ActorError) -> Error {
    Error::provider(error.to_string())
}
