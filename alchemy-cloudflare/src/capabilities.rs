//! What Durable Objects support as actors, known on both sides: a Worker's actor contexts
//! report it, and the [`CloudflarePlatform`](crate::control::CloudflarePlatform) checks the
//! capabilities an actor namespace uses against it while planning.

use alchemy::actor::Capabilities;

/// The largest application attachment: the runtime's limit is 2,048 bytes for the whole
/// serialized attachment, which also holds the socket's id.
pub const MAX_ATTACHMENT_BYTES: usize = 1900;

/// What Durable Objects support: SQL (SQLite-backed objects), alarms, WebSockets with
/// hibernation, attachments of up to [`MAX_ATTACHMENT_BYTES`].
///
/// ```
/// let capabilities = alchemy_cloudflare::actor_capabilities();
/// assert!(capabilities.sql && capabilities.alarms && capabilities.websockets);
/// assert!(capabilities.hibernation);
/// ```
pub fn actor_capabilities() -> Capabilities {
    let mut capabilities = Capabilities::default();
    capabilities.sql = true;
    capabilities.alarms = true;
    capabilities.websockets = true;
    capabilities.hibernation = true;
    capabilities.max_attachment_bytes = MAX_ATTACHMENT_BYTES;
    capabilities
}
