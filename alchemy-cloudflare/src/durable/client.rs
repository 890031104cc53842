//! [`DurableObjects`]: a Durable Object namespace binding as the neutral [`ActorClient`].

use alchemy::actor::{
    add_upgrade_headers, ActorClient, ActorError, ActorId, ByteStream, Capabilities, Result,
    WebSocketConnection,
};
use http::{Request, Response};
use wasm_bindgen::JsValue;

use super::storage::PROVIDER;
use super::{bridge, capabilities, ERROR_HEADER};
use crate::js;

/// The length of a Durable Object id: 32 bytes in hex.
const ID_LEN: usize = 64;

/// The Durable Objects of one namespace binding, as a neutral [`ActorClient`].
///
/// Services get one (inside an `ActorNamespace`) from `Init::bind` when they run on Cloudflare.
#[derive(Debug)]
pub struct DurableObjects {
    namespace: String,
    binding: String,
    objects: worker::ObjectNamespace,
}

impl DurableObjects {
    /// The objects of the namespace `namespace`, bound under `binding` in `env`.
    pub fn from_env(env: &worker::Env, namespace: &str, binding: &str) -> Result<Self> {
        let objects = env
            .durable_object(binding)
            .map_err(|error| ActorError::Unavailable {
                reason: format!(
                    "the Worker has no Durable Object binding `{binding}` for actor namespace \
                 `{namespace}` ({error}): add it to the Worker's `durable_objects` bindings"
                ),
            })?;
        Ok(DurableObjects {
            namespace: namespace.to_string(),
            binding: binding.to_string(),
            objects,
        })
    }

    /// The binding's name.
    pub fn binding(&self) -> &str {
        &self.binding
    }

    /// A stub for `id`; named ids are addressed by name, so that the object knows its name.
    fn stub(&self, id: &ActorId) -> Result<worker::Stub> {
        let fail = |error: worker::Error| {
            ActorError::backend(PROVIDER, format!("addressing actor {id}: {error}"))
        };
        match id.name() {
            Some(name) => self.objects.id_from_name(name).and_then(|id| id.get_stub()),
            None => self
                .objects
                .id_from_string(id.as_str())
                .and_then(|id| id.get_stub()),
        }
        .map_err(fail)
    }

    /// Sends `req` to the object `id` and returns the runtime's response.
    async fn send(&self, id: &ActorId, req: Request<ByteStream>) -> Result<worker::Response> {
        let stub = self.stub(id)?;
        let req = js::to_js_request(req)
            .await
            .map_err(|error| self.failed(id, &error))?;
        stub.fetch_with_request(worker::Request::from(req))
            .await
            .map_err(|error| {
                ActorError::backend(PROVIDER, format!("actor {}: {error}", self.actor(id)))
            })
    }

    fn actor(&self, id: &ActorId) -> String {
        format!("{}/{id}", self.namespace)
    }

    fn failed(&self, id: &ActorId, error: &JsValue) -> ActorError {
        ActorError::backend(
            PROVIDER,
            format!("actor {}: {}", self.actor(id), js::describe(error)),
        )
    }

    /// The actor's failure, when the response reports one.
    async fn failure(&self, id: &ActorId, response: &mut worker::Response) -> Option<ActorError> {
        let kind = response.headers().get(ERROR_HEADER).ok().flatten()?;
        let message = response.text().await.unwrap_or_default();
        let actor = self.actor(id);
        Some(if kind == "init" {
            ActorError::InitFailed { actor, message }
        } else {
            ActorError::HandlerFailed { actor, message }
        })
    }
}

#[async_trait::async_trait(?Send)]
impl ActorClient for DurableObjects {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn id_from_name(&self, name: &str) -> Result<ActorId> {
        if name.is_empty() {
            return Err(ActorError::InvalidName {
                name: String::new(),
                reason: "actor names must not be empty".to_string(),
            });
        }
        let id = self.objects.id_from_name(name).map_err(|error| {
            ActorError::backend(PROVIDER, format!("idFromName({name:?}): {error}"))
        })?;
        Ok(ActorId::new(id.to_string(), Some(name)))
    }

    fn new_unique_id(&self) -> Result<ActorId> {
        let id = self
            .objects
            .unique_id()
            .map_err(|error| ActorError::backend(PROVIDER, format!("newUniqueId(): {error}")))?;
        Ok(ActorId::new(id.to_string(), None))
    }

    fn id_from_string(&self, id: &str) -> Result<ActorId> {
        let malformed = |reason: String| ActorError::MalformedId {
            namespace: self.namespace.clone(),
            id: id.to_string(),
            reason,
        };
        if id.len() != ID_LEN {
            return Err(malformed(format!(
                "it is {} characters long, not {ID_LEN}",
                id.len()
            )));
        }
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("it is not hexadecimal".to_string()));
        }
        match self.objects.id_from_string(id) {
            Ok(parsed) => Ok(ActorId::new(parsed.to_string(), None)),
            Err(_) => Err(ActorError::UnknownId {
                namespace: self.namespace.clone(),
                id: id.to_string(),
            }),
        }
    }

    async fn fetch(&self, id: &ActorId, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let mut response = self.send(id, req).await?;
        if let Some(failure) = self.failure(id, &mut response).await {
            return Err(failure);
        }
        let response = web_sys::Response::from(response);
        if let Some(socket) = js::response_websocket(&response) {
            // A WebSocket the actor accepted, passed on as is (a Worker returns it unchanged).
            return Ok(Response::builder()
                .status(http::StatusCode::SWITCHING_PROTOCOLS)
                .extension(worker::WebSocket::from(socket))
                .body(ByteStream::empty())?);
        }
        Ok(js::from_js_response(&response)?)
    }

    async fn connect(
        &self,
        id: &ActorId,
        mut req: Request<ByteStream>,
    ) -> Result<WebSocketConnection> {
        // The handshake stays inside the runtime (a Worker's subrequest to an object), which
        // does not check the key; RFC 6455's sample nonce fills the header.
        add_upgrade_headers(&mut req, "dGhlIHNhbXBsZSBub25jZQ==")?;
        let mut response = self.send(id, req).await?;
        if let Some(failure) = self.failure(id, &mut response).await {
            return Err(failure);
        }
        let status = response.status_code();
        match response.websocket() {
            Some(socket) => bridge::connection(socket),
            None => Err(ActorError::NotWebSocketUpgrade {
                reason: format!(
                    "actor {} answered {status} without accepting a WebSocket",
                    self.actor(id)
                ),
            }),
        }
    }
}
