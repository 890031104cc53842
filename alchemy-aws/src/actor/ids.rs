//! Actor ids of DynamoDB-backed actors: 32 bytes in hex, a body and a check that ties the id to
//! its namespace.
//!
//! The body of a named actor's id is a hash of the namespace and the name, so the same name
//! always gives the same id; a unique id's body is random. The last 8 bytes hash the
//! namespace and the body: an id from another namespace, or one with a changed character,
//! fails the check and is reported as unknown rather than silently addressing a new actor.

use blake2::{Blake2b512, Digest};

use alchemy::actor::{ActorError, ActorId, Result};

const BODY: usize = 24;
const CHECK: usize = 8;
/// The length of an id's string.
pub(crate) const ID_LEN: usize = 2 * (BODY + CHECK);
/// The longest actor name, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 2048;

fn hash(parts: &[&[u8]]) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn check(namespace: &str, body: &[u8]) -> [u8; CHECK] {
    let digest = hash(&[b"alchemy.aws.actor-id.check", namespace.as_bytes(), body]);
    digest[..CHECK]
        .try_into()
        .expect("the digest is longer than the check")
}

fn encode(namespace: &str, body: [u8; BODY], name: Option<&str>) -> ActorId {
    let mut id = String::with_capacity(ID_LEN);
    for byte in body.iter().chain(check(namespace, &body).iter()) {
        id.push_str(&format!("{byte:02x}"));
    }
    ActorId::new(id, name)
}

/// The id of the actor called `name` in `namespace`.
pub(crate) fn from_name(namespace: &str, name: &str) -> Result<ActorId> {
    let reason = if name.is_empty() {
        "names must not be empty".to_string()
    } else if name.len() > MAX_NAME_BYTES {
        format!(
            "it is {} bytes long, more than the limit of {MAX_NAME_BYTES}",
            name.len()
        )
    } else {
        let digest = hash(&[
            b"alchemy.aws.actor-id.name",
            namespace.as_bytes(),
            name.as_bytes(),
        ]);
        let body = digest[..BODY]
            .try_into()
            .expect("the digest is longer than the body");
        return Ok(encode(namespace, body, Some(name)));
    };
    Err(ActorError::InvalidName {
        name: shorten(name),
        reason,
    })
}

fn shorten(name: &str) -> String {
    name.chars().take(80).collect()
}

/// A fresh random id in `namespace`.
pub(crate) fn unique(namespace: &str) -> Result<ActorId> {
    let mut body = [0u8; BODY];
    getrandom::getrandom(&mut body).map_err(|error| {
        ActorError::backend(
            super::PROVIDER,
            format!("the system random number generator failed: {error}"),
        )
    })?;
    Ok(encode(namespace, body, None))
}

/// Reads back an id of `namespace` from its string.
pub(crate) fn parse(namespace: &str, id: &str) -> Result<ActorId> {
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
    if check(namespace, body) != given {
        return Err(ActorError::UnknownId {
            namespace: namespace.to_string(),
            id: id.to_string(),
        });
    }
    Ok(ActorId::new(id, None))
}

/// Checks an id handed to a stub: it must be one of `namespace`'s, keeping its name.
pub(crate) fn verify(namespace: &str, id: &ActorId) -> Result<()> {
    parse(namespace, id.as_str()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_stable_ids_of_their_namespace() {
        let a = from_name("rooms", "lobby").unwrap();
        assert_eq!(a, from_name("rooms", "lobby").unwrap());
        assert_eq!(a.as_str().len(), ID_LEN);
        assert_eq!(a.name(), Some("lobby"));
        assert_ne!(a.as_str(), from_name("rooms", "kitchen").unwrap().as_str());
        assert_ne!(a.as_str(), from_name("games", "lobby").unwrap().as_str());
        assert_eq!(parse("rooms", a.as_str()).unwrap().as_str(), a.as_str());
    }

    #[test]
    fn unique_ids_differ_and_parse_back() {
        let a = unique("rooms").unwrap();
        let b = unique("rooms").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.name(), None);
        verify("rooms", &a).unwrap();
    }

    #[test]
    fn bad_ids_are_malformed_or_unknown() {
        let id = from_name("rooms", "lobby").unwrap();
        assert!(matches!(
            parse("rooms", "abc"),
            Err(ActorError::MalformedId { .. })
        ));
        assert!(matches!(
            parse("rooms", &id.as_str().to_uppercase()),
            Err(ActorError::MalformedId { .. })
        ));
        let multibyte = "é".repeat(ID_LEN / 2);
        assert!(matches!(
            parse("rooms", &multibyte),
            Err(ActorError::MalformedId { .. })
        ));
        assert!(matches!(
            parse("games", id.as_str()),
            Err(ActorError::UnknownId { .. })
        ));
        let mut altered = id.as_str().to_string();
        let first = if altered.starts_with('0') { "1" } else { "0" };
        altered.replace_range(0..1, first);
        assert!(matches!(
            parse("rooms", &altered),
            Err(ActorError::UnknownId { .. })
        ));
        assert!(matches!(
            from_name("rooms", ""),
            Err(ActorError::InvalidName { .. })
        ));
    }
}
