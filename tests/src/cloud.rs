//! A provider over a directory, with a platform that binds like a cloud with IAM would.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alchemy::bind::{Bindable, Declaration, Request, Runtime};
use alchemy::platform::Platform;
use alchemy::provider::{Context, Diff, Provider, Providers};
use alchemy::stack::{Binding, Contribution, Permission, Stack};
use alchemy::{Error, Input, Resource, ResourceDef, Result, Secret};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A thing in the directory cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    /// Any number; changing it updates the thing in place.
    pub size: u64,
    /// Changing it replaces the thing.
    #[serde(default)]
    pub shape: String,
    /// Values read from other things' outputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, Input<String>>,
    /// A secret the thing holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// What the directory cloud says about a thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingOutput {
    /// Its physical name (its file name).
    pub name: String,
    /// Its size as stored.
    pub size: u64,
}

impl Resource for Thing {
    const KIND: &'static str = "cloud.thing";
    type Output = ThingOutput;
}

/// The provider: things are files in `dir`; `creates.log` lists every create.
#[derive(Debug, Clone)]
pub struct DirCloud {
    dir: PathBuf,
    delay: Duration,
}

impl DirCloud {
    /// Things in `dir`, each call taking `delay`.
    pub fn new(dir: impl Into<PathBuf>, delay: Duration) -> Self {
        DirCloud {
            dir: dir.into(),
            delay,
        }
    }

    fn path(&self, ctx: &Context) -> PathBuf {
        self.dir.join(ctx.physical_name())
    }

    async fn pause(&self) {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }

    /// Every thing that exists: physical name and stored size.
    pub fn list(dir: &Path) -> BTreeMap<String, u64> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeMap::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file() && e.file_name().to_string_lossy() != "creates.log")
            .map(|e| {
                let size = std::fs::read_to_string(e.path()).unwrap_or_default();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    size.trim().parse().unwrap_or(u64::MAX),
                )
            })
            .collect()
    }

    /// Every create that happened, in order.
    pub fn creates(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("creates.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn io(e: std::io::Error) -> Error {
    Error::provider(e.to_string())
}

#[async_trait]
impl Provider<Thing> for DirCloud {
    async fn read(
        &self,
        ctx: &Context,
        _: &Thing,
        _: Option<ThingOutput>,
    ) -> Result<Option<ThingOutput>> {
        match std::fs::read_to_string(self.path(ctx)) {
            Ok(s) => Ok(Some(ThingOutput {
                name: ctx.physical_name(),
                size: s
                    .trim()
                    .parse()
                    .map_err(|_| Error::provider("a thing holds a bad size"))?,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// The size a thing holds is its one setting that can change outside: it is read back.
    async fn refresh(
        &self,
        ctx: &Context,
        props: &Thing,
        output: &ThingOutput,
    ) -> Result<Option<(Thing, ThingOutput)>> {
        let live = self.read(ctx, props, Some(output.clone())).await?;
        Ok(live.map(|live| {
            let props = Thing {
                size: live.size,
                ..props.clone()
            };
            (props, live)
        }))
    }

    async fn diff(&self, _: &Context, old: &Thing, new: &Thing, _: &ThingOutput) -> Result<Diff> {
        Ok(if old.shape != new.shape {
            Diff::Replace {
                delete_first: false,
            }
        } else {
            Diff::Update
        })
    }

    async fn create(&self, ctx: &Context, props: &Thing) -> Result<ThingOutput> {
        self.pause().await;
        // Atomic, like a cloud: the thing appears whole, or an existing one makes this fail.
        let tmp_dir = self.dir.join(".tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io)?;
        let tmp = tmp_dir.join(format!("{}-{}", ctx.physical_name(), std::process::id()));
        std::fs::write(&tmp, props.size.to_string()).map_err(io)?;
        let linked = std::fs::hard_link(&tmp, self.path(ctx));
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists(ctx.physical_name()),
            _ => io(e),
        })?;
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join("creates.log"))
            .map_err(io)?;
        log.write_all(format!("{}\n", ctx.physical_name()).as_bytes())
            .map_err(io)?;
        self.pause().await;
        Ok(ThingOutput {
            name: ctx.physical_name(),
            size: props.size,
        })
    }

    async fn update(
        &self,
        ctx: &Context,
        _: &Thing,
        new: &Thing,
        _: &ThingOutput,
    ) -> Result<ThingOutput> {
        self.pause().await;
        let path = self.path(ctx);
        if !path.exists() {
            return Err(Error::NotFound(ctx.physical_name()));
        }
        let tmp =
            self.dir
                .join(".tmp")
                .join(format!("{}-{}", ctx.physical_name(), std::process::id()));
        std::fs::create_dir_all(self.dir.join(".tmp")).map_err(io)?;
        std::fs::write(&tmp, new.size.to_string()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(ThingOutput {
            name: ctx.physical_name(),
            size: new.size,
        })
    }

    async fn delete(&self, ctx: &Context, _: &Thing, _: &ThingOutput) -> Result<()> {
        self.pause().await;
        match std::fs::remove_file(self.path(ctx)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

/// A neutral declaration of a thing, bindable by services.
#[derive(Debug, Clone, Copy)]
pub struct ThingDecl {
    /// The logical id.
    pub id: &'static str,
    /// Its size.
    pub size: u64,
    /// A thing it refers to (and so comes after).
    pub after: Option<&'static str>,
}

/// What a service gets from binding a thing.
#[derive(Debug, Clone, PartialEq)]
pub enum ThingClient {
    /// At plan time: nothing to talk to.
    Planning(String),
    /// At run time: the thing's physical name.
    Live(String),
}

impl ThingClient {
    /// The physical name, or an error at plan time.
    pub fn name(&self) -> Result<&str> {
        match self {
            ThingClient::Planning(id) => Err(Error::NotAtPlanTime(id.clone())),
            ThingClient::Live(name) => Ok(name),
        }
    }
}

impl Bindable for ThingDecl {
    type Client = ThingClient;

    fn declaration(&self) -> Declaration {
        Declaration {
            id: self.id.to_string(),
            kind: "thing".into(),
            config: json!({ "size": self.size, "after": self.after }),
        }
    }

    fn plan_client(&self) -> ThingClient {
        ThingClient::Planning(self.id.to_string())
    }

    fn client(&self, runtime: &dyn Runtime) -> Result<ThingClient> {
        let any = runtime.custom(&self.declaration())?;
        any.downcast::<String>()
            .map(|name| ThingClient::Live(*name))
            .map_err(|_| {
                Error::Config(format!(
                    "the runtime gave `{}` a client of another type",
                    self.id
                ))
            })
    }
}

/// A platform on the directory cloud whose bindings grant IAM-like permissions.
#[derive(Debug, Clone)]
pub struct DirPlatform {
    cloud: DirCloud,
    /// Extra settings: `shape` for every thing (changing it replaces them), `size_bump` added to sizes.
    pub shape: String,
    /// Added to every declared size.
    pub size_bump: u64,
    /// A secret given to the first thing.
    pub secret: Option<String>,
}

impl DirPlatform {
    /// On `cloud`.
    pub fn new(cloud: DirCloud) -> Self {
        DirPlatform {
            cloud,
            shape: String::new(),
            size_bump: 0,
            secret: None,
        }
    }
}

impl Platform for DirPlatform {
    fn name(&self) -> &str {
        "cloud"
    }

    fn providers(&self) -> Providers {
        let mut p = Providers::new();
        p.register::<Thing>("cloud", self.cloud.clone());
        p
    }

    fn declare(&self, stack: &mut Stack, d: &Declaration) -> Result<()> {
        if d.kind != "thing" {
            return Err(Error::Config(format!(
                "the cloud cannot host `{}` of kind {}",
                d.id, d.kind
            )));
        }
        let size = d.config["size"].as_u64().unwrap_or(0) + self.size_bump;
        let mut links = BTreeMap::new();
        if let Some(after) = d.config["after"].as_str() {
            links.insert(
                "after".to_string(),
                Input::Ref {
                    id: after.to_string(),
                    path: "name".into(),
                },
            );
        }
        stack
            .add(
                &d.id,
                Thing {
                    size,
                    shape: self.shape.clone(),
                    links,
                    secret: self
                        .secret
                        .clone()
                        .filter(|_| d.id == "t0")
                        .map(Secret::new),
                },
            )
            .map(drop)
    }

    fn bind(&self, _: &Stack, _: &str, r: &Request) -> Result<Contribution> {
        let id = &r.declaration.id;
        let actions = match r.access {
            alchemy::Access::ReadOnly => vec!["thing:Get".to_string()],
            alchemy::Access::ReadWrite => vec!["thing:Get".to_string(), "thing:Put".to_string()],
        };
        Ok(Contribution {
            env: BTreeMap::from([(
                format!("THING_{}", id.to_uppercase()),
                json!({ "$ref": format!("{id}.name") }),
            )]),
            secrets: BTreeMap::new(),
            metadata: json!({ "type": "thing", "name": id }),
            permissions: vec![Permission {
                actions,
                resources: vec![json!({ "$ref": format!("{id}.name") })],
            }],
        })
    }

    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()> {
        let mut props = json!({ "size": bindings.len(), "shape": self.shape, "links": {} });
        for b in bindings {
            for (k, v) in &b.contribution.env {
                props["links"][k] = v.clone();
            }
        }
        stack.add_def(ResourceDef {
            id: service.to_string(),
            kind: Thing::KIND.to_string(),
            props,
            deps: Default::default(),
            removal: Default::default(),
        })
    }
}
