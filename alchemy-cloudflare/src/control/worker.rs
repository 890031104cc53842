//! The Worker script as a deployable resource: modules, bindings, Durable Object migrations and
//! the workers.dev switch.

use std::path::PathBuf;

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Error, Input, Resource, Result, Secret};
use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::hash::Hasher;
use super::migration::Migration;
use crate::api::{Body, Client, Part};

/// The files of a built Worker: the JS entry module and the modules it imports (the `.wasm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerBundle {
    /// The directory the build wrote the files to.
    pub dir: PathBuf,
    /// The entry module's file name in `dir`, e.g. `shim.mjs`.
    pub main_module: String,
    /// The other modules' file names in `dir`, e.g. `index_bg.wasm`.
    #[serde(default)]
    pub modules: Vec<String>,
}

/// One module of a bundle, read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its file name, which is also its part name and import specifier.
    pub name: String,
    /// Its content type, from its extension.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl WorkerBundle {
    /// Reads every module, the entry first.
    pub fn read(&self) -> Result<Vec<Module>> {
        let names = std::iter::once(&self.main_module).chain(&self.modules);
        names
            .map(|name| {
                let path = self.dir.join(name);
                let bytes = std::fs::read(&path).map_err(|e| {
                    Error::io(
                        format!(
                            "cannot read Worker module {} (build the Worker bundle before planning a Cloudflare stage)",
                            path.display()
                        ),
                        e,
                    )
                })?;
                Ok(Module {
                    name: name.clone(),
                    content_type: content_type(name),
                    bytes,
                })
            })
            .collect()
    }

    /// A hash of every module's name and bytes: equal hashes mean the same code.
    pub fn content_hash(&self) -> Result<String> {
        let mut hasher = Hasher::default();
        for module in self.read()? {
            hasher.piece(&module.name, &module.bytes);
        }
        Ok(hasher.finish())
    }
}

/// The content type Cloudflare expects for a module file.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("mjs" | "js") => "application/javascript+module",
        Some("cjs") => "application/javascript",
        Some("wasm") => "application/wasm",
        Some("map") => "application/source-map",
        Some("txt" | "html") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// A binding of the script, as in its upload metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkerBinding {
    /// An R2 bucket.
    R2Bucket {
        /// The name the Worker's `env` has it under.
        name: String,
        /// The bucket's name (usually a reference to the bucket's `name` output).
        bucket_name: Input<String>,
    },
    /// A Durable Object namespace.
    DurableObjectNamespace {
        /// The name the Worker's `env` has it under.
        name: String,
        /// The exported class.
        class_name: String,
        /// The script that exports the class, when it is another one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script_name: Option<Input<String>>,
    },
    /// A plain text variable.
    PlainText {
        /// The name the Worker's `env` has it under.
        name: String,
        /// Its value.
        text: Input<String>,
    },
    /// A secret text variable: never printed, sealed in state.
    SecretText {
        /// The name the Worker's `env` has it under.
        name: String,
        /// Its value, or a reference to a secret output of another resource (an access
        /// key's, say), which a plan shows as `[secret]` once known.
        text: Input<Secret>,
    },
}

impl WorkerBinding {
    /// The binding name.
    pub fn name(&self) -> &str {
        match self {
            WorkerBinding::R2Bucket { name, .. }
            | WorkerBinding::DurableObjectNamespace { name, .. }
            | WorkerBinding::PlainText { name, .. }
            | WorkerBinding::SecretText { name, .. } => name,
        }
    }

    /// The binding in the upload metadata's shape.
    fn metadata(&self) -> Value {
        match self {
            WorkerBinding::R2Bucket { name, bucket_name } => {
                json!({ "type": "r2_bucket", "name": name, "bucket_name": bucket_name.get() })
            }
            WorkerBinding::DurableObjectNamespace {
                name,
                class_name,
                script_name,
            } => {
                let mut b = json!({ "type": "durable_object_namespace", "name": name, "class_name": class_name });
                if let Some(script) = script_name {
                    b["script_name"] = json!(script.get());
                }
                b
            }
            WorkerBinding::PlainText { name, text } => {
                json!({ "type": "plain_text", "name": name, "text": text.get() })
            }
            WorkerBinding::SecretText { name, text } => {
                json!({ "type": "secret_text", "name": name, "text": text.get().expose() })
            }
        }
    }
}

/// A Durable Object class the script exports, with the namespace Cloudflare keeps for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurableObjectClass {
    /// The exported class.
    pub class_name: String,
    /// The class it was called before: its namespace (and every object in it) is carried over
    /// by a rename migration instead of being made anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A Worker script, uploaded as ES modules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerProps {
    /// The built files.
    pub bundle: WorkerBundle,
    /// [`WorkerBundle::content_hash`] at plan time: a new build with other bytes is an update,
    /// the same bytes are not.
    pub content_hash: String,
    /// The Workers runtime's compatibility date.
    pub compatibility_date: String,
    /// Compatibility flags.
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    /// Bindings, by name.
    #[serde(default)]
    pub bindings: Vec<WorkerBinding>,
    /// The Durable Object classes this script exports (with SQLite storage).
    #[serde(default)]
    pub durable_objects: Vec<DurableObjectClass>,
    /// Whether the script answers on `<script>.<account subdomain>.workers.dev`.
    #[serde(default)]
    pub workers_dev: bool,
}

/// The script Cloudflare holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerOutput {
    /// The script's name.
    pub script_name: String,
    /// The content hash of the code uploaded last.
    pub content_hash: String,
    /// The Durable Object migration tag the script is at, if it ever had a migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_tag: Option<String>,
    /// The Durable Object classes with a namespace, after the last migration.
    #[serde(default)]
    pub classes: Vec<String>,
    /// The workers.dev URL, when it is switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Resource for WorkerProps {
    const KIND: &'static str = "cloudflare.worker";
    type Output = WorkerOutput;
}

/// Tags on the script that let [`Provider::read`] rebuild the output from the API alone.
const CONTENT_TAG: &str = "alchemy-content-";
const MIGRATION_TAG: &str = "alchemy-migration-";

/// The name of the script for a physical name: lower case letters, digits, `-` and `_`, at
/// most 63 characters (longer names end with a hash of the whole name).
pub fn script_name(physical: &str) -> String {
    let mut name: String = physical
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    if name.starts_with('-') {
        name.insert(0, 'w');
    }
    if name.len() > 63 {
        let hash = super::hash::hex_digest(physical.as_bytes());
        name.truncate(54);
        name = format!("{name}-{}", &hash[..8]);
    }
    name
}

/// Uploads Worker scripts, migrates their Durable Objects and switches workers.dev.
#[derive(Debug, Clone)]
pub struct WorkerProvider {
    client: Client,
}

impl WorkerProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        WorkerProvider { client }
    }

    fn path(&self, script: &str, rest: &str) -> String {
        self.client
            .account_path(&format!("/workers/scripts/{script}{rest}"))
    }

    /// Uploads the script with its bindings and `migration` (the script is at `current_tag`);
    /// the content hash is the one of the bytes read now.
    async fn upload(
        &self,
        script: &str,
        props: &WorkerProps,
        migration: Option<&Migration>,
        current_tag: Option<&str>,
    ) -> Result<String> {
        let modules = props.bundle.read()?;
        let mut hasher = Hasher::default();
        for module in &modules {
            hasher.piece(&module.name, &module.bytes);
        }
        let content_hash = hasher.finish();
        let mut tags = vec![format!("{CONTENT_TAG}{content_hash}")];
        // The tag the script is at after this upload, so `read` can tell it.
        let tag = migration.map_or(current_tag, |m| Some(m.new_tag.as_str()));
        if let Some(tag) = tag {
            tags.push(format!("{MIGRATION_TAG}{tag}"));
        }
        let mut metadata = json!({
            "main_module": props.bundle.main_module,
            "compatibility_date": props.compatibility_date,
            "compatibility_flags": props.compatibility_flags,
            "bindings": props.bindings.iter().map(WorkerBinding::metadata).collect::<Vec<_>>(),
            "tags": tags,
        });
        if let Some(migration) = migration {
            metadata["migrations"] = serde_json::to_value(migration)?;
        }
        let mut parts = vec![Part {
            name: "metadata".into(),
            filename: None,
            content_type: "application/json".into(),
            bytes: serde_json::to_vec(&metadata)?,
        }];
        parts.extend(modules.into_iter().map(|m| Part {
            filename: Some(m.name.clone()),
            name: m.name,
            content_type: m.content_type.into(),
            bytes: m.bytes,
        }));
        self.client
            .call(Method::PUT, &self.path(script, ""), Body::Multipart(parts))
            .await?;
        Ok(content_hash)
    }

    async fn set_workers_dev(&self, script: &str, enabled: bool) -> Result<()> {
        self.client
            .call(
                Method::POST,
                &self.path(script, "/subdomain"),
                Body::Json(json!({ "enabled": enabled })),
            )
            .await?;
        Ok(())
    }

    /// The account's workers.dev subdomain, or `None` when it has none.
    async fn account_subdomain(&self) -> Result<Option<String>> {
        let path = self.client.account_path("/workers/subdomain");
        let result = match self.client.call(Method::GET, &path, Body::Empty).await {
            Ok(result) => result,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match result.get("subdomain").and_then(Value::as_str) {
            Some(name) => Ok(Some(name.to_owned())),
            None => Err(Error::provider(format!(
                "the account's workers.dev subdomain came back without a name: {result}"
            ))),
        }
    }

    /// `https://<script>.<account subdomain>.workers.dev`, or an error saying how to get one.
    async fn url(&self, script: &str) -> Result<String> {
        match self.account_subdomain().await? {
            Some(subdomain) => Ok(format!("https://{script}.{subdomain}.workers.dev")),
            None => Err(Error::provider(format!(
                "the account has no workers.dev subdomain, so `{script}` cannot be served on \
                 workers.dev: choose one in the dashboard (Workers & Pages > Overview) or set \
                 `workers_dev: false` in the cloudflare settings"
            ))),
        }
    }

    /// The script as Cloudflare holds it, rebuilt from its settings, tags, namespaces and
    /// workers.dev switch; `None` when there is no such script.
    async fn live(&self, script: &str) -> Result<Option<WorkerOutput>> {
        let settings = match self
            .client
            .call(Method::GET, &self.path(script, "/settings"), Body::Empty)
            .await
        {
            Ok(settings) => settings,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let tags: Vec<&str> = settings
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let tagged = |prefix: &str| {
            tags.iter()
                .find_map(|t| t.strip_prefix(prefix))
                .map(str::to_owned)
        };
        let namespaces = self
            .client
            .call(
                Method::GET,
                &self
                    .client
                    .account_path("/workers/durable_objects/namespaces"),
                Body::Empty,
            )
            .await?;
        let mut classes: Vec<String> = namespaces
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n.get("script").and_then(Value::as_str) == Some(script))
            .filter_map(|n| n.get("class").and_then(Value::as_str).map(str::to_owned))
            .collect();
        classes.sort();
        let subdomain = self
            .client
            .call(Method::GET, &self.path(script, "/subdomain"), Body::Empty)
            .await?;
        let url = if subdomain.get("enabled").and_then(Value::as_bool) == Some(true) {
            self.account_subdomain()
                .await?
                .map(|sub| format!("https://{script}.{sub}.workers.dev"))
        } else {
            None
        };
        Ok(Some(WorkerOutput {
            content_hash: tagged(CONTENT_TAG).unwrap_or_default(),
            migration_tag: tagged(MIGRATION_TAG),
            script_name: script.to_owned(),
            classes,
            url,
        }))
    }

    /// Uploads when code, settings or classes differ from what `recorded` says, and switches
    /// workers.dev when that setting differs.
    async fn converge(
        &self,
        script: &str,
        props: &WorkerProps,
        recorded: Option<(&WorkerProps, &WorkerOutput)>,
    ) -> Result<WorkerOutput> {
        let (mut classes, mut tag, url) = match recorded {
            Some((_, o)) => (o.classes.clone(), o.migration_tag.clone(), o.url.clone()),
            None => (Vec::new(), None, None),
        };
        let mut migration = Migration::between(&classes, tag.as_deref(), &props.durable_objects);
        if migration.is_some() && recorded.is_some() {
            // An earlier attempt may have applied the migration without it being recorded (a
            // lost answer): migrate from what the script is at, never twice.
            if let Some(live) = self.live(script).await? {
                if live.migration_tag != tag {
                    (classes, tag) = (live.classes, live.migration_tag);
                    migration =
                        Migration::between(&classes, tag.as_deref(), &props.durable_objects);
                }
            }
        }
        let same_code = recorded.is_some_and(|(old, o)| {
            o.content_hash == props.content_hash
                && old.bundle == props.bundle
                && old.compatibility_date == props.compatibility_date
                && old.compatibility_flags == props.compatibility_flags
                && old.bindings == props.bindings
        });
        let mut output = WorkerOutput {
            script_name: script.to_owned(),
            content_hash: props.content_hash.clone(),
            migration_tag: tag.clone(),
            classes: classes.clone(),
            url,
        };
        if !same_code || migration.is_some() {
            output.content_hash = self
                .upload(script, props, migration.as_ref(), tag.as_deref())
                .await?;
            if let Some(m) = &migration {
                output.classes = m.apply(&classes);
                output.migration_tag = Some(m.new_tag.clone());
            }
        }
        let switch = match recorded {
            Some((old, o)) => {
                old.workers_dev != props.workers_dev || o.url.is_some() != props.workers_dev
            }
            None => true,
        };
        if switch {
            // The URL first: without an account subdomain the switch is not turned on at all.
            output.url = if props.workers_dev {
                Some(self.url(script).await?)
            } else {
                None
            };
            self.set_workers_dev(script, props.workers_dev).await?;
        }
        Ok(output)
    }
}

#[async_trait]
impl Provider<WorkerProps> for WorkerProvider {
    async fn read(
        &self,
        ctx: &Context,
        _props: &WorkerProps,
        output: Option<WorkerOutput>,
    ) -> Result<Option<WorkerOutput>> {
        let script = output.map_or_else(|| script_name(&ctx.physical_name()), |o| o.script_name);
        self.live(&script).await
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &WorkerProps,
        new: &WorkerProps,
        _output: &WorkerOutput,
    ) -> Result<Diff> {
        // The script name comes from the context: everything else changes in place.
        Ok(if old == new { Diff::Noop } else { Diff::Update })
    }

    async fn create(&self, ctx: &Context, props: &WorkerProps) -> Result<WorkerOutput> {
        let script = script_name(&ctx.physical_name());
        // A create that ran before without being recorded left the script with its classes:
        // start from what is there, so its migration is not applied twice.
        let existing = self.read(ctx, props, None).await?;
        let output = match &existing {
            Some(found) => {
                // Upload again (the bytes of that attempt are unknown); the workers.dev switch
                // is set only if it is not as wanted.
                let found = WorkerOutput {
                    content_hash: String::new(),
                    ..found.clone()
                };
                self.converge(&script, props, Some((props, &found))).await?
            }
            None => self.converge(&script, props, None).await?,
        };
        Ok(output)
    }

    async fn update(
        &self,
        _ctx: &Context,
        old: &WorkerProps,
        new: &WorkerProps,
        output: &WorkerOutput,
    ) -> Result<WorkerOutput> {
        self.converge(&output.script_name, new, Some((old, output)))
            .await
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &WorkerProps,
        output: &WorkerOutput,
    ) -> Result<()> {
        // `force`: the script's own Durable Object namespaces go with it.
        let path = self.path(&output.script_name, "?force=true");
        match self
            .client
            .call(Method::DELETE, &path, Body::Json(json!({})))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_are_valid() {
        assert_eq!(script_name("photo-share-dev-api"), "photo-share-dev-api");
        assert_eq!(script_name("A.b"), "a-b");
        assert_eq!(script_name(&"x".repeat(90)).len(), 63);
    }
}
