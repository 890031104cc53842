//! The account the test server keeps in memory, and how each operation changes it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::multipart::FormPart;
use super::openapi::{Decoded, Documents};

/// An R2 bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// Its location hint, if one was given.
    pub location: Option<String>,
    /// Its storage class.
    pub storage_class: String,
    /// Whether it holds objects (see [`ApiServer::fill_bucket`](super::ApiServer::fill_bucket)).
    pub has_objects: bool,
}

/// A module of a script, as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its content type.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A Worker script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Its name.
    pub name: String,
    /// The metadata of its last upload.
    pub metadata: Value,
    /// Its modules, by part name.
    pub modules: BTreeMap<String, Module>,
    /// Its Durable Object migration tag.
    pub migration_tag: Option<String>,
    /// Whether it answers on workers.dev.
    pub workers_dev: bool,
    /// How many times it was uploaded.
    pub uploads: u32,
    created_on: String,
}

impl Script {
    /// A script `name` uploaded once with `metadata` and no modules.
    #[cfg(test)]
    pub(crate) fn new(name: &str, metadata: Value) -> Self {
        Script {
            name: name.to_owned(),
            metadata,
            modules: BTreeMap::new(),
            migration_tag: None,
            workers_dev: false,
            uploads: 1,
            created_on: String::new(),
        }
    }

    /// The binding named `name` of the last upload.
    pub fn binding(&self, name: &str) -> Option<&Value> {
        self.metadata
            .get("bindings")?
            .as_array()?
            .iter()
            .find(|b| b.get("name").and_then(Value::as_str) == Some(name))
    }
}

/// A Durable Object namespace, made by a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Its id.
    pub id: String,
    /// Its name, `<script>_<class>`.
    pub name: String,
    /// The script that exports its class.
    pub script: String,
    /// The class.
    pub class: String,
}

/// Everything in the account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cloud {
    /// R2 buckets, by name.
    pub buckets: BTreeMap<String, Bucket>,
    /// Worker scripts, by name.
    pub scripts: BTreeMap<String, Script>,
    /// Durable Object namespaces.
    pub namespaces: Vec<Namespace>,
    /// The account's workers.dev subdomain.
    pub subdomain: Option<String>,
    clock: u64,
}

/// An answer: HTTP status and envelope.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

/// What the documents do not describe (a violation), or an answer.
pub(crate) type Outcome = Result<Answer, String>;

fn ok(result: Value) -> Outcome {
    Ok(Answer {
        status: 200,
        body: json!({ "success": true, "errors": [], "messages": [], "result": result }),
    })
}

pub(crate) fn failure(status: u16, code: u32, message: &str) -> Answer {
    Answer {
        status,
        body: json!({ "success": false, "errors": [{ "code": code, "message": message }], "messages": [], "result": null }),
    }
}

fn fail(status: u16, code: u32, message: &str) -> Outcome {
    Ok(failure(status, code, message))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Cloud {
    /// An empty account with workers.dev subdomain `subdomain`.
    pub(crate) fn with_subdomain(subdomain: &str) -> Self {
        Cloud {
            subdomain: Some(subdomain.to_owned()),
            ..Cloud::default()
        }
    }

    /// Puts script `name` (and the namespaces of its classes) back as it is in `before`.
    pub(crate) fn restore_script(&mut self, before: &Cloud, name: &str) {
        match before.scripts.get(name) {
            Some(script) => self.scripts.insert(name.to_owned(), script.clone()),
            None => self.scripts.remove(name),
        };
        self.namespaces.retain(|n| n.script != name);
        self.namespaces.extend(
            before
                .namespaces
                .iter()
                .filter(|n| n.script == name)
                .cloned(),
        );
    }

    fn now(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-01-01T{:02}:{:02}:{:02}.000000Z",
            self.clock / 3600 % 24,
            self.clock / 60 % 60,
            self.clock % 60
        )
    }

    fn bucket_json(b: &Bucket) -> Value {
        let mut v = json!({ "name": b.name, "creation_date": "2026-01-01T00:00:00.000Z", "storage_class": b.storage_class });
        if let Some(l) = &b.location {
            v["location"] = json!(l);
        }
        v
    }

    /// Answers operation `op` of the documents.
    pub(crate) fn handle(
        &mut self,
        docs: &Documents,
        op: &str,
        params: &BTreeMap<String, String>,
        query: &[(String, String)],
        body: Decoded,
    ) -> Outcome {
        let param = |name: &str| params.get(name).cloned().unwrap_or_default();
        let json_body = match &body {
            Decoded::Json(v) => v.clone(),
            _ => Value::Null,
        };
        match op {
            "r2-list-buckets" => {
                let filter = query
                    .iter()
                    .find(|(k, _)| k == "name_contains")
                    .map(|(_, v)| v);
                let list: Vec<Value> = self
                    .buckets
                    .values()
                    .filter(|b| filter.is_none_or(|f| b.name.contains(f.as_str())))
                    .map(Self::bucket_json)
                    .collect();
                ok(json!(list))
            }
            "r2-create-bucket" => {
                let name = json_body["name"].as_str().unwrap_or_default().to_owned();
                if self.buckets.contains_key(&name) {
                    return fail(
                        409,
                        10004,
                        "The bucket you tried to create already exists, and you own it.",
                    );
                }
                let bucket = Bucket {
                    name: name.clone(),
                    location: json_body["locationHint"].as_str().map(str::to_owned),
                    storage_class: json_body["storageClass"]
                        .as_str()
                        .unwrap_or("Standard")
                        .to_owned(),
                    has_objects: false,
                };
                let answer = Self::bucket_json(&bucket);
                self.buckets.insert(name, bucket);
                ok(answer)
            }
            "r2-get-bucket" => match self.buckets.get(&param("bucket_name")) {
                Some(b) => ok(Self::bucket_json(b)),
                None => fail(404, 10006, "The specified bucket does not exist."),
            },
            "r2-delete-bucket" => match self.buckets.get(&param("bucket_name")) {
                None => fail(404, 10006, "The specified bucket does not exist."),
                Some(b) if b.has_objects => {
                    fail(409, 10008, "The bucket you tried to delete is not empty.")
                }
                Some(_) => {
                    self.buckets.remove(&param("bucket_name"));
                    ok(json!({}))
                }
            },
            "worker-script-upload-worker-module" => {
                let Decoded::Form(parts) = body else {
                    return Err("a script upload must be multipart/form-data with a `metadata` part and its modules".into());
                };
                self.upload(docs, &param("script_name"), parts)
            }
            "worker-script-delete-worker" => {
                let name = param("script_name");
                if !self.scripts.contains_key(&name) {
                    return fail(404, 10007, "This Worker does not exist on your account.");
                }
                let force = query.iter().any(|(k, v)| k == "force" && v == "true");
                if !force && self.namespaces.iter().any(|n| n.script == name) {
                    return fail(400, 10064, "This script has Durable Object namespaces: delete them with a migration first, or delete with force=true.");
                }
                self.scripts.remove(&name);
                self.namespaces.retain(|n| n.script != name);
                ok(Value::Null)
            }
            "worker-script-get-settings" => match self.scripts.get(&param("script_name")) {
                None => fail(404, 10007, "This Worker does not exist on your account."),
                Some(s) => {
                    let bindings: Vec<Value> = s.metadata["bindings"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            let mut b = b.clone();
                            if b["type"] == "secret_text" {
                                b.as_object_mut().map(|o| o.remove("text"));
                            }
                            b
                        })
                        .collect();
                    ok(json!({
                        "bindings": bindings,
                        "compatibility_date": s.metadata["compatibility_date"],
                        "compatibility_flags": s.metadata.get("compatibility_flags").cloned().unwrap_or(json!([])),
                        "tags": s.metadata.get("tags").cloned().unwrap_or(json!([])),
                        "logpush": false,
                        "usage_model": "standard",
                    }))
                }
            },
            "worker-script-list-workers" => ok(json!(self
                .scripts
                .values()
                .map(|s| json!({ "id": s.name, "created_on": s.created_on }))
                .collect::<Vec<_>>())),
            "durable-objects-namespace-list-namespaces" => ok(json!(self
                .namespaces
                .iter()
                .map(
                    |n| json!({ "id": n.id, "name": n.name, "script": n.script, "class": n.class })
                )
                .collect::<Vec<_>>())),
            "worker-subdomain-get-subdomain" => match &self.subdomain {
                Some(s) => ok(json!({ "subdomain": s })),
                None => fail(404, 10007, "This account has no workers.dev subdomain."),
            },
            "worker-script-get-subdomain"
            | "worker-script-post-subdomain"
            | "worker-script-delete-subdomain" => {
                let Some(script) = self.scripts.get_mut(&param("script_name")) else {
                    return fail(404, 10007, "This Worker does not exist on your account.");
                };
                match op {
                    "worker-script-post-subdomain" => {
                        script.workers_dev = json_body["enabled"].as_bool().unwrap_or(false)
                    }
                    "worker-script-delete-subdomain" => script.workers_dev = false,
                    _ => {}
                }
                ok(json!({ "enabled": script.workers_dev, "previews_enabled": false }))
            }
            other => Err(format!(
                "{other} is documented but this test server does not implement it"
            )),
        }
    }

    /// A script upload: the parts the metadata names, bindings of documented shapes, and the
    /// migrations, applied all or nothing.
    fn upload(&mut self, docs: &Documents, name: &str, parts: Vec<FormPart>) -> Outcome {
        let Some(meta_part) = parts.iter().find(|p| p.name == "metadata") else {
            return Err("the upload has no `metadata` part".into());
        };
        let metadata: Value = serde_json::from_slice(&meta_part.bytes)
            .map_err(|e| format!("the `metadata` part is not JSON: {e}"))?;
        let Some(main) = metadata.get("main_module").and_then(Value::as_str) else {
            return Err(
                "the metadata has no `main_module` (this server takes ES module Workers only)"
                    .into(),
            );
        };
        let modules: BTreeMap<String, Module> = parts
            .iter()
            .filter(|p| p.name != "metadata")
            .map(|p| {
                (
                    p.name.clone(),
                    Module {
                        content_type: p.content_type.clone().unwrap_or_default(),
                        bytes: p.bytes.clone(),
                    },
                )
            })
            .collect();
        match modules.get(main) {
            None => {
                return Err(format!(
                    "`main_module` is `{main}`, but no part has that name"
                ))
            }
            Some(m)
                if !m.content_type.starts_with("application/javascript+module")
                    && !m.content_type.starts_with("text/javascript+module") =>
            {
                return Err(format!(
                    "the main module `{main}` has content type `{}`, not an ES module type",
                    m.content_type
                ))
            }
            Some(_) => {}
        }
        let documented = docs.alternatives_types("#/components/schemas/workers_binding");
        let bindings = metadata
            .get("bindings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, b) in bindings.iter().enumerate() {
            let at = format!("metadata.bindings[{i}]");
            match b.get("type").and_then(Value::as_str) {
                Some("plain_text" | "secret_text") => {
                    let object = b.as_object().expect("a binding with a type is an object");
                    if !b["name"].is_string() || !b["text"].is_string() || object.len() != 3 {
                        return Err(format!("{at}: a {} binding is {{\"type\", \"name\", \"text\"}} with string values: {b}", b["type"]));
                    }
                }
                Some(t) if documented.iter().any(|d| d == t) => {
                    let problems = docs.validate_at("#/components/schemas/workers_binding", b, &at);
                    if !problems.is_empty() {
                        return Err(problems.join("; "));
                    }
                }
                other => return Err(format!("{at}: binding type {other:?} is not documented")),
            }
        }

        // Apply to a copy; keep it only if everything holds.
        let mut next = self.clone();
        let current_tag = self.scripts.get(name).and_then(|s| s.migration_tag.clone());
        let mut new_tag = current_tag.clone();
        if let Some(migrations) = metadata.get("migrations") {
            let old_tag = migrations
                .get("old_tag")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if old_tag != current_tag {
                return fail(400, 10079, &format!(
                    "Migration precondition failed: the script is at migration tag {current_tag:?}, the upload expects {old_tag:?}."
                ));
            }
            let steps: Vec<&Value> = match migrations.get("steps").and_then(Value::as_array) {
                Some(steps) => steps.iter().collect(),
                None => vec![migrations],
            };
            for step in steps {
                if let Err(message) = next.migrate(name, step) {
                    return fail(400, 10074, &message);
                }
            }
            new_tag = migrations
                .get("new_tag")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        for b in &bindings {
            match b["type"].as_str() {
                Some("r2_bucket") => {
                    let bucket = b["bucket_name"].as_str().unwrap_or_default();
                    if !next.buckets.contains_key(bucket) {
                        return fail(
                            400,
                            10085,
                            &format!("R2 bucket '{bucket}' cannot be bound: it does not exist."),
                        );
                    }
                }
                Some("durable_object_namespace") => {
                    let class = b["class_name"].as_str().unwrap_or_default();
                    let script = b["script_name"].as_str().unwrap_or(name);
                    if !next
                        .namespaces
                        .iter()
                        .any(|n| n.script == script && n.class == class)
                    {
                        return fail(400, 10061, &format!(
                            "Cannot create binding for class '{class}' because it is not currently configured to implement Durable Objects in script '{script}'. Did you miss a migration?"
                        ));
                    }
                }
                _ => {}
            }
        }
        let now = next.now();
        let hash = {
            use blake2::{Blake2s256, Digest};
            let mut h = Blake2s256::new();
            for (n, m) in &modules {
                h.update(n.as_bytes());
                h.update(&m.bytes);
            }
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let previous = next.scripts.remove(name);
        let script = Script {
            name: name.to_owned(),
            metadata,
            modules,
            migration_tag: new_tag,
            workers_dev: previous.as_ref().is_some_and(|p| p.workers_dev),
            uploads: previous.as_ref().map_or(0, |p| p.uploads) + 1,
            created_on: previous.map_or_else(|| now.clone(), |p| p.created_on),
        };
        let answer = json!({
            "id": name,
            "etag": hash,
            "created_on": script.created_on,
            "modified_on": now,
            "handlers": ["fetch"],
            "startup_time_ms": 1,
            "logpush": false,
        });
        next.scripts.insert(name.to_owned(), script);
        *self = next;
        ok(answer)
    }

    fn migrate(&mut self, script: &str, step: &Value) -> Result<(), String> {
        let exists = |cloud: &Cloud, class: &str| {
            cloud
                .namespaces
                .iter()
                .any(|n| n.script == script && n.class == class)
        };
        for class in strings(step.get("new_classes"))
            .into_iter()
            .chain(strings(step.get("new_sqlite_classes")))
        {
            if exists(self, &class) {
                return Err(format!("Cannot apply new-class migration to class '{class}' that is already depended on by existing Durable Objects"));
            }
            self.clock += 1;
            self.namespaces.push(Namespace {
                id: format!(
                    "{:016x}{:016x}",
                    self.clock.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    self.clock
                ),
                name: format!("{script}_{class}"),
                script: script.to_owned(),
                class,
            });
        }
        for rename in step
            .get("renamed_classes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (from, to) = (
                rename["from"].as_str().unwrap_or_default(),
                rename["to"].as_str().unwrap_or_default(),
            );
            if !exists(self, from) || exists(self, to) {
                return Err(format!("Cannot apply rename migration from '{from}' to '{to}': '{from}' must exist and '{to}' must not"));
            }
            for n in self
                .namespaces
                .iter_mut()
                .filter(|n| n.script == script && n.class == from)
            {
                n.class = to.to_owned();
                n.name = format!("{script}_{to}");
            }
        }
        for class in strings(step.get("deleted_classes")) {
            if !exists(self, &class) {
                return Err(format!(
                    "Cannot apply delete migration to class '{class}': it has no namespace"
                ));
            }
            self.namespaces
                .retain(|n| !(n.script == script && n.class == class));
        }
        if step.get("transferred_classes").is_some() {
            return Err("transferred_classes is not supported by this test server".into());
        }
        Ok(())
    }
}
