//! Actor ids for providers that mint their own: 32 bytes in hex, a body and a check that ties
//! the id to its namespace.
//!
//! The body of a named actor's id is a hash of the namespace and the name, so the same name
//! always gives the same id; a unique id's body is random. The last 8 bytes hash the
//! namespace and the body: an id from another namespace, or one with a changed character,
//! fails the check and is reported as unknown rather than silently addressing a new actor.
//! The hashes are keyed by the provider's name, so ids of one provider are not ids of another.

use blake2::{Blake2b512, Digest};

use crate::actor::{ActorError, ActorId, Result};

const BODY: usize = 24;
const CHECK: usize = 8;
/// The length of an id's string.
const ID_LEN: usize = 2 * (BODY + CHECK);
/// The longest actor name, in bytes.
const MAX_NAME_BYTES: usize = 2048;

fn hash(parts: &[&[u8]]) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn check(provider: &str, namespace: &str, body: &[u8]) -> [u8; CHECK] {
    let tag = format!("alchemy.{provider}.actor-id.check");
    let digest = hash(&[tag.as_bytes(), namespace.as_bytes(), body]);
    digest[..CHECK]
        .try_into()
        .expect("the digest is longer than the check")
}

fn encode(provider: &str, namespace: &str, body: [u8; BODY], name: Option<&str>) -> ActorId {
    let mut id = String::with_capacity(ID_LEN);
    for byte in body.iter().chain(check(provider, namespace, &body).iter()) {
        id.push_str(&format!("{byte:02x}"));
    }
    ActorId::new(id, name)
}

fn shorten(name: &str) -> String {
    name.chars().take(80).collect()
}

/// How a provider mints and checks the ids of its actors: [`ActorIds::new`] with the
/// provider's name (`"local"`, `"aws"`).
///
/// ```
/// use alchemy::actor::ActorIds;
///
/// let ids = ActorIds::new("local");
/// let lobby = ids.from_name("rooms", "lobby").unwrap();
/// assert_eq!(lobby, ids.from_name("rooms", "lobby").unwrap());
/// assert!(ids.parse("games", lobby.as_str()).is_err());
/// assert!(ActorIds::new("aws").parse("rooms", lobby.as_str()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorIds {
    provider: &'static str,
}

impl ActorIds {
    /// The ids of `provider`'s actors.
    pub const fn new(provider: &'static str) -> Self {
        ActorIds { provider }
    }

    /// The id of the actor called `name` in `namespace`.
    pub fn from_name(&self, namespace: &str, name: &str) -> Result<ActorId> {
        let reason = if name.is_empty() {
            "names must not be empty".to_string()
        } else if name.len() > MAX_NAME_BYTES {
            format!(
                "it is {} bytes long, more than the limit of {MAX_NAME_BYTES}",
                name.len()
            )
        } else {
            let tag = format!("alchemy.{}.actor-id.name", self.provider);
            let digest = hash(&[tag.as_bytes(), namespace.as_bytes(), name.as_bytes()]);
            let body = digest[..BODY]
                .try_into()
                .expect("the digest is longer than the body");
            return Ok(encode(self.provider, namespace, body, Some(name)));
        };
        Err(ActorError::InvalidName {
            name: shorten(name),
            reason,
        })
    }

    /// A fresh random id in `namespace`.
    pub fn unique(&self, namespace: &str) -> Result<ActorId> {
        let mut body = [0u8; BODY];
        getrandom::getrandom(&mut body).map_err(|error| {
            ActorError::backend(
                self.provider,
                format!("the system random number generator failed: {error}"),
            )
        })?;
        Ok(encode(self.provider, namespace, body, None))
    }

    /// Reads back an id of `namespace` from its string.
    pub fn parse(&self, namespace: &str, id: &str) -> Result<ActorId> {
        let malformed = |reason: String| ActorError::MalformedId {
            namespace: namespace.to_string(),
            id: shorten(id),
            reason,
        };
        if id.len() != ID_LEN {
            return Err(malformed(format!(
                "it is {} characters long, not {ID_LEN}",
                id.chars().count()
            )));
        }
        let mut bytes = [0u8; BODY + CHECK];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let pair = id
                .get(2 * index..2 * index + 2)
                .filter(|pair| pair.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .ok_or_else(|| {
                    malformed("ids are made of lowercase hexadecimal digits only".to_string())
                })?;
            *byte = u8::from_str_radix(pair, 16).expect("checked hex digits");
        }
        let (body, given) = bytes.split_at(BODY);
        if check(self.provider, namespace, body) != given {
            return Err(ActorError::UnknownId {
                namespace: namespace.to_string(),
                id: id.to_string(),
            });
        }
        Ok(ActorId::new(id, None))
    }

    /// Checks an id handed to a stub: it must be one of `namespace`'s, keeping its name.
    pub fn verify(&self, namespace: &str, id: &ActorId) -> Result<()> {
        self.parse(namespace, id.as_str()).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: ActorIds = ActorIds::new("local");

    #[test]
    fn names_give_stable_ids_of_their_namespace() {
        let a = IDS.from_name("rooms", "lobby").unwrap();
        assert_eq!(a, IDS.from_name("rooms", "lobby").unwrap());
        assert_eq!(a.as_str().len(), ID_LEN);
        assert_eq!(a.name(), Some("lobby"));
        assert_ne!(
            a.as_str(),
            IDS.from_name("rooms", "kitchen").unwrap().as_str()
        );
        assert_ne!(
            a.as_str(),
            IDS.from_name("games", "lobby").unwrap().as_str()
        );
        assert_eq!(IDS.parse("rooms", a.as_str()).unwrap().as_str(), a.as_str());
    }

    #[test]
    fn unique_ids_differ_and_parse_back() {
        let a = IDS.unique("rooms").unwrap();
        let b = IDS.unique("rooms").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.name(), None);
        IDS.verify("rooms", &a).unwrap();
    }

    #[test]
    fn bad_ids_are_malformed_or_unknown() {
        let id = IDS.from_name("rooms", "lobby").unwrap();
        assert!(matches!(
            IDS.parse("rooms", "abc"),
            Err(ActorError::MalformedId { .. })
        ));
        assert!(matches!(
            IDS.parse("rooms", &id.as_str().to_uppercase()),
            Err(ActorError::MalformedId { .. })
        ));
        let multibyte = "é".repeat(ID_LEN / 2);
        assert!(matches!(
            IDS.parse("rooms", &multibyte),
            Err(ActorError::MalformedId { .. })
        ));
        assert!(matches!(
            IDS.parse("games", id.as_str()),
            Err(ActorError::UnknownId { .. })
        ));
        let mut altered = id.as_str().to_string();
        let first = if altered.starts_with('0') { "1" } else { "0" };
        altered.replace_range(0..1, first);
        assert!(matches!(
            IDS.parse("rooms", &altered),
            Err(ActorError::UnknownId { .. })
        ));
        assert!(matches!(
            IDS.from_name("rooms", ""),
            Err(ActorError::InvalidName { .. })
        ));
    }
}
