//! The Cloudflare platform: what an app's buckets, actors and services become on Cloudflare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alchemy::bind::{Declaration, Request};
use alchemy::platform::Platform;
use alchemy::provider::Providers;
use alchemy::stack::{Binding, Contribution, Stack};
use alchemy::{Error, Input, Resource, Result, Secret};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{
    DurableObjectClass, DurableObjectNamespaceProps, DurableObjectNamespaceProvider, R2BucketProps,
    R2BucketProvider, WorkerBinding, WorkerBundle, WorkerProps, WorkerProvider,
};
use crate::api::Client;
use crate::names;

/// The compatibility date of Workers when the settings do not give one.
pub const DEFAULT_COMPATIBILITY_DATE: &str = "2025-01-01";

/// How a stage deploys to Cloudflare: the settings of its `cloudflare` platform.
///
/// The `bundle` is either built beforehand (`{ dir, main_module, modules }`) or an app crate
/// that the platform builds when the stage is planned (`{ crate = "path", features = [...] }`,
/// feature `build`); see [`BundleSource`].
///
/// ```
/// use alchemy_cloudflare::control::CloudflarePlatformOptions;
/// use serde_json::json;
///
/// let options = CloudflarePlatformOptions::from_settings(&json!({
///     "bundle": { "dir": "target/worker", "main_module": "shim.mjs", "modules": ["index_bg.wasm"] },
///     "vars": { "GREETING": "hello" },
/// }))
/// .unwrap();
/// assert!(options.workers_dev);
///
/// let wrong = CloudflarePlatformOptions::from_settings(&json!({ "bundel": {} })).unwrap_err();
/// assert!(wrong.to_string().contains("unknown field `bundel`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflarePlatformOptions {
    /// The Worker every service's script is uploaded from; the script learns which service it
    /// is from its [`names::SERVICE_BINDING`] variable.
    pub bundle: BundleSource,
    /// The Workers runtime's compatibility date (default [`DEFAULT_COMPATIBILITY_DATE`]).
    #[serde(default = "default_date")]
    pub compatibility_date: String,
    /// Compatibility flags.
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    /// Whether services answer on workers.dev (default: yes).
    #[serde(default = "yes")]
    pub workers_dev: bool,
    /// Plain-text variables of every service, by binding name.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Secret variables of every service: binding name to the environment variable of the
    /// deploying process that holds the value.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Actor namespaces renamed in the app: new logical id to the old one. The namespace keeps
    /// its objects (a rename migration) instead of being deleted and made anew.
    #[serde(default)]
    pub renamed_actors: BTreeMap<String, String>,
    /// The Durable Object class the bundle exports for an actor namespace, by logical id (the
    /// class named in `durable_object!`); by default [`names::actor_class`] of the id.
    #[serde(default)]
    pub actor_classes: BTreeMap<String, String>,
}

fn default_date() -> String {
    DEFAULT_COMPATIBILITY_DATE.to_owned()
}

fn yes() -> bool {
    true
}

impl CloudflarePlatformOptions {
    /// The options of a stage's settings object, refusing keys it does not know.
    pub fn from_settings(settings: &Value) -> Result<Self> {
        serde_json::from_value(settings.clone()).map_err(|e| {
            Error::Config(format!(
                "invalid settings of the cloudflare platform: {e}. The keys are `bundle` \
                 (required: {{\"dir\", \"main_module\", \"modules\"}} of a built Worker, or \
                 {{\"crate\", \"features\"}} of an app crate to build), `compatibility_date`, \
                 `compatibility_flags`, `workers_dev`, `vars`, `secrets`, `renamed_actors` and \
                 `actor_classes`"
            ))
        })
    }

    /// The options for the built `bundle`, every other setting at its default.
    pub fn new(bundle: WorkerBundle) -> Self {
        Self::from_source(BundleSource::Built(bundle))
    }

    /// The options for the Worker from `bundle`, every other setting at its default.
    pub fn from_source(bundle: BundleSource) -> Self {
        CloudflarePlatformOptions {
            bundle,
            compatibility_date: default_date(),
            compatibility_flags: Vec::new(),
            workers_dev: true,
            vars: BTreeMap::new(),
            secrets: BTreeMap::new(),
            renamed_actors: BTreeMap::new(),
            actor_classes: BTreeMap::new(),
        }
    }

    /// The class exported for actors `id`.
    pub fn actor_class(&self, id: &str) -> String {
        self.actor_classes
            .get(id)
            .cloned()
            .unwrap_or_else(|| names::actor_class(id))
    }
}

/// Where the Workers' code comes from: the `bundle` setting.
///
/// ```
/// use alchemy_cloudflare::control::{BundleSource, CrateSource};
/// use serde_json::json;
///
/// let source: BundleSource = serde_json::from_value(json!({ "crate": "examples/photo-share" })).unwrap();
/// assert_eq!(source, BundleSource::Crate(CrateSource { path: "examples/photo-share".into(), features: vec![] }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// A Worker built before planning: `{ dir, main_module, modules }`.
    Built(WorkerBundle),
    /// An app crate, built with [`build_worker`](crate::build::build_worker) whenever the
    /// stage is planned (feature `build`): `{ crate = "path/to/crate" }`. Unchanged sources
    /// build the same bytes, so a redeploy with no change uploads nothing.
    Crate(CrateSource),
}

/// An app crate to build into the Worker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrateSource {
    /// The crate's directory (the one with its `Cargo.toml`), relative to the working
    /// directory of the deploy.
    #[serde(rename = "crate")]
    pub path: PathBuf,
    /// Cargo features of the crate to enable.
    #[serde(default)]
    pub features: Vec<String>,
}

impl<'de> Deserialize<'de> for BundleSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = Value::deserialize(deserializer)?;
        if value.get("crate").is_some() {
            CrateSource::deserialize(value)
                .map(BundleSource::Crate)
                .map_err(D::Error::custom)
        } else {
            WorkerBundle::deserialize(value)
                .map(BundleSource::Built)
                .map_err(D::Error::custom)
        }
    }
}

impl WorkerBundle {
    /// The files of a bundle that [`build_worker`](crate::build::build_worker) wrote: its
    /// entry module, and every other file of its directory as a module (the wasm-bindgen glue,
    /// its snippets, the wasm).
    #[cfg(feature = "build")]
    pub fn from_build(built: &crate::build::WorkerBundle) -> Result<Self> {
        let main = built
            .main_module
            .strip_prefix(&built.dir)
            .unwrap_or(&built.main_module);
        let mut modules = Vec::new();
        let mut pending = vec![built.dir.clone()];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?
                    .path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(relative) = path.strip_prefix(&built.dir) {
                    if relative != main {
                        modules.push(module_name(relative));
                    }
                }
            }
        }
        modules.sort();
        Ok(WorkerBundle {
            dir: built.dir.clone(),
            main_module: module_name(main),
            modules,
        })
    }
}

/// A module's name: its path in the bundle, with `/` between the parts.
#[cfg(feature = "build")]
fn module_name(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Builds the crate of `source` into a bundle.
#[cfg(feature = "build")]
fn build_crate(source: &CrateSource) -> Result<WorkerBundle> {
    use crate::build::{build_worker, BuildOptions};
    check_crate(&source.path)?;
    let options = BuildOptions {
        features: source.features.clone(),
        ..BuildOptions::default()
    };
    let built = build_worker(&source.path, &options).map_err(|e| {
        Error::Config(format!(
            "building the Worker from the crate at {}: {e}",
            source.path.display()
        ))
    })?;
    WorkerBundle::from_build(&built)
}

#[cfg(not(feature = "build"))]
fn build_crate(source: &CrateSource) -> Result<WorkerBundle> {
    check_crate(&source.path)?;
    Err(Error::Config(format!(
        "the cloudflare setting `bundle = {{ crate = \"{}\" }}` builds the Worker while planning, \
         which needs the `build` feature of alchemy-cloudflare: enable it next to `deploy`, or \
         build the bundle beforehand and give `bundle = {{ dir, main_module, modules }}`",
        source.path.display()
    )))
}

/// Fails, saying where it looked, when `path` holds no crate.
fn check_crate(path: &Path) -> Result<()> {
    if path.join("Cargo.toml").is_file() {
        return Ok(());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    Err(Error::Config(format!(
        "the cloudflare setting `bundle = {{ crate = \"{}\" }}` names no crate: there is no \
         Cargo.toml in {} (the path is relative to the working directory, {}); point `crate` \
         at the directory of the Worker's crate",
        path.display(),
        cwd.join(path).display(),
        cwd.display()
    )))
}

/// The Cloudflare platform: buckets are R2 buckets, actors are Durable Object classes of a
/// Worker, and each service is a Worker script with its bindings, on workers.dev.
///
/// The first service's Worker exports every actor class of the app and carries their
/// migrations; other services bind them through that script.
#[derive(Debug, Clone)]
pub struct CloudflarePlatform {
    client: Client,
    options: CloudflarePlatformOptions,
    /// The bundle built from a crate source, once per platform.
    built: Arc<Mutex<Option<WorkerBundle>>>,
}

impl CloudflarePlatform {
    /// The platform deploying with `client`.
    pub fn new(client: Client, options: CloudflarePlatformOptions) -> Self {
        CloudflarePlatform {
            client,
            options,
            built: Arc::new(Mutex::new(None)),
        }
    }

    /// The bundle the scripts are uploaded from: the built one, or the crate built now (once).
    pub fn bundle(&self) -> Result<WorkerBundle> {
        match &self.options.bundle {
            BundleSource::Built(bundle) => Ok(bundle.clone()),
            BundleSource::Crate(source) => {
                let mut built = self
                    .built
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(bundle) = built.as_ref() {
                    return Ok(bundle.clone());
                }
                let bundle = build_crate(source)?;
                *built = Some(bundle.clone());
                Ok(bundle)
            }
        }
    }

    /// The platform for a stage's `settings`, with credentials from the environment
    /// (see [`Config::from_env`](crate::api::Config::from_env)).
    pub fn from_env(settings: &Value) -> Result<Self> {
        let options = CloudflarePlatformOptions::from_settings(settings)?;
        let client = Client::from_env().map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self::new(client, options))
    }

    /// The options.
    pub fn options(&self) -> &CloudflarePlatformOptions {
        &self.options
    }

    fn host(stack: &Stack) -> Option<&str> {
        stack
            .resources()
            .iter()
            .find(|d| d.kind == WorkerProps::KIND)
            .map(|d| d.id.as_str())
    }
}

/// The provider of a binding contributed by another provider than Cloudflare (a placed
/// resource's, or the credentials to reach it), as placement marks it.
fn foreign(binding: &Binding) -> Option<&str> {
    binding
        .contribution
        .metadata
        .get("provider")
        .and_then(Value::as_str)
        .filter(|provider| *provider != "cloudflare")
}

/// A binding of `provider` as Worker bindings: its env as plain text, its secrets as secret
/// text.
fn passed_on(service: &str, provider: &str, binding: &Binding) -> Result<Vec<WorkerBinding>> {
    let invalid = |key: &str, what: &str, e: serde_json::Error| {
        Error::Config(format!(
            "the {what} `{key}` that `{}` on {provider} contributes to `{service}` is neither a              string nor a reference to one: {e}",
            binding.resource
        ))
    };
    let mut out = Vec::new();
    for (name, value) in &binding.contribution.env {
        let text = serde_json::from_value(value.clone())
            .map_err(|e| invalid(name, "environment variable", e))?;
        out.push(WorkerBinding::PlainText {
            name: name.clone(),
            text,
        });
    }
    for (name, value) in &binding.contribution.secrets {
        let text = serde_json::from_value(value.clone()).map_err(|e| invalid(name, "secret", e))?;
        out.push(WorkerBinding::SecretText {
            name: name.clone(),
            text,
        });
    }
    Ok(out)
}

impl Platform for CloudflarePlatform {
    fn name(&self) -> &str {
        "cloudflare"
    }

    /// A Worker has no credential chain of its own: whatever it reaches on another provider,
    /// that provider's platform hands it credentials for ([`Platform::reach`]).
    fn ambient_credentials(&self) -> bool {
        false
    }

    fn providers(&self) -> Providers {
        let mut p = Providers::new();
        p.register::<R2BucketProps>("cloudflare", R2BucketProvider::new(self.client.clone()));
        p.register::<WorkerProps>("cloudflare", WorkerProvider::new(self.client.clone()));
        p.register::<DurableObjectNamespaceProps>("cloudflare", DurableObjectNamespaceProvider);
        p
    }

    fn hosts(&self, kind: &str) -> bool {
        matches!(kind, "bucket" | "actors" | "service")
    }

    /// Durable Objects: SQL, alarms, WebSockets with hibernation ([`crate::actor_capabilities`]).
    fn actor_capabilities(&self) -> Option<alchemy::actor::Capabilities> {
        Some(crate::actor_capabilities())
    }

    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> Result<()> {
        let id = &declaration.id;
        match declaration.kind.as_str() {
            "bucket" => stack.add(id, R2BucketProps::default()).map(drop),
            "actors" => stack
                .add(
                    id,
                    DurableObjectNamespaceProps {
                        class_name: self.options.actor_class(id),
                        binding: crate::binding_name(id),
                    },
                )
                .map(drop),
            other => Err(Error::Config(format!(
                "the cloudflare provider cannot host `{id}`: it has no resource of kind `{other}`"
            ))),
        }
    }

    fn bind(&self, stack: &Stack, service: &str, request: &Request) -> Result<Contribution> {
        let id = &request.declaration.id;
        let def = stack.get(id).ok_or_else(|| Error::UnknownReference {
            id: service.to_owned(),
            target: id.clone(),
        })?;
        // R2 and Durable Object bindings have no read-only form: the access is recorded in
        // the plan, and the binding grants both.
        let metadata = match def.kind.as_str() {
            R2BucketProps::KIND => WorkerBinding::R2Bucket {
                name: crate::binding_name(id),
                bucket_name: Input::Ref {
                    id: id.clone(),
                    path: "name".into(),
                },
            },
            DurableObjectNamespaceProps::KIND => WorkerBinding::DurableObjectNamespace {
                name: crate::binding_name(id),
                class_name: self.options.actor_class(id),
                script_name: Self::host(stack).map(|host| Input::Ref {
                    id: host.to_owned(),
                    path: "script_name".into(),
                }),
            },
            other => {
                return Err(Error::Config(format!(
                    "the cloudflare provider cannot bind `{id}` (kind {other}) to `{service}`"
                )))
            }
        };
        Ok(Contribution {
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            metadata: serde_json::to_value(metadata)?,
            permissions: Vec::new(),
        })
    }

    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()> {
        let options = &self.options;
        let mut all = vec![WorkerBinding::PlainText {
            name: names::SERVICE_BINDING.to_owned(),
            text: Input::Value(service.to_owned()),
        }];
        all.extend(
            options
                .vars
                .iter()
                .map(|(name, text)| WorkerBinding::PlainText {
                    name: name.clone(),
                    text: Input::Value(text.clone()),
                }),
        );
        for (name, var) in &options.secrets {
            let text = Secret::from_env(var).map_err(|_| {
                Error::Config(format!(
                    "secret `{name}` of the cloudflare settings is read from the environment \
                     variable {var}, which is not set: set it before planning"
                ))
            })?;
            all.push(WorkerBinding::SecretText {
                name: name.clone(),
                text: Input::Value(text),
            });
        }
        for b in bindings {
            if let Some(provider) = foreign(b) {
                all.extend(passed_on(service, provider, b)?);
                continue;
            }
            all.push(
                serde_json::from_value(b.contribution.metadata.clone()).map_err(|e| {
                    Error::Config(format!(
                        "binding of `{}` to `{service}` is not a Cloudflare binding: {e}",
                        b.resource
                    ))
                })?,
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = all.iter().find(|b| !seen.insert(b.name().to_owned())) {
            return Err(Error::Config(format!(
                "`{service}` has two bindings named `{}`: rename one of the cloudflare `vars` \
                 or `secrets`",
                twice.name()
            )));
        }
        let durable_objects = if Self::host(stack).is_none() {
            stack
                .resources()
                .iter()
                .filter(|d| d.kind == DurableObjectNamespaceProps::KIND)
                .map(|d| DurableObjectClass {
                    class_name: options.actor_class(&d.id),
                    renamed_from: options
                        .renamed_actors
                        .get(&d.id)
                        .map(|old| options.actor_class(old)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let bundle = self.bundle()?;
        let props = WorkerProps {
            content_hash: bundle.content_hash()?,
            bundle,
            compatibility_date: options.compatibility_date.clone(),
            compatibility_flags: options.compatibility_flags.clone(),
            bindings: all,
            durable_objects,
            workers_dev: options.workers_dev,
        };
        stack.add(service, props).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binding_of_another_provider_is_passed_on_as_plain_and_secret_text() {
        let binding = Binding {
            service: "api".into(),
            resource: "api-aws-key".into(),
            kind: "credentials".into(),
            access: alchemy::Access::ReadWrite,
            contribution: Contribution {
                env: BTreeMap::from([("AWS_REGION".into(), json!("us-east-1"))]),
                secrets: BTreeMap::from([(
                    "AWS_SECRET_ACCESS_KEY".into(),
                    json!({ "$ref": "api-aws-key.secret_access_key" }),
                )]),
                metadata: json!({ "type": "credentials", "provider": "aws" }),
                permissions: Vec::new(),
            },
        };
        assert_eq!(foreign(&binding), Some("aws"));
        let passed = passed_on("api", "aws", &binding).unwrap();
        assert_eq!(
            passed,
            [
                WorkerBinding::PlainText {
                    name: "AWS_REGION".into(),
                    text: Input::Value("us-east-1".into()),
                },
                WorkerBinding::SecretText {
                    name: "AWS_SECRET_ACCESS_KEY".into(),
                    text: Input::Ref {
                        id: "api-aws-key".into(),
                        path: "secret_access_key".into(),
                    },
                },
            ]
        );
        let mut wrong = binding.clone();
        wrong.contribution.env.insert("N".into(), json!(3));
        let error = passed_on("api", "aws", &wrong).unwrap_err().to_string();
        assert!(
            error.contains("`N`") && error.contains("api-aws-key"),
            "{error}"
        );
    }

    #[test]
    fn a_crate_source_is_parsed_and_its_mistakes_are_named() {
        let options = CloudflarePlatformOptions::from_settings(&json!({
            "bundle": { "crate": "examples/photo-share", "features": ["edge"] },
        }))
        .unwrap();
        assert_eq!(
            options.bundle,
            BundleSource::Crate(CrateSource {
                path: "examples/photo-share".into(),
                features: vec!["edge".into()],
            })
        );
        let wrong = CloudflarePlatformOptions::from_settings(&json!({
            "bundle": { "crate": "examples/photo-share", "feature": ["edge"] },
        }))
        .unwrap_err()
        .to_string();
        assert!(
            wrong.contains("unknown field `feature`") && wrong.contains("\"crate\""),
            "{wrong}"
        );
    }

    #[test]
    fn durable_objects_host_every_actor_capability_and_other_kinds_are_refused_at_plan_time() {
        let client = Client::new(crate::api::Config::new("account", "token")).unwrap();
        let options =
            CloudflarePlatformOptions::from_settings(&json!({ "bundle": { "crate": "." } }))
                .unwrap();
        let platform = CloudflarePlatform::new(client, options);
        let rooms = Declaration {
            id: "rooms".into(),
            kind: "actors".into(),
            config: json!({ "uses": ["sql", "alarms", "websockets", "hibernation"] }),
        };
        platform
            .check("edge", std::slice::from_ref(&rooms), &["api".into()])
            .expect("Durable Objects have every capability");
        let queue = Declaration {
            id: "jobs".into(),
            kind: "queue".into(),
            config: serde_json::Value::Null,
        };
        let error = platform
            .check("edge", &[rooms, queue], &["api".into()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`jobs`") && error.contains("queue"),
            "{error}"
        );
    }

    #[test]
    fn a_crate_path_without_a_crate_is_refused_with_where_it_looked() {
        let dir = std::env::temp_dir().join("alchemy-no-crate-here");
        let error = check_crate(&dir).unwrap_err().to_string();
        assert!(
            error.contains("alchemy-no-crate-here") && error.contains("no Cargo.toml"),
            "{error}"
        );
    }
}
