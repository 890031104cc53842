//! The names that join the control plane and the Worker runtime: binding names, Durable Object
//! class names and the variable that says which service a Worker serves.
//!
//! The deploy writes them into the script's metadata; the runtime reads the same names from the
//! Worker's `env`. Both sides call these functions, so they cannot drift apart.
//!
//! ```
//! use alchemy_cloudflare::names;
//!
//! assert_eq!(names::bucket_binding("photos"), "ALCHEMY_BUCKET_PHOTOS");
//! assert_eq!(names::actors_binding("chat-rooms"), "ALCHEMY_ACTORS_CHAT_ROOMS");
//! assert_eq!(names::actor_class("chat-rooms"), "ChatRooms");
//! ```

/// The plain-text binding that names the service a Worker serves (its logical id).
pub const SERVICE_BINDING: &str = "ALCHEMY_SERVICE";

fn env_style(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// The binding name of the R2 bucket with logical id `id`: `ALCHEMY_BUCKET_<ID>`.
pub fn bucket_binding(id: &str) -> String {
    format!("ALCHEMY_BUCKET_{}", env_style(id))
}

/// The binding name of the Durable Object namespace of actors `id`: `ALCHEMY_ACTORS_<ID>`.
pub fn actors_binding(id: &str) -> String {
    format!("ALCHEMY_ACTORS_{}", env_style(id))
}

/// The exported Durable Object class of actors `id`: its words in upper camel case
/// (`chat-rooms` and `chat_rooms` are `ChatRooms`).
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
    fn names_follow_the_logical_id() {
        assert_eq!(bucket_binding("user-photos"), "ALCHEMY_BUCKET_USER_PHOTOS");
        assert_eq!(actors_binding("rooms"), "ALCHEMY_ACTORS_ROOMS");
        assert_eq!(actor_class("rooms"), "Rooms");
        assert_eq!(actor_class("view_counter-v2"), "ViewCounterV2");
    }
}
