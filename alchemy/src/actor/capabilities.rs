//! [`Capabilities`]: what an actor provider can do, so a caller learns "not supported" before
//! it starts.

/// What an actor provider supports.
///
/// Key-value storage, single-writer turns and `fetch` are part of every provider; the flags
/// say which of the rest work, and the limits how far they go. An operation a provider lacks
/// fails with [`ActorError::NotSupported`](super::ActorError::NotSupported), but checking here
/// first lets a caller choose another path before it starts.
///
/// Providers start from [`Capabilities::default`] (nothing optional supported, the limits of
/// Cloudflare Durable Objects) and set what they offer; the struct is `#[non_exhaustive]` so
/// that new flags can be added without breaking them.
///
/// ```
/// use alchemy::actor::Capabilities;
///
/// let mut capabilities = Capabilities::default();
/// capabilities.alarms = true;
/// assert!(!capabilities.sql);
/// assert_eq!(capabilities.max_tags, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// SQL over the actor's own database ([`ActorContext::sql`](super::ActorContext::sql)).
    pub sql: bool,
    /// Alarms ([`ActorContext::set_alarm`](super::ActorContext::set_alarm) and the `alarm`
    /// handler).
    pub alarms: bool,
    /// Accepting WebSockets in an actor and connecting to them through a stub.
    pub websockets: bool,
    /// Evicting an idle instance while its WebSockets stay open, and rebuilding it with
    /// `init` on the next event.
    pub hibernation: bool,
    /// The largest serialized WebSocket attachment, in bytes.
    pub max_attachment_bytes: usize,
    /// The most tags on one WebSocket.
    pub max_tags: usize,
    /// The longest tag, in bytes.
    pub max_tag_bytes: usize,
    /// The longest storage key, in bytes.
    pub max_key_bytes: usize,
    /// The largest stored value, in bytes.
    pub max_value_bytes: usize,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            sql: false,
            alarms: false,
            websockets: false,
            hibernation: false,
            max_attachment_bytes: 2048,
            max_tags: 10,
            max_tag_bytes: 256,
            max_key_bytes: 2048,
            max_value_bytes: 128 * 1024,
        }
    }
}

/// One optional feature an actor namespace may use, as it declares with
/// [`Actors::uses`](super::Actors::uses) so that a stage whose provider lacks it is refused at
/// plan time.
///
/// ```
/// use alchemy::actor::{Capabilities, Capability};
///
/// let mut capabilities = Capabilities::default();
/// capabilities.alarms = true;
/// assert!(capabilities.has(Capability::Alarms));
/// assert!(!capabilities.has(Capability::WebSockets));
/// assert_eq!(Capability::WebSockets.to_string(), "websockets");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// SQL over the actor's own database.
    Sql,
    /// Alarms and the `alarm` handler.
    Alarms,
    /// WebSockets accepted by the actor.
    WebSockets,
    /// Hibernation of idle instances with their WebSockets open.
    Hibernation,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 4] = [
        Capability::Sql,
        Capability::Alarms,
        Capability::WebSockets,
        Capability::Hibernation,
    ];

    /// The name used in plans, messages and `alchemy.toml` (`sql`, `alarms`, `websockets`,
    /// `hibernation`).
    pub const fn name(self) -> &'static str {
        match self {
            Capability::Sql => "sql",
            Capability::Alarms => "alarms",
            Capability::WebSockets => "websockets",
            Capability::Hibernation => "hibernation",
        }
    }

    /// The capability named `name` (see [`Capability::name`]).
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Capabilities {
    /// Whether the provider supports `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::Sql => self.sql,
            Capability::Alarms => self.alarms,
            Capability::WebSockets => self.websockets,
            Capability::Hibernation => self.hibernation,
        }
    }
}
