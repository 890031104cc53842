//! [`LocalContext`]: what a local actor instance reaches through its `ActorContext`.

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use alchemy_stream::ByteStream;
use http::{Request, Response};

use super::db::{Db, LocalSql, LocalStorage};
use super::runtime::{unavailable, Namespace, Shared, Slot};
use super::socket::{switching_protocols, LocalSocket, UpgradeSlot};
use crate::actor::{
    ActorError, ActorId, Capabilities, ContextBackend, Result, SqlBackend, StorageBackend,
    WebSocket,
};

pub(crate) struct LocalContext {
    shared: Weak<Shared>,
    namespace: Arc<Namespace>,
    slot: Arc<Slot>,
    capabilities: Capabilities,
    send_buffer_bytes: usize,
    storage: Arc<LocalStorage>,
    sql: Arc<LocalSql>,
}

impl LocalContext {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        namespace: Arc<Namespace>,
        slot: Arc<Slot>,
        db: Db,
    ) -> Self {
        LocalContext {
            shared: Arc::downgrade(shared),
            namespace,
            slot,
            capabilities: shared.options.capabilities(),
            send_buffer_bytes: shared.options.send_buffer_bytes,
            storage: Arc::new(LocalStorage { db: db.clone() }),
            sql: Arc::new(LocalSql { db }),
        }
    }

    fn shared(&self) -> Result<Arc<Shared>> {
        self.shared
            .upgrade()
            .filter(|shared| !shared.tasks.is_shut_down())
            .ok_or_else(unavailable)
    }
}

#[async_trait::async_trait]
impl ContextBackend for LocalContext {
    fn id(&self) -> &ActorId {
        &self.slot.id
    }

    fn namespace(&self) -> &str {
        self.namespace.name()
    }

    fn provider(&self) -> &'static str {
        "local"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn storage(&self) -> Arc<dyn StorageBackend> {
        self.storage.clone()
    }

    fn sql(&self) -> Option<Arc<dyn SqlBackend>> {
        Some(self.sql.clone())
    }

    async fn set_alarm(&self, at: SystemTime) -> Result<()> {
        let shared = self.shared()?;
        shared
            .alarms
            .set(&shared.tasks, &self.namespace, &self.slot.id, at)
            .await
    }

    async fn get_alarm(&self) -> Result<Option<SystemTime>> {
        let shared = self.shared()?;
        shared
            .alarms
            .get(&shared.tasks, self.namespace.name(), &self.slot.id)
            .await
    }

    async fn delete_alarm(&self) -> Result<()> {
        let shared = self.shared()?;
        shared
            .alarms
            .delete(&shared.tasks, self.namespace.name(), &self.slot.id)
            .await
    }

    fn accept_websocket(
        &self,
        req: &Request<ByteStream>,
        tags: Vec<String>,
    ) -> Result<(WebSocket, Response<ByteStream>)> {
        let upgrade = req.extensions().get::<UpgradeSlot>().ok_or_else(|| {
            ActorError::NotWebSocketUpgrade {
                reason: "it did not arrive on a connection that can be upgraded: open WebSockets with `ActorStub::connect`, or send the upgrade request through the local HTTP server".to_string(),
            }
        })?;
        let socket = LocalSocket::new(
            self.slot.next_socket_id(),
            tags,
            self.send_buffer_bytes,
            self.capabilities.max_attachment_bytes,
        );
        upgrade.fill(socket.clone())?;
        self.slot.sockets().push(socket.clone());
        Ok((socket.handle(), switching_protocols()))
    }

    fn websockets(&self, tag: Option<&str>) -> Vec<WebSocket> {
        self.slot
            .sockets()
            .iter()
            .filter(|socket| crate::actor::WebSocketBackend::is_open(socket.as_ref()))
            .filter(|socket| tag.is_none_or(|tag| socket.has_tag(tag)))
            .map(LocalSocket::handle)
            .collect()
    }
}
