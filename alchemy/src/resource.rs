//! The resource model: typed kinds with serde props and outputs, logical ids, references.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, Result};

/// A kind of resource: its props are what the user asks for, its output what the provider made.
///
/// `KIND` is stable and recorded in state (for example `local.bucket`).
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The stable name of this kind, `provider.kind`.
    const KIND: &'static str;
    /// What a create or update returns, recorded in state and readable by other resources.
    type Output: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
}

/// What happens to a resource when it leaves the stack or the stack is destroyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalPolicy {
    /// Delete it (the default).
    #[default]
    Destroy,
    /// Leave it in place and only forget it in state.
    Retain,
}

/// Checks a logical id: a letter, then letters, digits, `-` or `_`, at most 64 characters.
pub fn validate_id(id: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return invalid("it is empty");
    }
    if id.len() > 64 {
        return invalid("it is longer than 64 characters");
    }
    if !id.as_bytes()[0].is_ascii_alphabetic() {
        return invalid("it does not start with a letter");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return invalid(&format!("it contains `{c}`"));
    }
    Ok(())
}

const REF_KEY: &str = "$ref";

/// A property value that is either known now or read from another resource's output.
///
/// References make the dependency graph: a resource is created after the resources it refers to.
/// Providers only ever see resolved values, so [`Input::get`] is what provider code uses.
#[derive(Clone, PartialEq)]
pub enum Input<T> {
    /// A value known at plan time.
    Value(T),
    /// The output `path` of resource `id`, known once that resource is applied.
    Ref {
        /// The resource whose output this is.
        id: String,
        /// A dotted path into its output.
        path: String,
    },
}

impl<T> Input<T> {
    /// The resolved value.
    ///
    /// # Panics
    /// On an unresolved reference: the engine resolves every reference before it calls a
    /// provider, so this only panics when props are used outside the engine.
    pub fn get(&self) -> &T {
        match self {
            Input::Value(v) => v,
            Input::Ref { id, path } => {
                panic!("unresolved reference to {id}.{path}: providers only see resolved inputs")
            }
        }
    }
}

impl<T> From<T> for Input<T> {
    fn from(v: T) -> Self {
        Input::Value(v)
    }
}

impl From<&str> for Input<String> {
    fn from(v: &str) -> Self {
        Input::Value(v.to_string())
    }
}

impl<T: fmt::Debug> fmt::Debug for Input<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Value(v) => v.fmt(f),
            Input::Ref { id, path } => write!(f, "${{{id}.{path}}}"),
        }
    }
}

impl<T: Serialize> Serialize for Input<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Input::Value(v) => v.serialize(s),
            Input::Ref { id, path } => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(REF_KEY, &format!("{id}.{path}"))?;
                m.end()
            }
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Input<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if let Some((id, path)) = as_ref(&v) {
            return Ok(Input::Ref {
                id: id.to_string(),
                path: path.to_string(),
            });
        }
        T::deserialize(v)
            .map(Input::Value)
            .map_err(serde::de::Error::custom)
    }
}

/// If `v` is a reference marker, its resource id and output path.
pub(crate) fn as_ref(v: &Value) -> Option<(&str, &str)> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let target = obj.get(REF_KEY)?.as_str()?;
    Some(target.split_once('.').unwrap_or((target, "")))
}

/// Every resource id that `props` refers to.
#[cfg(feature = "deploy")]
pub(crate) fn references(props: &Value, out: &mut BTreeSet<String>) {
    if let Some((id, _)) = as_ref(props) {
        out.insert(id.to_string());
        return;
    }
    match props {
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// Looks up a dotted path (`a.b.0.c`) in a JSON value; the empty path is the value itself.
#[cfg(feature = "deploy")]
pub(crate) fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// A resource in a stack, its props as JSON with references still in them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// The stable logical id.
    pub id: String,
    /// The kind, `provider.kind`.
    pub kind: String,
    /// Props, serialized; references are `{"$ref": "id.path"}` markers.
    pub props: Value,
    /// Resources this one must come after: those it refers to, and any added explicitly.
    pub deps: BTreeSet<String>,
    /// What happens when it is removed.
    pub removal: RemovalPolicy,
}

/// A typed handle to a resource in a stack, for referring to its outputs.
#[derive(Debug)]
pub struct Handle<R: Resource> {
    id: String,
    _kind: PhantomData<fn() -> R>,
}

impl<R: Resource> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            _kind: PhantomData,
        }
    }
}

impl<R: Resource> Handle<R> {
    #[cfg(feature = "deploy")]
    pub(crate) fn new(id: String) -> Self {
        Handle {
            id,
            _kind: PhantomData,
        }
    }

    /// The logical id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A reference to the output field at `path` (dotted), for another resource's props.
    pub fn output<T>(&self, path: &str) -> Input<T> {
        Input::Ref {
            id: self.id.clone(),
            path: path.to_string(),
        }
    }
}
