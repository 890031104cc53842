//! [`LocalCloudflare`]: a Cloudflare account on this machine. The checking API server takes the
//! deploys, and every uploaded Worker script runs in workerd.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::workerd::{free_port, Launch};
use super::{lock, ApiServer, Cloud, Module, Script, ACCOUNT_ID, API_TOKEN};
use super::{ScriptHook, COMPATIBILITY_DATE};
use crate::api::Client;

/// A Cloudflare account on this machine: the checking [`ApiServer`] joined with workerd.
///
/// Deploy to it as to Cloudflare: point the client at [`LocalCloudflare::base_url`] (with
/// [`LocalCloudflare::env`], the `CLOUDFLARE_*` variables of a `deploy --stage`). Whenever a
/// Worker script is uploaded, its modules are written under
/// `<dir>/scripts/<script>/modules`, a wrangler configuration is generated from the uploaded
/// metadata, and workerd (through `wrangler dev`) is (re)started on a port of that script's
/// own, before the upload is answered:
///
/// - `r2_bucket` bindings are local R2 buckets named as the bucket the control plane made;
/// - `durable_object_namespace` bindings are SQLite-backed Durable Object classes of the
///   script (the classes its migrations gave a namespace); a binding to another script's class
///   reaches it through wrangler's dev registry, which the scripts of one target share;
/// - `plain_text` and `secret_text` bindings are variables.
///
/// An upload with the same modules and metadata leaves workerd running; any other upload
/// restarts it on the same port. Every script persists into one directory (`<dir>/persist`),
/// so R2 objects and Durable Object storage outlive restarts and redeploys. Deleting the script
/// stops it. A script that workerd cannot start fails its upload (with workerd's output) and
/// the previous version keeps running.
///
/// [`LocalCloudflare::url`] tells where a script answers, and [`LocalCloudflare::resolve`]
/// turns the workers.dev URL the platform reports into that address. Dropping the target stops
/// every Worker.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy_cloudflare::testing::LocalCloudflare;
///
/// let cloudflare = LocalCloudflare::start("target/local-cloudflare").await?;
/// for (name, value) in cloudflare.env() {
///     println!("export {name}={value}");
/// }
/// // ... deploy a stage with `provider = "cloudflare"` ...
/// let url = cloudflare.resolve("https://api.alchemy-test.workers.dev/hello");
/// # let _ = url;
/// assert!(cloudflare.api().violations().is_empty());
/// # Ok(())
/// # }
/// ```
pub struct LocalCloudflare {
    server: ApiServer,
    workers: Arc<Workers>,
}

impl std::fmt::Debug for LocalCloudflare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCloudflare")
            .field("api", &self.server.base_url())
            .field("dir", &self.workers.dir)
            .finish()
    }
}

impl LocalCloudflare {
    /// Starts the API server on a free 127.0.0.1 port, keeping the Workers' modules,
    /// configurations and storage under `dir`.
    pub async fn start(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        for sub in ["persist", "scripts", "config"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
            })?;
        }
        let server = ApiServer::start().await?;
        let workers = Arc::new(Workers {
            dir,
            scripts: Mutex::new(BTreeMap::new()),
        });
        let materialise = workers.clone();
        let hook: ScriptHook = Arc::new(move |script, cloud| materialise.apply(script, cloud));
        server.on_script_change(Some(hook));
        Ok(LocalCloudflare { server, workers })
    }

    /// The checking API server (its requests, violations and account).
    pub fn api(&self) -> &ApiServer {
        &self.server
    }

    /// The API's base URL (`CLOUDFLARE_API_BASE_URL`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A client of the API.
    pub fn client(&self) -> Client {
        self.server.client()
    }

    /// The environment that points a deploy at this target: `CLOUDFLARE_API_BASE_URL`,
    /// `CLOUDFLARE_ACCOUNT_ID` and `CLOUDFLARE_API_TOKEN`.
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("CLOUDFLARE_API_BASE_URL", self.base_url()),
            ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT_ID.to_owned()),
            ("CLOUDFLARE_API_TOKEN", API_TOKEN.to_owned()),
        ]
    }

    /// The directory of modules, configurations and storage.
    pub fn dir(&self) -> &Path {
        &self.workers.dir
    }

    /// Where `script` answers, such as `http://127.0.0.1:40123`, while it runs.
    pub fn url(&self, script: &str) -> Option<String> {
        let scripts = lock(&self.workers.scripts);
        let worker = scripts.get(script)?;
        worker
            .running
            .as_ref()
            .map(|_| format!("http://127.0.0.1:{}", worker.port))
    }

    /// The local address of a workers.dev URL (`https://<script>.<subdomain>.workers.dev/...`,
    /// as the platform reports it), path and query kept; `None` unless that script runs with
    /// workers.dev switched on under the account's subdomain.
    pub fn resolve(&self, url: &str) -> Option<String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let cloud = self.server.cloud();
        let subdomain = cloud.subdomain.as_deref()?;
        let script = host.strip_suffix(&format!(".{subdomain}.workers.dev"))?;
        if !cloud.scripts.get(script)?.workers_dev {
            return None;
        }
        Some(format!("{}{path}", self.url(script)?))
    }

    /// The scripts that run now, with their addresses.
    pub fn running(&self) -> BTreeMap<String, String> {
        lock(&self.workers.scripts)
            .iter()
            .filter(|(_, worker)| worker.running.is_some())
            .map(|(name, worker)| (name.clone(), format!("http://127.0.0.1:{}", worker.port)))
            .collect()
    }

    /// How many times workerd was started for `script` (0 for a script never uploaded).
    pub fn starts(&self, script: &str) -> u32 {
        lock(&self.workers.scripts)
            .get(script)
            .map_or(0, |worker| worker.starts)
    }

    /// What wrangler and the Worker `script` printed since its last start.
    pub fn output(&self, script: &str) -> Option<String> {
        let scripts = lock(&self.workers.scripts);
        Some(scripts.get(script)?.running.as_ref()?.workerd.output())
    }
}

impl Drop for LocalCloudflare {
    fn drop(&mut self) {
        self.server.on_script_change(None);
        // Dropping each `Workerd` stops it.
        lock(&self.workers.scripts).clear();
    }
}

/// The Workers of a target, by script name.
struct Workers {
    dir: PathBuf,
    scripts: Mutex<BTreeMap<String, Worker>>,
}

/// One script's port, and the workerd that runs its last upload.
struct Worker {
    port: u16,
    starts: u32,
    running: Option<Running>,
}

struct Running {
    workerd: super::Workerd,
    /// What it runs: the configuration and the modules.
    config: Value,
    modules: BTreeMap<String, Module>,
}

impl Workers {
    /// Makes workerd run what the account holds for `script`: stopped when there is no such
    /// script, left alone when it runs exactly that, else (re)started.
    fn apply(&self, name: &str, cloud: &Cloud) -> Result<(), String> {
        let mut scripts = lock(&self.scripts);
        let Some(script) = cloud.scripts.get(name) else {
            if let Some(worker) = scripts.get_mut(name) {
                worker.running = None;
            }
            return Ok(());
        };
        let config = wrangler_config(script, cloud)?;
        let worker = match scripts.entry(name.to_owned()) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => entry.insert(Worker {
                port: free_port().map_err(|e| e.to_string())?,
                starts: 0,
                running: None,
            }),
        };
        if worker
            .running
            .as_ref()
            .is_some_and(|r| r.config == config && r.modules == script.modules)
        {
            return Ok(());
        }
        // The port is the script's: the old workerd lets go of it first.
        worker.running = None;
        let script_dir = self.dir.join("scripts").join(name);
        write_modules(&script_dir.join("modules"), &script.modules)?;
        let config_path = script_dir.join("wrangler.json");
        let text = serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?;
        std::fs::write(&config_path, text)
            .map_err(|e| format!("writing {}: {e}", config_path.display()))?;
        let workerd = super::Workerd::launch(&Launch {
            config: &config_path,
            dir: &script_dir,
            persist_dir: &self.dir.join("persist"),
            port: worker.port,
            config_home: &self.dir.join("config"),
        })
        .map_err(|e| e.to_string())?;
        worker.starts += 1;
        worker.running = Some(Running {
            workerd,
            config,
            modules: script.modules.clone(),
        });
        Ok(())
    }
}

/// Writes `modules` into `dir`, replacing what was there.
fn write_modules(dir: &Path, modules: &BTreeMap<String, Module>) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    for (name, module) in modules {
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "module `{name}` is not a relative path inside the script"
            ));
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &module.bytes)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The wrangler module rule for an uploaded module's content type.
fn rule_type(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "application/javascript+module" | "text/javascript+module" => "ESModule",
        "application/javascript" | "text/javascript" => "CommonJS",
        "application/wasm" => "CompiledWasm",
        "text/plain" => "Text",
        _ => "Data",
    }
}

/// The wrangler configuration of `script` as uploaded: its modules without bundling, its
/// bindings, and its classes (those with a namespace) as SQLite-backed Durable Objects.
fn wrangler_config(script: &Script, cloud: &Cloud) -> Result<Value, String> {
    let metadata = &script.metadata;
    let main = metadata["main_module"]
        .as_str()
        .ok_or("the upload has no main_module")?;
    let mut vars = Map::new();
    let mut buckets = Vec::new();
    let mut objects = Vec::new();
    for binding in metadata["bindings"].as_array().into_iter().flatten() {
        let name = binding["name"].as_str().unwrap_or_default();
        match binding["type"].as_str().unwrap_or_default() {
            "plain_text" | "secret_text" => {
                vars.insert(name.to_owned(), binding["text"].clone());
            }
            "r2_bucket" => {
                buckets.push(json!({ "binding": name, "bucket_name": binding["bucket_name"] }))
            }
            "durable_object_namespace" => {
                let mut object = json!({ "name": name, "class_name": binding["class_name"] });
                match binding["script_name"].as_str() {
                    Some(other) if other != script.name => object["script_name"] = json!(other),
                    _ => {}
                }
                objects.push(object);
            }
            other => {
                return Err(format!(
                    "binding `{name}` has type `{other}`, which the local target does not run: \
                     it runs r2_bucket, durable_object_namespace, plain_text and secret_text \
                     bindings"
                ))
            }
        }
    }
    let mut rules: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, module) in &script.modules {
        rules
            .entry(rule_type(&module.content_type))
            .or_default()
            .push(name);
    }
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|(kind, globs)| json!({ "type": kind, "globs": globs, "fallthrough": false }))
        .collect();
    let classes: Vec<&str> = cloud
        .namespaces
        .iter()
        .filter(|n| n.script == script.name)
        .map(|n| n.class.as_str())
        .collect();
    let mut config = json!({
        "name": script.name,
        "main": format!("modules/{main}"),
        "base_dir": "modules",
        "no_bundle": true,
        "find_additional_modules": true,
        "rules": rules,
        "compatibility_date": metadata["compatibility_date"].as_str().unwrap_or(COMPATIBILITY_DATE),
        "compatibility_flags": metadata.get("compatibility_flags").cloned().unwrap_or(json!([])),
        "vars": vars,
        "r2_buckets": buckets,
        "durable_objects": { "bindings": objects },
    });
    if !classes.is_empty() {
        config["migrations"] = json!([{ "tag": "v1", "new_sqlite_classes": classes }]);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(bindings: Value) -> Script {
        let mut modules = BTreeMap::new();
        for (name, content_type) in [
            ("shim.js", "application/javascript+module"),
            ("index.js", "application/javascript+module"),
            ("index_bg.wasm", "application/wasm"),
        ] {
            modules.insert(
                name.to_owned(),
                Module {
                    content_type: content_type.to_owned(),
                    bytes: Vec::new(),
                },
            );
        }
        let mut script = Script::new(
            "api",
            json!({ "main_module": "shim.js", "compatibility_date": "2025-01-01", "bindings": bindings }),
        );
        script.modules = modules;
        script
    }

    #[test]
    fn the_configuration_follows_the_uploaded_metadata() {
        let mut cloud = Cloud::default();
        cloud.namespaces.push(super::super::Namespace {
            id: "1".into(),
            name: "api_Rooms".into(),
            script: "api".into(),
            class: "Rooms".into(),
        });
        let script = script(json!([
            { "type": "r2_bucket", "name": "PHOTOS", "bucket_name": "app-dev-photos" },
            { "type": "durable_object_namespace", "name": "ROOMS", "class_name": "Rooms" },
            { "type": "durable_object_namespace", "name": "OTHER", "class_name": "Chat", "script_name": "chat" },
            { "type": "plain_text", "name": "GREETING", "text": "hello" },
            { "type": "secret_text", "name": "KEY", "text": "s3cr3t" },
        ]));
        let config = wrangler_config(&script, &cloud).unwrap();
        assert_eq!(config["main"], "modules/shim.js");
        assert_eq!(config["compatibility_date"], "2025-01-01");
        assert_eq!(
            config["r2_buckets"],
            json!([{ "binding": "PHOTOS", "bucket_name": "app-dev-photos" }])
        );
        assert_eq!(
            config["durable_objects"]["bindings"],
            json!([
                { "name": "ROOMS", "class_name": "Rooms" },
                { "name": "OTHER", "class_name": "Chat", "script_name": "chat" },
            ])
        );
        assert_eq!(
            config["vars"],
            json!({ "GREETING": "hello", "KEY": "s3cr3t" })
        );
        assert_eq!(
            config["migrations"],
            json!([{ "tag": "v1", "new_sqlite_classes": ["Rooms"] }])
        );
        assert_eq!(
            config["rules"],
            json!([
                { "type": "CompiledWasm", "globs": ["index_bg.wasm"], "fallthrough": false },
                { "type": "ESModule", "globs": ["index.js", "shim.js"], "fallthrough": false },
            ])
        );
    }

    #[test]
    fn a_binding_the_target_cannot_run_is_named() {
        let script =
            script(json!([{ "type": "kv_namespace", "name": "CACHE", "namespace_id": "x" }]));
        let error = wrangler_config(&script, &Cloud::default()).unwrap_err();
        assert!(
            error.contains("`CACHE`") && error.contains("kv_namespace"),
            "{error}"
        );
    }

    #[test]
    fn modules_stay_inside_the_script_directory() {
        let dir = tempfile_dir();
        let mut modules = BTreeMap::new();
        modules.insert(
            "../escape.js".to_owned(),
            Module {
                content_type: "application/javascript+module".into(),
                bytes: b"x".to_vec(),
            },
        );
        let error = write_modules(&dir.join("modules"), &modules).unwrap_err();
        assert!(error.contains("../escape.js"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("alchemy-local-cf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
