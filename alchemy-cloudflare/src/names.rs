//! The names that join the control plane and the Worker runtime besides the binding names
//! ([`binding_name`](crate::binding_name)): Durable Object class names and the variable that
//! says which service a Worker serves.
//!
//! ```
//! use alchemy_cloudflare::{binding_name, names};
//!
//! assert_eq!(binding_name("chat-rooms"), "CHAT_ROOMS");
//! assert_eq!(names::actor_class("chat-rooms"), "ChatRooms");
//! ```

/// The plain-text binding that names the service a Worker serves (its logical id).
pub const SERVICE_BINDING: &str = "ALCHEMY_SERVICE";

/// The Durable Object class exported for actors `id` unless the Cloudflare settings name
/// another (`actor_classes`): its words in upper camel case (`chat-rooms` and `chat_rooms` are
/// `ChatRooms`).
pub fn actor_class(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_follow_the_logical_id() {
        assert_eq!(actor_class("rooms"), "Rooms");
        assert_eq!(actor_class("view_counter-v2"), "ViewCounterV2");
    }
}
