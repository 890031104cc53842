//! Cloudflare's OpenAPI documents, vendored in `openapi/`: operations matched by method and
//! path template, and a validator for the JSON Schema features the documents use.

use std::collections::BTreeMap;

use serde_json::Value;

use super::multipart::FormPart;

const SUBSET: &str = include_str!("../../openapi/openapi-subset.json");
const SUPPLEMENT: &str = include_str!("../../openapi/openapi-supplement.json");

/// One documented operation.
pub(crate) struct Operation {
    /// Its `operationId`.
    pub id: String,
    method: String,
    template: Vec<Segment>,
    /// Which document it is in (its `$ref`s point into that one).
    doc: usize,
    /// The operation object.
    op: Value,
    /// Parameters declared on the path item.
    shared_parameters: Vec<Value>,
}

enum Segment {
    Literal(String),
    Param(String),
}

/// The documents, parsed once.
pub(crate) struct Documents {
    docs: Vec<Value>,
    operations: Vec<Operation>,
}

/// A request as the checker sees it.
pub(crate) struct Incoming<'a> {
    pub query: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A request body, decoded as its content type says.
pub(crate) enum Decoded {
    None,
    Json(Value),
    Form(Vec<FormPart>),
}

impl Documents {
    pub(crate) fn load() -> Self {
        let docs: Vec<Value> = [SUBSET, SUPPLEMENT]
            .iter()
            .map(|text| {
                serde_json::from_str(text).expect("the vendored OpenAPI documents are JSON")
            })
            .collect();
        let mut operations = Vec::new();
        for (doc, root) in docs.iter().enumerate() {
            let Some(paths) = root.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (path, item) in paths {
                let shared: Vec<Value> = item
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let template: Vec<Segment> = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => Segment::Param(name.to_owned()),
                            None => Segment::Literal(s.to_owned()),
                        },
                    )
                    .collect();
                for (method, op) in item.as_object().into_iter().flatten() {
                    if method == "parameters" {
                        continue;
                    }
                    operations.push(Operation {
                        id: op
                            .get("operationId")
                            .and_then(Value::as_str)
                            .unwrap_or(path)
                            .to_owned(),
                        method: method.to_ascii_uppercase(),
                        template: template
                            .iter()
                            .map(|s| match s {
                                Segment::Literal(l) => Segment::Literal(l.clone()),
                                Segment::Param(p) => Segment::Param(p.clone()),
                            })
                            .collect(),
                        doc,
                        op: op.clone(),
                        shared_parameters: shared.clone(),
                    });
                }
            }
        }
        Documents { docs, operations }
    }

    /// The operation `method path` is, with its path parameters; the template with the most
    /// literal segments wins.
    pub(crate) fn find(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&Operation, BTreeMap<String, String>)> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(&Operation, BTreeMap<String, String>, usize)> = None;
        for op in self.operations.iter().filter(|o| o.method == method) {
            if op.template.len() != segments.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let mut literals = 0;
            let matched = op.template.iter().zip(&segments).all(|(t, s)| match t {
                Segment::Literal(l) => {
                    literals += 1;
                    l == s
                }
                Segment::Param(p) => {
                    params.insert(p.clone(), (*s).to_owned());
                    !s.is_empty()
                }
            });
            if matched && best.as_ref().is_none_or(|(_, _, n)| literals > *n) {
                best = Some((op, params, literals));
            }
        }
        best.map(|(op, params, _)| (op, params))
    }

    /// Every way `request` departs from `op`'s documentation, and its decoded body.
    pub(crate) fn check(
        &self,
        op: &Operation,
        path_params: &BTreeMap<String, String>,
        request: &Incoming<'_>,
    ) -> (Vec<String>, Decoded) {
        let root = &self.docs[op.doc];
        let mut problems = Vec::new();
        let parameters: Vec<&Value> = op
            .shared_parameters
            .iter()
            .chain(
                op.op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .map(|p| resolve(root, p))
            .collect();
        for p in &parameters {
            let (Some(name), Some(place)) = (
                p.get("name").and_then(Value::as_str),
                p.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            let schema = p.get("schema").unwrap_or(&Value::Null);
            let required = p.get("required").and_then(Value::as_bool) == Some(true);
            let given: Option<&str> = match place {
                "path" => path_params.get(name).map(String::as_str),
                "query" => request
                    .query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str()),
                _ => continue,
            };
            match given {
                None if required => {
                    problems.push(format!("{place} parameter `{name}` is required"))
                }
                None => {}
                Some(raw) => validate(
                    root,
                    schema,
                    &coerce(root, schema, raw),
                    &format!("{place} parameter `{name}`"),
                    &mut problems,
                ),
            }
        }
        for (name, _) in request.query {
            let known = parameters.iter().any(|p| {
                p.get("in").and_then(Value::as_str) == Some("query")
                    && p.get("name").and_then(Value::as_str) == Some(name.as_str())
            });
            if !known {
                problems.push(format!("query parameter `{name}` is not documented"));
            }
        }
        let secured = op
            .op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let bearer = request
            .authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| !t.trim().is_empty());
        if secured && !bearer {
            problems.push("no `Authorization: Bearer <API token>` header".into());
        }
        let decoded = self.check_body(root, op, request, &mut problems);
        (problems, decoded)
    }

    fn check_body(
        &self,
        root: &Value,
        op: &Operation,
        request: &Incoming<'_>,
        problems: &mut Vec<String>,
    ) -> Decoded {
        let Some(body_doc) = op.op.get("requestBody").map(|b| resolve(root, b)) else {
            if !request.body.is_empty() {
                problems.push(format!("{} takes no request body", op.id));
            }
            return Decoded::None;
        };
        let required = body_doc.get("required").and_then(Value::as_bool) == Some(true);
        if request.body.is_empty() && request.content_type.is_none() {
            if required {
                problems.push(format!("{} requires a request body", op.id));
            }
            return Decoded::None;
        }
        let media = request
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let Some(content) = body_doc.get("content").and_then(|c| c.get(media.as_str())) else {
            let documented: Vec<&String> = body_doc
                .get("content")
                .and_then(Value::as_object)
                .map(|c| c.keys().collect())
                .unwrap_or_default();
            problems.push(format!(
                "content type `{media}` is not documented for {} (documented: {documented:?})",
                op.id
            ));
            return Decoded::None;
        };
        let schema = content.get("schema");
        match media.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(request.body) {
                Ok(value) => {
                    if let Some(schema) = schema {
                        validate(root, schema, &value, "body", problems);
                    }
                    Decoded::Json(value)
                }
                Err(e) => {
                    problems.push(format!("the body is not JSON: {e}"));
                    Decoded::None
                }
            },
            "multipart/form-data" => {
                let Some(boundary) = request.content_type.and_then(super::multipart::boundary)
                else {
                    problems.push("a multipart body without a boundary".into());
                    return Decoded::None;
                };
                match super::multipart::parse(request.body, &boundary) {
                    Ok(parts) => {
                        check_form(root, schema, content.get("encoding"), &parts, problems);
                        Decoded::Form(parts)
                    }
                    Err(e) => {
                        problems.push(format!("a malformed multipart body: {e}"));
                        Decoded::None
                    }
                }
            }
            _ => Decoded::None,
        }
    }

    /// Validates `value` against the schema at `pointer` (e.g. `#/components/schemas/x`) of the
    /// main document.
    pub(crate) fn validate_at(&self, pointer: &str, value: &Value, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        validate(
            &self.docs[0],
            &serde_json::json!({ "$ref": pointer }),
            value,
            at,
            &mut problems,
        );
        problems
    }

    /// The `type` enum values of every alternative of the schema at `pointer` (a `oneOf`).
    pub(crate) fn alternatives_types(&self, pointer: &str) -> Vec<String> {
        let root = &self.docs[0];
        let schema = root
            .pointer(pointer.trim_start_matches('#'))
            .map_or(&Value::Null, |s| resolve(root, s));
        schema
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|alt| {
                resolve(&self.docs[0], alt)
                    .pointer("/properties/type/enum/0")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }
}

/// Checks the parts of a multipart body against the schema's properties: a JSON part (such as
/// `metadata`) against its schema, any other part against the `<any part name>` entry and its
/// documented content types.
fn check_form(
    root: &Value,
    schema: Option<&Value>,
    encoding: Option<&Value>,
    parts: &[FormPart],
    problems: &mut Vec<String>,
) {
    let Some(schema) = schema.map(|s| resolve(root, s)) else {
        return;
    };
    let alternatives: Vec<&Value> = match schema.get("oneOf").and_then(Value::as_array) {
        Some(alts) => alts.iter().map(|a| resolve(root, a)).collect(),
        None => vec![schema],
    };
    let any_types: Vec<String> = encoding
        .and_then(|e| e.get("<any part name>"))
        .and_then(|e| e.get("contentType"))
        .and_then(Value::as_str)
        .map(|t| t.split(',').map(|t| t.trim().to_owned()).collect())
        .unwrap_or_default();
    // The alternative whose named properties the parts use (for a script upload: `metadata`).
    let chosen = alternatives
        .iter()
        .find(|alt| {
            parts.iter().any(|p| {
                alt.get("properties")
                    .and_then(|props| props.get(&p.name))
                    .is_some()
            })
        })
        .or(alternatives.first())
        .copied();
    let Some(properties) = chosen.and_then(|c| c.get("properties")) else {
        return;
    };
    for part in parts {
        if let Some(property) = properties.get(&part.name) {
            let property = resolve(root, property);
            if property.get("type").and_then(Value::as_str) == Some("object") {
                match serde_json::from_slice::<Value>(&part.bytes) {
                    Ok(value) => validate(
                        root,
                        property,
                        &value,
                        &format!("part `{}`", part.name),
                        problems,
                    ),
                    Err(e) => problems.push(format!("part `{}` is not JSON: {e}", part.name)),
                }
            }
        } else if properties.get("<any part name>").is_some() {
            let media = part
                .content_type
                .as_deref()
                .and_then(|c| c.split(';').next())
                .map(|c| c.trim().to_ascii_lowercase());
            match media {
                Some(m) if any_types.is_empty() || any_types.contains(&m) => {}
                Some(m) => problems.push(format!(
                    "part `{}` has content type `{m}`, which is not one of {any_types:?}",
                    part.name
                )),
                None => problems.push(format!("part `{}` has no Content-Type", part.name)),
            }
        } else {
            problems.push(format!("part `{}` is not documented", part.name));
        }
    }
}

/// Follows `$ref`s (`#/...` pointers into `root`).
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(pointer) => match root.pointer(pointer) {
                Some(target) => schema = target,
                None => return &Value::Null,
            },
            None => break,
        }
    }
    schema
}

/// A path or query value as the type its schema gives.
fn coerce(root: &Value, schema: &Value, raw: &str) -> Value {
    match resolve(root, schema).get("type").and_then(Value::as_str) {
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        Some("number" | "integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| raw.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(raw.to_owned())),
        _ => Value::String(raw.to_owned()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

/// Validates `v` against `schema`: `$ref`, `type` (with `nullable`), `enum`, `properties`,
/// `required`, `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/
/// `maxLength`, `pattern`, `minimum`/`maximum`, `allOf`, `anyOf` and `oneOf`.
///
/// `oneOf` is checked as "at least one": Cloudflare's documents use it for alternatives that
/// overlap (a single-step migration object also matches the stepped form), where "exactly one"
/// would reject every request.
pub(crate) fn validate(root: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(root, schema);
    let Some(s) = schema.as_object() else {
        return;
    };
    if v.is_null() && s.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        if !type_matches(t, v) {
            out.push(format!("{at}: expected {t}, found {}", kind(v)));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            out.push(format!(
                "{at}: {v} is not one of {}",
                Value::Array(options.clone())
            ));
        }
    }
    match v {
        Value::String(text) => {
            let len = text.chars().count() as u64;
            if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    out.push(format!("{at}: {text:?} is shorter than {min} characters"));
                }
            }
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    out.push(format!("{at}: {text:?} is longer than {max} characters"));
                }
            }
            if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
                match regex_lite::Regex::new(pattern) {
                    Ok(re) if !re.is_match(text) => out.push(format!(
                        "{at}: {text:?} does not match the pattern {pattern}"
                    )),
                    _ => {}
                }
            }
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or_default();
            if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    out.push(format!("{at}: {n} is below the minimum {min}"));
                }
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    out.push(format!("{at}: {n} is above the maximum {max}"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    out.push(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    out.push(format!("{at}: more than {max} items"));
                }
            }
            if let Some(item) = s.get("items") {
                for (i, v) in items.iter().enumerate() {
                    validate(root, item, v, &format!("{at}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            for name in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = name.as_str() {
                    if !map.contains_key(name) {
                        out.push(format!("{at}: the required property `{name}` is missing"));
                    }
                }
            }
            let properties = s.get("properties").and_then(Value::as_object);
            for (key, value) in map {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => validate(root, property, value, &format!("{at}.{key}"), out),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            out.push(format!("{at}: property `{key}` is not allowed"))
                        }
                        Some(extra @ Value::Object(_)) => {
                            validate(root, extra, value, &format!("{at}.{key}"), out)
                        }
                        _ => {}
                    },
                }
            }
        }
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(root, sub, v, at, out);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(alternatives) = s.get(keyword).and_then(Value::as_array) {
            let mut reasons = Vec::new();
            let matched = alternatives.iter().any(|alt| {
                let mut sub = Vec::new();
                validate(root, alt, v, at, &mut sub);
                let ok = sub.is_empty();
                reasons.extend(sub);
                ok
            });
            if !matched {
                out.push(format!(
                    "{at}: matches none of the {keyword} alternatives ({})",
                    reasons.join("; ")
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_are_found_by_method_and_template() {
        let docs = Documents::load();
        let (op, params) = docs
            .find("PUT", "/accounts/abc/workers/scripts/my-worker")
            .unwrap();
        assert_eq!(op.id, "worker-script-upload-worker-module");
        assert_eq!(params["script_name"], "my-worker");
        let (op, _) = docs.find("GET", "/accounts/abc/workers/subdomain").unwrap();
        assert_eq!(op.id, "worker-subdomain-get-subdomain");
        let (op, _) = docs
            .find("POST", "/accounts/abc/workers/scripts/w/subdomain")
            .unwrap();
        assert_eq!(op.id, "worker-script-post-subdomain");
        assert!(docs.find("PATCH", "/accounts/abc/r2/buckets/b").is_none());
    }

    #[test]
    fn the_validator_follows_refs_and_keywords() {
        let docs = Documents::load();
        let ok = json!({ "type": "r2_bucket", "name": "B", "bucket_name": "b" });
        assert!(docs
            .validate_at("#/components/schemas/workers_binding", &ok, "b")
            .is_empty());
        let missing = json!({ "type": "r2_bucket", "name": "B" });
        let problems = docs.validate_at("#/components/schemas/workers_binding", &missing, "b");
        assert!(
            problems.iter().any(|p| p.contains("bucket_name")),
            "{problems:?}"
        );
        let bad = docs.validate_at("#/components/schemas/r2_bucket_name", &json!("-x"), "name");
        assert!(bad.iter().any(|p| p.contains("pattern")), "{bad:?}");
        let bad = docs.validate_at(
            "#/components/schemas/r2_bucket_location",
            &json!("mars"),
            "l",
        );
        assert!(bad.iter().any(|p| p.contains("not one of")), "{bad:?}");
    }
}
