//! [`LocalClient`]: the `ActorClient` of a local namespace.

use std::sync::Arc;

use alchemy_stream::ByteStream;
use http::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use crate::actor::ActorIds;

/// The ids of local actors.
const IDS: ActorIds = ActorIds::new("local");
use super::runtime::{unavailable, Event, Namespace};
use super::socket::{bridge, bridge_upgraded, UpgradeSlot};
use crate::actor::{
    add_upgrade_headers, is_websocket_upgrade, ActorClient, ActorError, ActorId, Capabilities,
    Result, WebSocketConnection,
};

/// How many frames an in-process connection buffers in each direction.
const CONNECTION_BUFFER: usize = 32;

pub(crate) struct LocalClient {
    pub(crate) namespace: Arc<Namespace>,
}

impl LocalClient {
    async fn send(&self, id: &ActorId, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        IDS.verify(self.namespace.name(), id)?;
        let (reply, response) = oneshot::channel();
        self.namespace
            .deliver(
                id,
                Event::Fetch {
                    req: Box::new(req),
                    reply,
                },
            )
            .await?;
        response.await.map_err(|_| unavailable())?
    }
}

#[async_trait::async_trait]
impl ActorClient for LocalClient {
    fn provider(&self) -> &'static str {
        "local"
    }

    fn namespace(&self) -> &str {
        self.namespace.name()
    }

    fn capabilities(&self) -> Capabilities {
        match self.namespace.shared() {
            Ok(shared) => shared.options.capabilities(),
            Err(_) => Capabilities::default(),
        }
    }

    fn id_from_name(&self, name: &str) -> Result<ActorId> {
        IDS.from_name(self.namespace.name(), name)
    }

    fn new_unique_id(&self) -> Result<ActorId> {
        IDS.unique(self.namespace.name())
    }

    fn id_from_string(&self, id: &str) -> Result<ActorId> {
        IDS.parse(self.namespace.name(), id)
    }

    /// Delivers `req`; a WebSocket handshake that came through the local HTTP server is
    /// upgraded when the actor accepts it.
    async fn fetch(
        &self,
        id: &ActorId,
        mut req: Request<ByteStream>,
    ) -> Result<Response<ByteStream>> {
        if !is_websocket_upgrade(&req) || req.extensions().get::<UpgradeSlot>().is_some() {
            return self.send(id, req).await;
        }
        let mut handshake = Request::new(());
        *handshake.method_mut() = req.method().clone();
        *handshake.uri_mut() = req.uri().clone();
        *handshake.headers_mut() = req.headers().clone();
        *handshake.extensions_mut() = req.extensions().clone();
        let Ok((mut accepted, upgrading)) = alchemy_http::websocket::accept(handshake) else {
            // Not an upgradable handshake: the actor's `accept_websocket` says why.
            return self.send(id, req).await;
        };
        let upgrade = UpgradeSlot::default();
        req.extensions_mut().insert(upgrade.clone());
        let response = self.send(id, req).await?;
        let Some(socket) = upgrade.take() else {
            return Ok(response);
        };
        let slot = self.namespace.live_slot(id).ok_or_else(unavailable)?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            socket.abandon(&slot).await;
            return Ok(response);
        }
        let shared = self.namespace.shared()?;
        shared.tasks.spawn(async move {
            match upgrading.await {
                Ok(ws) => bridge_upgraded(socket, slot, ws).await,
                Err(_) => socket.abandon(&slot).await,
            }
        });
        // The server's handshake answer, with any header of the actor's own.
        let (parts, _) = response.into_parts();
        for (name, value) in &parts.headers {
            if !accepted.headers().contains_key(name) {
                accepted.headers_mut().insert(name.clone(), value.clone());
            }
        }
        Ok(accepted)
    }

    async fn connect(
        &self,
        id: &ActorId,
        mut req: Request<ByteStream>,
    ) -> Result<WebSocketConnection> {
        add_upgrade_headers(&mut req, "YWxjaGVteS1sb2NhbC0xNg==")?;
        let upgrade = UpgradeSlot::default();
        req.extensions_mut().insert(upgrade.clone());
        let response = self.send(id, req).await?;
        let accepted = upgrade.take();
        let socket = match accepted {
            Some(socket) if response.status() == StatusCode::SWITCHING_PROTOCOLS => socket,
            Some(socket) => {
                if let Some(slot) = self.namespace.live_slot(id) {
                    socket.abandon(&slot).await;
                }
                return Err(ActorError::NotWebSocketUpgrade {
                    reason: format!(
                        "the actor accepted the WebSocket but answered {} instead of the response `accept_websocket` gave",
                        response.status()
                    ),
                });
            }
            None => {
                return Err(ActorError::NotWebSocketUpgrade {
                    reason: format!(
                        "the actor answered {} without accepting it (call `accept_websocket` in `fetch`)",
                        response.status()
                    ),
                })
            }
        };
        let shared = self.namespace.shared()?;
        let slot = self.namespace.live_slot(id).ok_or_else(unavailable)?;
        let (client, server) = WebSocketConnection::pair(CONNECTION_BUFFER);
        let (tx, rx) = server.into_parts();
        let incoming = futures::StreamExt::map(rx, Ok);
        shared.tasks.spawn(bridge(socket, slot, incoming, tx));
        Ok(client)
    }
}
