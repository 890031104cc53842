//! The local platform: its resource kinds, their providers, and how bindings reach services.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bind::{Declaration, Request};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::provider::{Context, Provider, Providers};
use crate::resource::{Input, Resource};
use crate::stack::{Binding, Contribution, Stack};

/// A bucket on the local file system: a directory under the stage's `local/buckets/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalBucketProps {}

/// Where a local bucket is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalBucketOutput {
    /// The bucket's name on this machine.
    pub name: String,
    /// Its directory.
    pub path: String,
}

impl Resource for LocalBucketProps {
    const KIND: &'static str = "local.bucket";
    type Output = LocalBucketOutput;
}

/// A namespace of actors on this machine: its actors' databases live in a directory of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalActorsProps {}

/// Where a local actor namespace keeps its actors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalActorsOutput {
    /// The namespace.
    pub namespace: String,
    /// The directory of its actors' databases.
    pub path: String,
}

impl Resource for LocalActorsProps {
    const KIND: &'static str = "local.actors";
    type Output = LocalActorsOutput;
}

/// A service run by `dev`, with the environment its bindings give it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalServiceProps {
    /// Environment variables, from its bindings.
    pub env: BTreeMap<String, Input<String>>,
    /// Binding metadata, one entry per bound resource.
    pub bindings: Vec<Value>,
}

/// Where a local service's manifest is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalServiceOutput {
    /// The manifest `dev` reads.
    pub manifest: String,
}

impl Resource for LocalServiceProps {
    const KIND: &'static str = "local.service";
    type Output = LocalServiceOutput;
}

/// The local platform, rooted in a stage's state directory.
#[derive(Debug, Clone)]
pub struct LocalPlatform {
    root: PathBuf,
}

impl LocalPlatform {
    /// Everything lives under `root` (by default `.alchemy/<stage>/local`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalPlatform { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The environment variable through which a service finds a bound bucket's directory.
    pub fn bucket_env(id: &str) -> String {
        crate::bucket::bucket_env(id)
    }
}

impl Platform for LocalPlatform {
    fn name(&self) -> &str {
        "local"
    }

    fn providers(&self) -> Providers {
        let mut p = Providers::new();
        p.register::<LocalBucketProps>(
            "local",
            Dirs {
                root: self.root.join("buckets"),
            },
        );
        p.register::<LocalServiceProps>(
            "local",
            Manifests {
                root: self.root.join("services"),
            },
        );
        p.register::<LocalActorsProps>(
            "local",
            Namespaces {
                root: self.root.join("actors"),
            },
        );
        p
    }

    fn hosts(&self, kind: &str) -> bool {
        matches!(kind, "bucket" | "actors" | "service")
    }

    fn actor_capabilities(&self) -> Option<crate::actor::Capabilities> {
        Some(crate::local::actor::LocalActorsOptions::default().capabilities())
    }

    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> Result<()> {
        match declaration.kind.as_str() {
            "bucket" => stack.add(&declaration.id, LocalBucketProps {}).map(drop),
            "actors" => stack.add(&declaration.id, LocalActorsProps {}).map(drop),
            other => Err(Error::Config(format!(
                "the local provider cannot host `{}`: it has no resource of kind `{other}`",
                declaration.id
            ))),
        }
    }

    fn bind(&self, stack: &Stack, service: &str, request: &Request) -> Result<Contribution> {
        let id = &request.declaration.id;
        let def = stack.get(id).ok_or_else(|| Error::UnknownReference {
            id: service.to_string(),
            target: id.clone(),
        })?;
        match def.kind.as_str() {
            LocalBucketProps::KIND => {
                let path = json!({ "$ref": format!("{id}.path") });
                Ok(Contribution {
                    env: BTreeMap::from([(Self::bucket_env(id), path.clone())]),
                    secrets: BTreeMap::new(),
                    metadata: json!({ "type": "bucket", "name": id, "path": path, "access": request.access }),
                    // Local services run as the user: there is no permission system to configure.
                    permissions: Vec::new(),
                })
            }
            LocalActorsProps::KIND => Ok(Contribution {
                env: BTreeMap::from([(
                    format!(
                        "ALCHEMY_ACTORS_{}",
                        id.to_ascii_uppercase().replace('-', "_")
                    ),
                    json!({ "$ref": format!("{id}.namespace") }),
                )]),
                secrets: BTreeMap::new(),
                metadata: json!({ "type": "actors", "name": id, "namespace": { "$ref": format!("{id}.namespace") } }),
                permissions: Vec::new(),
            }),
            other => Err(Error::Config(format!(
                "the local provider cannot bind `{id}` (kind {other}) to `{service}`"
            ))),
        }
    }

    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()> {
        let mut props = json!({ "env": {}, "bindings": [] });
        for b in bindings {
            for (k, v) in &b.contribution.env {
                props["env"][k] = v.clone();
            }
            props["bindings"]
                .as_array_mut()
                .expect("bindings is an array")
                .push(b.contribution.metadata.clone());
        }
        stack.add_def(crate::resource::ResourceDef {
            id: service.to_string(),
            kind: LocalServiceProps::KIND.to_string(),
            props,
            deps: Default::default(),
            removal: Default::default(),
        })
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::provider(format!("{what} {}: {e}", path.display()))
}

struct Dirs {
    root: PathBuf,
}

impl Dirs {
    fn path(&self, ctx: &Context) -> PathBuf {
        self.root.join(ctx.physical_name())
    }

    fn output(&self, ctx: &Context) -> LocalBucketOutput {
        LocalBucketOutput {
            name: ctx.physical_name(),
            path: self.path(ctx).display().to_string(),
        }
    }
}

#[async_trait]
impl Provider<LocalBucketProps> for Dirs {
    async fn read(
        &self,
        ctx: &Context,
        _: &LocalBucketProps,
        _: Option<LocalBucketOutput>,
    ) -> Result<Option<LocalBucketOutput>> {
        let path = self.path(ctx);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_dir() => Ok(Some(self.output(ctx))),
            Ok(_) => Err(Error::provider(format!(
                "{} is not a directory",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    async fn create(&self, ctx: &Context, _: &LocalBucketProps) -> Result<LocalBucketOutput> {
        let path = self.path(ctx);
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| io("cannot create", &self.root, e))?;
        match tokio::fs::create_dir(&path).await {
            Ok(()) => Ok(self.output(ctx)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists(
                format!("bucket directory {}", path.display()),
            )),
            Err(e) => Err(io("cannot create", &path, e)),
        }
    }

    async fn update(
        &self,
        ctx: &Context,
        _: &LocalBucketProps,
        _: &LocalBucketProps,
        _: &LocalBucketOutput,
    ) -> Result<LocalBucketOutput> {
        Ok(self.output(ctx))
    }

    async fn delete(
        &self,
        ctx: &Context,
        _: &LocalBucketProps,
        _: &LocalBucketOutput,
    ) -> Result<()> {
        let path = self.path(ctx);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot delete", &path, e)),
        }
    }
}

struct Manifests {
    root: PathBuf,
}

impl Manifests {
    fn path(&self, ctx: &Context) -> PathBuf {
        self.root.join(format!("{}.json", ctx.physical_name()))
    }

    async fn write(&self, ctx: &Context, props: &LocalServiceProps) -> Result<LocalServiceOutput> {
        let path = self.path(ctx);
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| io("cannot create", &self.root, e))?;
        let env: BTreeMap<&String, &String> = props.env.iter().map(|(k, v)| (k, v.get())).collect();
        let manifest = json!({ "service": ctx.id, "env": env, "bindings": props.bindings });
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, serde_json::to_vec_pretty(&manifest)?)
            .await
            .map_err(|e| io("cannot write", &tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io("cannot write", &path, e))?;
        Ok(LocalServiceOutput {
            manifest: path.display().to_string(),
        })
    }
}

#[async_trait]
impl Provider<LocalServiceProps> for Manifests {
    async fn read(
        &self,
        ctx: &Context,
        _: &LocalServiceProps,
        _: Option<LocalServiceOutput>,
    ) -> Result<Option<LocalServiceOutput>> {
        let path = self.path(ctx);
        Ok(tokio::fs::try_exists(&path)
            .await
            .map_err(|e| io("cannot read", &path, e))?
            .then(|| LocalServiceOutput {
                manifest: path.display().to_string(),
            }))
    }

    async fn create(&self, ctx: &Context, props: &LocalServiceProps) -> Result<LocalServiceOutput> {
        self.write(ctx, props).await
    }

    async fn update(
        &self,
        ctx: &Context,
        _: &LocalServiceProps,
        new: &LocalServiceProps,
        _: &LocalServiceOutput,
    ) -> Result<LocalServiceOutput> {
        self.write(ctx, new).await
    }

    async fn delete(
        &self,
        ctx: &Context,
        _: &LocalServiceProps,
        _: &LocalServiceOutput,
    ) -> Result<()> {
        let path = self.path(ctx);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot delete", &path, e)),
        }
    }
}

struct Namespaces {
    root: PathBuf,
}

impl Namespaces {
    fn output(&self, ctx: &Context) -> LocalActorsOutput {
        LocalActorsOutput {
            namespace: ctx.id.clone(),
            path: self.root.join(&ctx.id).display().to_string(),
        }
    }
}

#[async_trait]
impl Provider<LocalActorsProps> for Namespaces {
    async fn read(
        &self,
        ctx: &Context,
        _: &LocalActorsProps,
        _: Option<LocalActorsOutput>,
    ) -> Result<Option<LocalActorsOutput>> {
        let path = self.root.join(&ctx.id);
        Ok(tokio::fs::try_exists(&path)
            .await
            .map_err(|e| io("cannot read", &path, e))?
            .then(|| self.output(ctx)))
    }

    async fn create(&self, ctx: &Context, _: &LocalActorsProps) -> Result<LocalActorsOutput> {
        let path = self.root.join(&ctx.id);
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| io("cannot create", &path, e))?;
        Ok(self.output(ctx))
    }

    async fn update(
        &self,
        ctx: &Context,
        _: &LocalActorsProps,
        new: &LocalActorsProps,
        _: &LocalActorsOutput,
    ) -> Result<LocalActorsOutput> {
        self.create(ctx, new).await
    }

    async fn delete(
        &self,
        ctx: &Context,
        _: &LocalActorsProps,
        _: &LocalActorsOutput,
    ) -> Result<()> {
        let path = self.root.join(&ctx.id);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot delete", &path, e)),
        }
    }
}
