//! [`DoContext`]: what a Durable Object offers the actor it hosts, as the neutral
//! [`ContextBackend`].

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alchemy::actor::{
    ActorError, ActorId, ByteStream, Capabilities, ContextBackend, Result, SqlBackend,
    StorageBackend, WebSocket,
};
use http::{Request, Response, StatusCode};
use worker::worker_sys::DurableObjectState;

use super::socket::{DoSocket, MAX_ATTACHMENT_BYTES};
use super::sql::DoSql;
use super::storage::{storage_error, DoStorage, PROVIDER};

/// What Durable Objects support ([`crate::actor_capabilities`]).
pub fn capabilities() -> Capabilities {
    crate::actor_capabilities()
}

/// The host side of one Durable Object instance.
pub struct DoContext {
    state: DurableObjectState,
    id: ActorId,
    namespace: &'static str,
    storage: Arc<DoStorage>,
    sql: Arc<DoSql>,
    sockets_accepted: Cell<u64>,
}

impl DoContext {
    /// The context of the object `state`, of actor namespace `namespace`.
    pub fn new(state: DurableObjectState, namespace: &'static str) -> Result<Self> {
        let js_id = state
            .id()
            .map_err(|error| storage_error("reading the id", &error))?;
        let id = js_id
            .to_string()
            .map_err(|error| storage_error("reading the id", &error))?;
        let name = js_id.name();
        let storage = state
            .storage()
            .map_err(|error| storage_error("opening", &error))?;
        let sql = worker::State::from(crate::js::same(&state)).storage().sql();
        Ok(DoContext {
            id: ActorId::new(id, name.as_deref()),
            namespace,
            storage: Arc::new(DoStorage::new(storage)),
            sql: Arc::new(DoSql::new(sql)),
            state,
            sockets_accepted: Cell::new(0),
        })
    }

    /// A handle on a socket of this object.
    pub(crate) fn socket(&self, socket: web_sys::WebSocket) -> WebSocket {
        WebSocket::new(
            Arc::new(DoSocket::existing(&self.state, socket)),
            MAX_ATTACHMENT_BYTES,
        )
    }
}

/// Milliseconds since the epoch of `at`.
fn millis(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis() as f64)
        .unwrap_or(0.0)
}

#[async_trait::async_trait(?Send)]
impl ContextBackend for DoContext {
    fn id(&self) -> &ActorId {
        &self.id
    }

    fn namespace(&self) -> &str {
        self.namespace
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn storage(&self) -> Arc<dyn StorageBackend> {
        self.storage.clone()
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(js_sys::Date::now() as u64)
    }

    fn sql(&self) -> Option<Arc<dyn SqlBackend>> {
        Some(self.sql.clone())
    }

    async fn set_alarm(&self, at: SystemTime) -> Result<()> {
        self.storage.set_alarm(millis(at)).await
    }

    async fn get_alarm(&self) -> Result<Option<SystemTime>> {
        Ok(self
            .storage
            .get_alarm()
            .await?
            .map(|at| UNIX_EPOCH + Duration::from_millis(at.max(0.0) as u64)))
    }

    async fn delete_alarm(&self) -> Result<()> {
        self.storage.delete_alarm().await
    }

    fn accept_websocket(
        &self,
        _req: &Request<ByteStream>,
        tags: Vec<String>,
    ) -> Result<(WebSocket, Response<ByteStream>)> {
        let pair = worker::WebSocketPair::new().map_err(|error| {
            ActorError::backend(PROVIDER, format!("making a WebSocket pair failed: {error}"))
        })?;
        let count = self.sockets_accepted.get() + 1;
        self.sockets_accepted.set(count);
        // Ids sort in the order of acceptance, across evictions too: the runtime's clock
        // first, then a count for sockets accepted while it stood still.
        let id = format!("{:016}-{count:08}", js_sys::Date::now() as u64);
        let server: web_sys::WebSocket = pair.server.as_ref().clone();
        let socket = DoSocket::accept(&self.state, server, &tags, id)?;
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .extension(pair.client)
            .body(ByteStream::empty())?;
        Ok((
            WebSocket::new(Arc::new(socket), MAX_ATTACHMENT_BYTES),
            response,
        ))
    }

    fn websockets(&self, tag: Option<&str>) -> Vec<WebSocket> {
        let sockets = match tag {
            Some(tag) => self.state.get_websockets_with_tag(tag),
            None => self.state.get_websockets(),
        };
        let mut sockets: Vec<WebSocket> = sockets
            .unwrap_or_default()
            .into_iter()
            .filter(|socket| socket.ready_state() == web_sys::WebSocket::OPEN)
            .map(|socket| self.socket(socket))
            .collect();
        sockets.sort_by(|a, b| a.id().cmp(b.id()));
        sockets
    }
}
