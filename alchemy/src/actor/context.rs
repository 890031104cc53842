//! [`ActorContext`]: what an actor instance reaches through: its id, storage, SQL, alarms
//! and WebSockets.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use alchemy_stream::ByteStream;
use http::{Request, Response};

use super::error::shorten;
use super::storage::StorageBackend;
use super::websocket::validate_upgrade;
use super::{
    ActorError, ActorId, Capabilities, MaybeSendSync, Result, Sql, SqlBackend, Storage, WebSocket,
};

/// The host of one actor instance, as a provider implements it.
///
/// Application code reaches it through [`ActorContext`], which checks capabilities, tags and
/// handshakes before calling in. Optional features have default implementations that answer
/// [`ActorError::NotSupported`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ContextBackend: MaybeSendSync + 'static {
    /// The instance's id.
    fn id(&self) -> &ActorId;

    /// The namespace the instance belongs to.
    fn namespace(&self) -> &str;

    /// The provider's short name, such as `"local"` or `"cloudflare"`.
    fn provider(&self) -> &'static str;

    /// What the provider supports.
    fn capabilities(&self) -> Capabilities;

    /// The instance's key-value store.
    fn storage(&self) -> Arc<dyn StorageBackend>;

    /// The instance's SQL database, when [`Capabilities::sql`] is set.
    fn sql(&self) -> Option<Arc<dyn SqlBackend>> {
        None
    }

    /// Schedules the alarm at `at`, replacing any other.
    async fn set_alarm(&self, at: SystemTime) -> Result<()> {
        let _ = at;
        Err(self.unsupported("alarms"))
    }

    /// When the alarm is scheduled, if it is.
    async fn get_alarm(&self) -> Result<Option<SystemTime>> {
        Err(self.unsupported("alarms"))
    }

    /// Cancels the alarm, if one is scheduled.
    async fn delete_alarm(&self) -> Result<()> {
        Err(self.unsupported("alarms"))
    }

    /// Accepts the WebSocket that `req` (a validated handshake) asks for, with `tags`
    /// (validated), returning the socket and the response that completes the handshake.
    fn accept_websocket(
        &self,
        req: &Request<ByteStream>,
        tags: Vec<String>,
    ) -> Result<(WebSocket, Response<ByteStream>)> {
        let _ = (req, tags);
        Err(self.unsupported("websockets"))
    }

    /// The open sockets of this instance, only those with `tag` when one is given, in the
    /// order they were accepted.
    fn websockets(&self, tag: Option<&str>) -> Vec<WebSocket> {
        let _ = tag;
        Vec::new()
    }

    /// A [`ActorError::NotSupported`] naming this provider.
    fn unsupported(&self, capability: &'static str) -> ActorError {
        ActorError::NotSupported {
            capability,
            provider: self.provider(),
        }
    }
}

/// What an actor instance works with: its id, its [`Storage`], [`Sql`], alarms and
/// WebSockets. `init` receives it; keep it in the actor to use it in the handlers.
///
/// A context is a cheap handle: clones share the same instance.
#[derive(Clone)]
pub struct ActorContext {
    backend: Arc<dyn ContextBackend>,
}

impl fmt::Debug for ActorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorContext")
            .field("namespace", &self.namespace())
            .field("id", self.id())
            .field("provider", &self.backend.provider())
            .finish()
    }
}

impl ActorContext {
    /// A context over the provider's `backend`.
    pub fn new(backend: Arc<dyn ContextBackend>) -> Self {
        ActorContext { backend }
    }

    /// The instance's id.
    pub fn id(&self) -> &ActorId {
        self.backend.id()
    }

    /// The namespace the instance belongs to.
    pub fn namespace(&self) -> &str {
        self.backend.namespace()
    }

    /// What the provider supports.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// The instance's key-value store.
    pub fn storage(&self) -> Storage {
        Storage::new(self.backend.storage(), self.capabilities())
    }

    /// The instance's SQL database, or [`ActorError::NotSupported`] where the provider has
    /// none (see [`Capabilities::sql`]).
    pub fn sql(&self) -> Result<Sql> {
        match self.backend.sql() {
            Some(backend) if self.capabilities().sql => Ok(Sql::new(backend)),
            _ => Err(self.backend.unsupported("sql")),
        }
    }

    /// Schedules [`Actor::alarm`](super::Actor::alarm) to run at `at` (at once, if `at` has
    /// passed), replacing any alarm scheduled before.
    ///
    /// Alarms are durable: one set before a restart fires after it. They run at least once: a
    /// handler that fails is retried with backoff.
    pub async fn set_alarm(&self, at: SystemTime) -> Result<()> {
        self.require_alarms()?;
        self.backend.set_alarm(at).await
    }

    /// When the alarm is scheduled, if it is.
    pub async fn get_alarm(&self) -> Result<Option<SystemTime>> {
        self.require_alarms()?;
        self.backend.get_alarm().await
    }

    /// Cancels the alarm, if one is scheduled.
    pub async fn delete_alarm(&self) -> Result<()> {
        self.require_alarms()?;
        self.backend.delete_alarm().await
    }

    /// Accepts the WebSocket that the handshake `req` asks for, with `tags` to find it by
    /// later, and returns the socket and the response to return from `fetch`.
    ///
    /// From then on, the socket's messages arrive at [`Actor::on_message`] and its close at
    /// [`Actor::on_close`]. Where the provider supports
    /// [hibernation](Capabilities::hibernation), the socket stays open while the instance is
    /// evicted; [`websockets`](Self::websockets) finds it again after `init`.
    ///
    /// ```
    /// use alchemy::actor::{ActorContext, ByteStream, Result};
    /// use http::{Request, Response};
    ///
    /// async fn join(ctx: &ActorContext, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
    ///     let (socket, response) = ctx.accept_websocket(&req, &["lobby"])?;
    ///     socket.serialize_attachment(&"guest")?;
    ///     socket.send("welcome")?;
    ///     Ok(response)
    /// }
    /// ```
    ///
    /// [`Actor::on_message`]: super::Actor::on_message
    /// [`Actor::on_close`]: super::Actor::on_close
    pub fn accept_websocket(
        &self,
        req: &Request<ByteStream>,
        tags: &[&str],
    ) -> Result<(WebSocket, Response<ByteStream>)> {
        let capabilities = self.capabilities();
        if !capabilities.websockets {
            return Err(self.backend.unsupported("websockets"));
        }
        validate_upgrade(req)?;
        validate_tags(tags, &capabilities)?;
        let tags = tags.iter().map(|tag| tag.to_string()).collect();
        self.backend.accept_websocket(req, tags)
    }

    /// The open WebSockets of this instance, only those tagged `tag` when one is given.
    pub fn websockets(&self, tag: Option<&str>) -> Vec<WebSocket> {
        self.backend.websockets(tag)
    }

    fn require_alarms(&self) -> Result<()> {
        if self.capabilities().alarms {
            Ok(())
        } else {
            Err(self.backend.unsupported("alarms"))
        }
    }
}

/// Checks WebSocket tags against the provider's limits: non-empty, distinct, at most
/// [`Capabilities::max_tags`] of at most [`Capabilities::max_tag_bytes`] bytes each.
pub fn validate_tags(tags: &[&str], capabilities: &Capabilities) -> Result<()> {
    if tags.len() > capabilities.max_tags {
        return Err(ActorError::InvalidTag {
            tag: shorten(&tags.join(",")),
            reason: format!(
                "a socket may have at most {} tags, not {}",
                capabilities.max_tags,
                tags.len()
            ),
        });
    }
    for (index, tag) in tags.iter().enumerate() {
        let reason = if tag.is_empty() {
            "tags must not be empty".to_string()
        } else if tag.len() > capabilities.max_tag_bytes {
            format!(
                "it is {} bytes long, more than the limit of {}",
                tag.len(),
                capabilities.max_tag_bytes
            )
        } else if tags[..index].contains(tag) {
            "it is given twice".to_string()
        } else {
            continue;
        };
        return Err(ActorError::InvalidTag {
            tag: shorten(tag),
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_limits() {
        let limits = Capabilities::default();
        validate_tags(&["a", "b"], &limits).unwrap();
        let many: Vec<&str> = ["t"; 11].to_vec();
        assert!(validate_tags(&many, &limits)
            .unwrap_err()
            .to_string()
            .contains("at most 10"));
        assert!(validate_tags(&[""], &limits).is_err());
        assert!(validate_tags(&["a", "a"], &limits)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let long = "x".repeat(257);
        assert!(validate_tags(&[&long], &limits).is_err());
    }
}
