//! Walkers over JSON values that find, rewrite and redact secret markers.
//!
//! A marker is an object with exactly one key, `$secret` or `$sealed`. Objects with more keys
//! are plain data, even when one of them is called `$secret`.

#[cfg(feature = "deploy")]
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::{REDACTED, SEALED_MARKER, SECRET_MARKER};

/// The two kinds of marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// `{"$secret": "<value>"}`: a secret in the clear, in memory only.
    Secret,
    /// `{"$sealed": "<base64>"}`: a secret as stored in state.
    Sealed,
}

#[cfg(feature = "deploy")]
impl Marker {
    /// The marker's only key.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Marker::Secret => SECRET_MARKER,
            Marker::Sealed => SEALED_MARKER,
        }
    }
}

/// Which marker `map` is, if it is one.
fn marker(map: &Map<String, Value>) -> Option<Marker> {
    if map.len() != 1 {
        return None;
    }
    match map.keys().next().map(String::as_str) {
        Some(SECRET_MARKER) => Some(Marker::Secret),
        Some(SEALED_MARKER) => Some(Marker::Sealed),
        _ => None,
    }
}

/// Whether `value` holds a marker of this kind anywhere. Borrows only; allocates nothing.
pub(crate) fn contains(value: &Value, kind: Marker) -> bool {
    match value {
        Value::Object(map) => match marker(map) {
            Some(found) => found == kind,
            None => map.values().any(|v| contains(v, kind)),
        },
        Value::Array(items) => items.iter().any(|v| contains(v, kind)),
        _ => false,
    }
}

/// Whether `value` holds a secret in the clear (`{"$secret": ...}`) anywhere.
///
/// ```
/// use alchemy::secret::{has_secrets, Secret};
/// use serde_json::json;
///
/// assert!(has_secrets(&json!({ "env": [{ "token": Secret::new("t") }] })));
/// assert!(!has_secrets(&json!({ "env": [{ "token": "t" }] })));
/// ```
pub fn has_secrets(value: &Value) -> bool {
    contains(value, Marker::Secret)
}

/// Whether `value` holds a sealed secret (`{"$sealed": ...}`) anywhere.
pub fn has_sealed(value: &Value) -> bool {
    contains(value, Marker::Sealed)
}

/// A copy of `value` in which every secret, in the clear or sealed, is the string `"[secret]"`.
///
/// This is what plan output, `--json`, logs and error messages show.
///
/// ```
/// use alchemy::secret::{redact, Secret};
/// use serde_json::json;
///
/// let props = json!({ "user": "admin", "password": Secret::new("hunter2") });
/// assert_eq!(redact(&props), json!({ "user": "admin", "password": "[secret]" }));
/// ```
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) if marker(map).is_some() => Value::String(REDACTED.to_string()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| (key.clone(), redact(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Calls `visit` on every marker of kind `kind` in `value`, with the marker object itself (to
/// rewrite in place) and its JSON pointer (RFC 6901) relative to `value`.
///
/// Stops at the first error. Markers of the other kind are left alone and not descended into.
#[cfg(feature = "deploy")]
pub(crate) fn rewrite<E>(
    value: &mut Value,
    kind: Marker,
    visit: &mut impl FnMut(&mut Value, &str) -> Result<(), E>,
) -> Result<(), E> {
    walk(value, kind, &mut String::new(), visit)
}

#[cfg(feature = "deploy")]
fn walk<E>(
    value: &mut Value,
    kind: Marker,
    pointer: &mut String,
    visit: &mut impl FnMut(&mut Value, &str) -> Result<(), E>,
) -> Result<(), E> {
    if let Some(found) = value.as_object().and_then(marker) {
        return if found == kind {
            visit(value, pointer)
        } else {
            Ok(())
        };
    }
    let len = pointer.len();
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                push_key(pointer, key);
                walk(child, kind, pointer, visit)?;
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                // Writing to a `String` cannot fail.
                let _ = write!(pointer, "/{index}");
                walk(child, kind, pointer, visit)?;
                pointer.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Appends `/key` to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
#[cfg(feature = "deploy")]
fn push_key(pointer: &mut String, key: &str) {
    pointer.push('/');
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// A JSON pointer as shown in messages: the root is `/`.
#[cfg(feature = "deploy")]
pub(crate) fn show(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::secret::Secret;

    const VALUE: &str = "correct horse battery staple";

    fn nested() -> Value {
        json!({
            "name": "api",
            "env": [
                { "name": "TOKEN", "value": Secret::new(VALUE) },
                { "name": "MODE", "value": "prod" },
            ],
            "db": { "url": { "$sealed": "AAAA" } },
        })
    }

    #[test]
    fn finds_markers_at_any_depth() {
        assert!(has_secrets(&nested()));
        assert!(has_sealed(&nested()));
        assert!(has_secrets(&json!(Secret::new(VALUE))));
        assert!(has_sealed(&json!([[{ "$sealed": "AAAA" }]])));
    }

    #[test]
    fn plain_values_have_no_markers() {
        for value in [
            json!(null),
            json!("$secret"),
            json!({ "name": "api", "tags": ["a", "b"], "n": 1 }),
            json!({ "$secret": VALUE, "other": 1 }),
            json!({ "$ref": "db.url" }),
        ] {
            assert!(!has_secrets(&value), "{value}");
            assert!(!has_sealed(&value), "{value}");
        }
    }

    #[test]
    fn one_kind_is_not_the_other() {
        assert!(!has_sealed(&json!({ "a": Secret::new(VALUE) })));
        assert!(!has_secrets(&json!({ "a": { "$sealed": "AAAA" } })));
    }

    #[test]
    fn redact_replaces_both_markers() {
        let redacted = redact(&nested());
        assert_eq!(
            redacted,
            json!({
                "name": "api",
                "env": [
                    { "name": "TOKEN", "value": "[secret]" },
                    { "name": "MODE", "value": "prod" },
                ],
                "db": { "url": "[secret]" },
            })
        );
        assert!(!redacted.to_string().contains(VALUE));
        assert!(!has_secrets(&redacted) && !has_sealed(&redacted));
    }

    #[test]
    fn redact_replaces_a_marker_whatever_it_holds() {
        assert_eq!(redact(&json!({ "$secret": 42 })), json!("[secret]"));
        assert_eq!(
            redact(&json!([{ "$secret": [VALUE] }])),
            json!(["[secret]"])
        );
    }

    #[test]
    fn redact_leaves_plain_values_alone() {
        let plain = json!({ "name": "api", "tags": ["a", { "b": null }], "n": 1.5 });
        assert_eq!(redact(&plain), plain);
    }

    #[cfg(feature = "deploy")]
    #[test]
    fn rewrite_visits_markers_of_one_kind_with_their_pointers() {
        let mut value = json!({
            "a/b": { "c~d": Secret::new("1") },
            "list": [null, Secret::new("2"), { "$sealed": "AAAA" }],
            "top": Secret::new("3"),
        });
        let mut seen = Vec::new();
        rewrite::<()>(&mut value, Marker::Secret, &mut |marker, pointer| {
            seen.push(pointer.to_string());
            *marker = json!(pointer);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["/a~1b/c~0d", "/list/1", "/top"]);
        assert_eq!(
            value["list"],
            json!([null, "/list/1", { "$sealed": "AAAA" }])
        );
    }

    #[cfg(feature = "deploy")]
    #[test]
    fn rewrite_gives_the_root_an_empty_pointer() {
        let mut value = json!({ "$sealed": "AAAA" });
        let mut seen = Vec::new();
        rewrite::<()>(&mut value, Marker::Sealed, &mut |_, pointer| {
            seen.push(pointer.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [""]);
        assert_eq!(show(""), "/");
        assert_eq!(show("/a"), "/a");
    }

    #[cfg(feature = "deploy")]
    #[test]
    fn rewrite_stops_at_the_first_error() {
        let mut value = json!([Secret::new("1"), Secret::new("2")]);
        let mut visits = 0;
        let result = rewrite(&mut value, Marker::Secret, &mut |_, pointer| {
            visits += 1;
            Err(pointer.to_string())
        });
        assert_eq!(result, Err("/0".to_string()));
        assert_eq!(visits, 1);
    }
}
