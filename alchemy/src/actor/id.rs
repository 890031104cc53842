//! [`ActorId`]: the address of one actor instance within a namespace.

use std::fmt;
use std::sync::Arc;

/// The address of one actor instance within its namespace.
///
/// Ids are opaque strings that a provider issues: [`ActorNamespace::id_from_name`] derives the
/// same id from the same name every time, [`ActorNamespace::new_unique_id`] makes a fresh one,
/// and [`ActorNamespace::id_from_string`] reads back the string an id displays as (checking
/// that this namespace issued it). An id keeps the name it was derived from, when it was.
///
/// [`ActorNamespace::id_from_name`]: super::ActorNamespace::id_from_name
/// [`ActorNamespace::new_unique_id`]: super::ActorNamespace::new_unique_id
/// [`ActorNamespace::id_from_string`]: super::ActorNamespace::id_from_string
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId {
    id: Arc<str>,
    name: Option<Arc<str>>,
}

impl ActorId {
    /// An id as a provider issued it, with the name it was derived from, if any.
    ///
    /// For provider implementations: application code gets ids from a namespace.
    pub fn new(id: impl Into<Arc<str>>, name: Option<&str>) -> Self {
        ActorId {
            id: id.into(),
            name: name.map(Arc::from),
        }
    }

    /// The id as a string: what [`Display`](fmt::Display) shows and
    /// [`id_from_string`](super::ActorNamespace::id_from_string) reads back.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The name the id was derived from, when it came from `id_from_name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "ActorId({} from name {name:?})", self.id),
            None => write!(f, "ActorId({})", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_the_id_and_keeps_the_name() {
        let id = ActorId::new("abc", Some("lobby"));
        assert_eq!(id.to_string(), "abc");
        assert_eq!(id.as_str(), "abc");
        assert_eq!(id.name(), Some("lobby"));
        assert!(format!("{id:?}").contains("lobby"));
        assert_eq!(ActorId::new("abc", None).name(), None);
    }
}
