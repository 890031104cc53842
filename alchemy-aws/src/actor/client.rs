//! [`DynamoClient`]: the `ActorClient` of one namespace, running each turn in the calling
//! process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use alchemy::actor::{
    ActorClass, ActorClient, ActorId, ActorIds, ByteStream, Capabilities, Result,
};
use http::{Request, Response};

use super::table::Table;
use super::turn::{Instance, TurnSetup};
use super::{Shared, PROVIDER};

/// The ids of DynamoDB-backed actors.
const IDS: ActorIds = ActorIds::new(PROVIDER);

/// One registered namespace.
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) class: ActorClass,
    /// The actor type's id, when it was registered by type rather than by its erased class.
    pub(crate) type_id: Option<std::any::TypeId>,
    pub(crate) table: Table,
    pub(crate) shared: Arc<Shared>,
    /// One slot per actor that ran in this process: callers in one process queue on it
    /// instead of contending for the lease in DynamoDB, and it keeps the instance the last
    /// turn built.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// The in-process lock of one actor, holding its instance between turns.
type Slot = futures::lock::Mutex<Option<Instance>>;

impl Namespace {
    pub(crate) fn new(
        name: &str,
        class: ActorClass,
        type_id: Option<std::any::TypeId>,
        table: Table,
        shared: Arc<Shared>,
    ) -> Self {
        Namespace {
            name: name.to_string(),
            class,
            type_id,
            table,
            shared,
            slots: Mutex::default(),
        }
    }

    /// Whether the namespace hosts the actor type `type_name` (whose id is `type_id`, when
    /// known): by type id when both sides have one, else by type name.
    pub(crate) fn hosts(&self, type_id: Option<std::any::TypeId>, type_name: &str) -> bool {
        match (self.type_id, type_id) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => self.class.type_name() == type_name,
        }
    }

    /// The slot of actor `id`. Beyond [`DynamoActorsOptions::max_instances`] slots,
    /// the idle ones are dropped with their instances.
    ///
    /// [`DynamoActorsOptions::max_instances`]: super::DynamoActorsOptions::max_instances
    fn slot(&self, id: &ActorId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(id.as_str()) {
            return slot.clone();
        }
        if slots.len() >= self.shared.options.max_instances {
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        let slot = Arc::new(Slot::new(None));
        slots.insert(id.as_str().to_string(), slot.clone());
        slot
    }
}

/// The client of a namespace of DynamoDB-backed actors.
pub(crate) struct DynamoClient {
    pub(crate) namespace: Arc<Namespace>,
}

#[async_trait::async_trait]
impl ActorClient for DynamoClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn namespace(&self) -> &str {
        &self.namespace.name
    }

    fn capabilities(&self) -> Capabilities {
        super::capabilities()
    }

    fn id_from_name(&self, name: &str) -> Result<ActorId> {
        IDS.from_name(&self.namespace.name, name)
    }

    fn new_unique_id(&self) -> Result<ActorId> {
        IDS.unique(&self.namespace.name)
    }

    fn id_from_string(&self, id: &str) -> Result<ActorId> {
        IDS.parse(&self.namespace.name, id)
    }

    async fn fetch(&self, id: &ActorId, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let namespace = &self.namespace;
        IDS.verify(&namespace.name, id)?;
        let slot = namespace.slot(id);
        let mut cached = slot.lock().await;
        TurnSetup {
            namespace: &namespace.name,
            class: namespace.class,
            table: &namespace.table,
            options: &namespace.shared.options,
            capabilities: self.capabilities(),
        }
        .fetch(id, &mut cached, req)
        .await
    }
}
