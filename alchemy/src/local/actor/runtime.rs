//! The heart of the local runtime: namespaces, the slot of each live actor, and the turn loop
//! that runs an actor's events one at a time.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::SystemTime;

use alchemy_stream::ByteStream;
use futures::FutureExt;
use http::{Request, Response};
use tokio::sync::{mpsc, oneshot, Notify};

use super::alarms::Alarms;
use super::context::LocalContext;
use super::db::Db;
use super::socket::LocalSocket;
use super::tasks::Tasks;
use super::{ErrorReport, LocalActorsOptions};
use crate::actor::{
    ActorClass, ActorContext, ActorError, ActorId, CloseFrame, DynActor, Message, Result,
};

/// What the runtime shares between its namespaces and tasks.
pub(crate) struct Shared {
    pub(crate) root: PathBuf,
    pub(crate) options: LocalActorsOptions,
    pub(crate) namespaces: RwLock<BTreeMap<String, Arc<Namespace>>>,
    pub(crate) alarms: Alarms,
    pub(crate) tasks: Tasks,
    /// The built instances, least recently used first, for `max_loaded`.
    pub(crate) loaded: Mutex<Loaded>,
}

/// Built instances by recency: each slot's last-use tick.
#[derive(Default)]
pub(crate) struct Loaded {
    tick: u64,
    by_tick: BTreeMap<u64, Weak<Slot>>,
    ticks: HashMap<usize, u64>,
}

impl Loaded {
    fn key(slot: &Arc<Slot>) -> usize {
        Arc::as_ptr(slot) as usize
    }

    /// Marks `slot` as just used; returns a slot to evict when more than `max` are built.
    fn touch(&mut self, slot: &Arc<Slot>, max: usize) -> Option<Arc<Slot>> {
        self.tick += 1;
        if let Some(old) = self.ticks.insert(Self::key(slot), self.tick) {
            self.by_tick.remove(&old);
        }
        self.by_tick.insert(self.tick, Arc::downgrade(slot));
        while self.ticks.len() > max {
            let (&oldest, _) = self.by_tick.iter().next()?;
            let victim = self.by_tick.remove(&oldest)?;
            match victim.upgrade() {
                Some(victim) if !Arc::ptr_eq(&victim, slot) => {
                    self.ticks.remove(&Self::key(&victim));
                    return Some(victim);
                }
                Some(_) => {
                    // Only the caller is left: it stays.
                    self.by_tick.insert(oldest, victim);
                    return None;
                }
                None => {
                    self.ticks.retain(|_, t| *t != oldest);
                }
            }
        }
        None
    }

    fn forget(&mut self, slot: &Arc<Slot>) {
        if let Some(tick) = self.ticks.remove(&Self::key(slot)) {
            self.by_tick.remove(&tick);
        }
    }
}

impl Shared {
    pub(crate) fn report(&self, report: ErrorReport<'_>) {
        (self.options.on_error)(&report);
    }
}

/// One event for an actor: a turn.
pub(crate) enum Event {
    Fetch {
        req: Box<Request<ByteStream>>,
        reply: oneshot::Sender<Result<Response<ByteStream>>>,
    },
    Message {
        socket: Arc<LocalSocket>,
        message: Message,
    },
    Close {
        socket: Arc<LocalSocket>,
        frame: CloseFrame,
    },
    Alarm {
        generation: i64,
        attempt: u32,
    },
}

/// One registered namespace.
pub(crate) struct Namespace {
    name: String,
    pub(crate) class: ActorClass,
    pub(crate) type_id: std::any::TypeId,
    dir: PathBuf,
    slots: Mutex<HashMap<Arc<str>, Arc<Slot>>>,
    pub(crate) shared: Weak<Shared>,
}

/// The runtime state of one actor that has events or open sockets: its mailbox and sockets.
/// It outlives the instance: an evicted actor keeps its slot while a socket is open.
pub(crate) struct Slot {
    pub(crate) id: ActorId,
    pub(crate) tx: mpsc::Sender<Event>,
    pub(crate) sockets: Mutex<Vec<Arc<LocalSocket>>>,
    next_socket: AtomicU64,
    loaded: AtomicBool,
    evict: Notify,
}

impl Slot {
    pub(crate) fn next_socket_id(&self) -> String {
        (self.next_socket.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    pub(crate) fn sockets(&self) -> std::sync::MutexGuard<'_, Vec<Arc<LocalSocket>>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove_socket(&self, socket: &Arc<LocalSocket>) {
        self.sockets().retain(|open| !Arc::ptr_eq(open, socket));
    }
}

pub(crate) fn unavailable() -> ActorError {
    ActorError::Unavailable {
        reason: "the local actor runtime was shut down (its `LocalActors` was dropped)".to_string(),
    }
}

impl Namespace {
    pub(crate) fn new(
        name: &str,
        class: ActorClass,
        type_id: std::any::TypeId,
        shared: &Arc<Shared>,
    ) -> Self {
        Namespace {
            name: name.to_string(),
            class,
            type_id,
            dir: shared.root.join("actors").join(name),
            slots: Mutex::default(),
            shared: Arc::downgrade(shared),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared(&self) -> Result<Arc<Shared>> {
        self.shared
            .upgrade()
            .filter(|shared| !shared.tasks.is_shut_down())
            .ok_or_else(unavailable)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `id`, if the actor is live.
    pub(crate) fn live_slot(&self, id: &ActorId) -> Option<Arc<Slot>> {
        self.slots().get(id.as_str()).cloned()
    }

    /// Queues `event` for the actor `id`, starting its turn loop if it is not live.
    pub(crate) async fn deliver(self: &Arc<Self>, id: &ActorId, event: Event) -> Result<()> {
        let shared = self.shared()?;
        let tx = {
            let mut slots = self.slots();
            match slots.get(id.as_str()) {
                Some(slot) => slot.tx.clone(),
                None => {
                    let (tx, rx) = mpsc::channel(shared.options.mailbox_capacity.max(1));
                    let slot = Arc::new(Slot {
                        id: id.clone(),
                        tx: tx.clone(),
                        sockets: Mutex::default(),
                        next_socket: AtomicU64::new(0),
                        loaded: AtomicBool::new(false),
                        evict: Notify::new(),
                    });
                    slots.insert(Arc::from(id.as_str()), slot.clone());
                    let turns = TurnLoop {
                        shared: shared.clone(),
                        namespace: self.clone(),
                        slot,
                        rx,
                        instance: None,
                    };
                    if shared.tasks.spawn(turns.run()).is_none() {
                        slots.remove(id.as_str());
                        return Err(unavailable());
                    }
                    tx
                }
            }
        };
        drop(shared);
        tx.send(event).await.map_err(|_| unavailable())
    }

    /// Removes `slot` if nothing can reach it any more: no sender but its own, no queued
    /// event, no open socket. Senders clone the slot's sender under the same lock, so none
    /// can appear after the check.
    fn retire(&self, slot: &Arc<Slot>, rx: &mpsc::Receiver<Event>) -> bool {
        let mut slots = self.slots();
        let idle = slot.tx.strong_count() == 1 && rx.is_empty() && slot.sockets().is_empty();
        if idle {
            if let Some(current) = slots.get(slot.id.as_str()) {
                if Arc::ptr_eq(current, slot) {
                    slots.remove(slot.id.as_str());
                }
            }
        }
        idle
    }

    /// Whether the actor `id` has a built instance.
    pub(crate) fn is_loaded(&self, id: &ActorId) -> bool {
        self.live_slot(id)
            .is_some_and(|slot| slot.loaded.load(Ordering::Acquire))
    }

    /// Asks the actor `id` to drop its instance once the current turn is over.
    pub(crate) fn evict(&self, id: &ActorId) {
        if let Some(slot) = self.live_slot(id) {
            slot.evict.notify_one();
        }
    }

    pub(crate) fn db_path(&self, id: &ActorId) -> PathBuf {
        self.dir.join(format!("{}.sqlite3", id.as_str()))
    }

    fn label(&self, id: &ActorId) -> String {
        format!("{}/{}", self.name, id)
    }
}

struct Instance {
    actor: Box<dyn DynActor>,
}

struct TurnLoop {
    shared: Arc<Shared>,
    namespace: Arc<Namespace>,
    slot: Arc<Slot>,
    rx: mpsc::Receiver<Event>,
    instance: Option<Instance>,
}

fn panic_message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(text) => *text,
        Err(panic) => panic
            .downcast_ref::<&str>()
            .map_or_else(|| "a panic".to_string(), |text| text.to_string()),
    }
}

impl TurnLoop {
    async fn run(mut self) {
        let idle = self.shared.options.idle_timeout;
        loop {
            let event = tokio::select! {
                biased;
                event = self.rx.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                () = self.slot.evict.notified() => {
                    self.unload();
                    continue;
                }
                () = tokio::time::sleep(idle) => {
                    self.unload();
                    if self.namespace.retire(&self.slot, &self.rx) {
                        break;
                    }
                    continue;
                }
            };
            self.turn(event).await;
        }
        self.unload();
    }

    fn unload(&mut self) {
        if let Some(instance) = self.instance.take() {
            // Closing the database checkpoints and syncs: keep that off the async threads.
            self.shared
                .tasks
                .handle()
                .spawn_blocking(move || drop(instance));
        }
        self.slot.loaded.store(false, Ordering::Release);
        self.shared
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget(&self.slot);
    }

    /// Records a use of this instance; evicts the least recently used one beyond `max_loaded`.
    fn touch(&self) {
        let victim = self
            .shared
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .touch(&self.slot, self.shared.options.max_loaded);
        if let Some(victim) = victim {
            victim.evict.notify_one();
        }
    }

    fn label(&self) -> String {
        self.namespace.label(&self.slot.id)
    }

    async fn load(&mut self) -> Result<&Instance> {
        if self.instance.is_none() {
            let db = Db::open(
                self.namespace.db_path(&self.slot.id),
                self.shared.tasks.handle().clone(),
            )
            .await?;
            let context =
                LocalContext::new(&self.shared, self.namespace.clone(), self.slot.clone(), db);
            let ctx = ActorContext::new(Arc::new(context));
            let built = AssertUnwindSafe(self.namespace.class.init(ctx))
                .catch_unwind()
                .await;
            let actor = match built {
                Ok(Ok(actor)) => actor,
                Ok(Err(error)) => {
                    return Err(ActorError::InitFailed {
                        actor: self.label(),
                        message: error.to_string(),
                    })
                }
                Err(panic) => {
                    return Err(ActorError::InitFailed {
                        actor: self.label(),
                        message: format!("`init` panicked: {}", panic_message(panic)),
                    })
                }
            };
            self.instance = Some(Instance { actor });
            self.slot.loaded.store(true, Ordering::Release);
        }
        Ok(self.instance.as_ref().expect("the instance was just built"))
    }

    fn report(&self, event: &'static str, error: &ActorError) {
        self.shared.report(ErrorReport {
            namespace: self.namespace.name(),
            id: &self.slot.id,
            event,
            error,
        });
    }

    /// Runs a handler; a panic drops the instance (its state may be half-updated) and
    /// becomes an error.
    fn guarded<T>(&mut self, what: &str, outcome: std::thread::Result<Result<T>>) -> Result<T> {
        match outcome {
            Ok(result) => result,
            Err(panic) => {
                self.unload();
                Err(ActorError::handler(format!(
                    "`{what}` panicked: {}; the instance was dropped and will be rebuilt",
                    panic_message(panic)
                )))
            }
        }
    }

    async fn turn(&mut self, event: Event) {
        self.touch();
        match event {
            Event::Fetch { req, reply } => {
                let result = match self.load().await {
                    Err(error) => Err(error),
                    Ok(instance) => {
                        let outcome = AssertUnwindSafe(instance.actor.fetch(*req))
                            .catch_unwind()
                            .await;
                        self.guarded("fetch", outcome)
                            .map_err(|error| ActorError::HandlerFailed {
                                actor: self.label(),
                                message: error.to_string(),
                            })
                    }
                };
                let _ = reply.send(result);
            }
            Event::Message { socket, message } => {
                let result = match self.load().await {
                    Err(error) => Err(error),
                    Ok(instance) => {
                        let ws = socket.handle();
                        let outcome = AssertUnwindSafe(instance.actor.on_message(&ws, message))
                            .catch_unwind()
                            .await;
                        self.guarded("on_message", outcome)
                    }
                };
                if let Err(error) = result {
                    self.report("on_message", &error);
                }
            }
            Event::Close { socket, frame } => {
                socket.mark_closed();
                let result = match self.load().await {
                    Err(error) => Err(error),
                    Ok(instance) => {
                        let ws = socket.handle();
                        let outcome = AssertUnwindSafe(instance.actor.on_close(
                            &ws,
                            frame.code,
                            &frame.reason,
                        ))
                        .catch_unwind()
                        .await;
                        self.guarded("on_close", outcome)
                    }
                };
                self.slot.remove_socket(&socket);
                if let Err(error) = result {
                    self.report("on_close", &error);
                }
            }
            Event::Alarm {
                generation,
                attempt,
            } => self.alarm(generation, attempt).await,
        }
    }

    async fn alarm(&mut self, generation: i64, attempt: u32) {
        let shared = self.shared.clone();
        let (namespace, id) = (self.namespace.clone(), self.slot.id.clone());
        match shared
            .alarms
            .current(&shared.tasks, namespace.name(), &id)
            .await
        {
            Ok(Some((_, current))) if current == generation => {}
            // Replaced or deleted since this firing was armed.
            Ok(_) => return,
            Err(error) => return self.report("alarm", &error),
        }
        let result = match self.load().await {
            Err(error) => Err(error),
            Ok(instance) => {
                let outcome = AssertUnwindSafe(instance.actor.alarm())
                    .catch_unwind()
                    .await;
                self.guarded("alarm", outcome)
            }
        };
        let policy = shared.options.alarm_retry;
        let outcome = match result {
            Ok(()) => {
                shared
                    .alarms
                    .finish(&shared.tasks, namespace.name(), &id, generation)
                    .await
            }
            Err(error) if attempt + 1 < policy.max_attempts => {
                self.report("alarm", &error);
                let retry_at = SystemTime::now() + policy.delay(attempt);
                shared.alarms.arm(
                    &shared.tasks,
                    &namespace,
                    id.clone(),
                    retry_at,
                    generation,
                    attempt + 1,
                );
                Ok(())
            }
            Err(error) => {
                self.report("alarm (giving up after the last retry)", &error);
                shared
                    .alarms
                    .finish(&shared.tasks, namespace.name(), &id, generation)
                    .await
            }
        };
        if let Err(error) = outcome {
            self.report("alarm", &error);
        }
    }
}
