//! Property-level differences between two sets of props.

use serde::Serialize;
use serde_json::Value;

use crate::secret::redact;

/// One property that changes; `old` absent for an addition, `new` absent for a removal.
/// Secrets are already redacted to `[secret]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropDiff {
    /// Dotted path of the property.
    pub path: String,
    /// The value before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// Every property of a new resource, objects flattened to dotted paths.
pub(crate) fn created(props: &Value) -> Vec<PropDiff> {
    let mut out = Vec::new();
    leaves("", props, &mut out);
    out
}

fn leaves(path: &str, v: &Value, out: &mut Vec<PropDiff>) {
    match v {
        Value::Null => {}
        // A kind without props shows nothing, not `= {}`.
        Value::Object(map) if map.is_empty() && path.is_empty() => {}
        Value::Object(map) if !is_marker(v) && !map.is_empty() => {
            for (k, x) in map {
                leaves(&join(path, k), x, out);
            }
        }
        other => out.push(PropDiff {
            path: path.to_string(),
            old: None,
            new: Some(redact(other)),
        }),
    }
}

/// A `$ref`, `$secret` or `$sealed` marker: shown as one value, never walked into.
fn is_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.keys().next().is_some_and(|k| k.starts_with('$')))
}

/// The properties that differ between `old` and `new`, objects compared field by field.
pub(crate) fn between(old: &Value, new: &Value) -> Vec<PropDiff> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<PropDiff>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) if !is_marker(old) && !is_marker(new) => {
            for (k, va) in a {
                let p = join(path, k);
                match b.get(k) {
                    Some(vb) => walk(&p, va, vb, out),
                    None => out.push(PropDiff {
                        path: p,
                        old: Some(redact(va)),
                        new: None,
                    }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(PropDiff {
                        path: join(path, k),
                        old: None,
                        new: Some(redact(vb)),
                    });
                }
            }
        }
        _ => out.push(PropDiff {
            path: path.to_string(),
            old: Some(redact(old)),
            new: Some(redact(new)),
        }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_are_compared_one_by_one() {
        let d = between(
            &json!({"a": 1, "b": {"c": true, "d": "x"}, "gone": 1}),
            &json!({"a": 1, "b": {"c": false, "d": "x"}, "new": [1]}),
        );
        let paths: Vec<_> = d.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["b.c", "gone", "new"]);
        assert_eq!(d[0].old, Some(json!(true)));
        assert_eq!(d[0].new, Some(json!(false)));
        assert_eq!(d[1].new, None);
        assert_eq!(d[2].old, None);
    }

    #[test]
    fn a_new_resource_without_props_shows_no_property() {
        assert!(created(&json!({})).is_empty());
        let d = created(&json!({"a": {}, "b": {"c": 1}}));
        let paths: Vec<_> = d.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["a", "b.c"]);
    }

    #[test]
    fn secrets_never_show() {
        let d = between(
            &json!({"k": {"$secret": "old-pw"}}),
            &json!({"k": {"$secret": "new-pw"}}),
        );
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("pw"), "{text}");
        assert_eq!(d[0].new, Some(json!("[secret]")));
    }
}
