//! The app: its services and resources, and the stack each stage makes of them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use alchemy_http::{BoxHandler, HttpHandler, MaybeSync};

use crate::actor::{Actor, ActorClass, Actors};
use crate::bind::{Bindable, Declaration, Init, Planning, Request, Runtime, Service};
use crate::cloud::{Cloud, StageConfig};
use crate::config::{Config, LOCAL};
use crate::error::{Error, Result};
use crate::local::actor::LocalActors;
use crate::local::LocalPlatform;
use crate::placement::PlacedPlatform;
use crate::platform::Platform;
use crate::stack::{Binding, Stack};
use serde_json::Value;

type PlanInit = for<'a> fn(&'a mut Init<'_>) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>;
type RunInit =
    for<'a> fn(&'a mut Init<'_>) -> Pin<Box<dyn Future<Output = Result<BoxHandler>> + 'a>>;

/// Hosts one actor type on the local actor runtime.
pub(crate) type LocalHost = Arc<
    dyn for<'a> Fn(&'a LocalActors) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>
        + Send
        + Sync,
>;

/// Chooses the platform of a stage: given the stage and its state directory.
pub type PlatformFactory = Arc<dyn Fn(&str, &Path) -> Result<Arc<dyn Platform>> + Send + Sync>;

struct ServiceEntry {
    id: String,
    plan: PlanInit,
    run: RunInit,
}

/// Starts an app named `name`: add services and resources, then [`App::run`] it.
///
/// ```no_run
/// use alchemy::http::{handler_fn, BoxHandler, ByteStream};
/// use alchemy::{Init, Service};
///
/// struct Api;
/// impl Service for Api {
///     type Handler = BoxHandler;
///     async fn init(_ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
///         Ok(BoxHandler::new(handler_fn(|_: http::Request<ByteStream>| async {
///             http::Response::new(ByteStream::from("hello"))
///         })))
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     alchemy::app("hello").service::<Api>("api").run()
/// }
/// ```
pub fn app(name: &str) -> App {
    App {
        name: name.to_string(),
        services: Vec::new(),
        declarations: Vec::new(),
        actor_hosts: Vec::new(),
        actor_classes: Vec::new(),
        state_dir: None,
        config_path: None,
        clouds: Vec::new(),
        platform: Arc::new(|_, dir| {
            Ok(Arc::new(LocalPlatform::new(dir.join("local"))) as Arc<dyn Platform>)
        }),
    }
}

/// Where a provider that is not registered comes from, for the message that asks for it.
fn registration_hint(provider: &str) -> String {
    match provider {
        "aws" => "add `.cloud(alchemy_aws::Aws)` to the app".to_string(),
        "cloudflare" => "add `.cloud(alchemy_cloudflare::Cloudflare)` to the app".to_string(),
        other => format!(
            "register a cloud named `{other}` with `.cloud(...)`, or use one of the registered providers"
        ),
    }
}

/// An app: services, the resources they bind, and how each stage hosts them.
pub struct App {
    name: String,
    services: Vec<ServiceEntry>,
    declarations: Vec<Declaration>,
    actor_hosts: Vec<(String, LocalHost)>,
    actor_classes: Vec<(String, ActorClass)>,
    state_dir: Option<PathBuf>,
    config_path: Option<PathBuf>,
    clouds: Vec<Arc<dyn Cloud>>,
    platform: PlatformFactory,
}

fn plan_init<'a, S: Service>(
    ctx: &'a mut Init<'_>,
) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>> {
    Box::pin(async move { S::init(ctx).await.map(drop) })
}

fn run_init<'a, S>(ctx: &'a mut Init<'_>) -> Pin<Box<dyn Future<Output = Result<BoxHandler>> + 'a>>
where
    S: Service,
    S::Handler: HttpHandler + MaybeSync,
{
    Box::pin(async move { S::init(ctx).await.map(BoxHandler::new) })
}

impl App {
    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds service `S` under the logical id `id`; its handler serves HTTP.
    pub fn service<S>(mut self, id: &str) -> Self
    where
        S: Service,
        S::Handler: HttpHandler + MaybeSync,
    {
        self.services.push(ServiceEntry {
            id: id.to_string(),
            plan: plan_init::<S>,
            run: run_init::<S>,
        });
        self
    }

    /// The ids of the app's services, in the order they were added.
    pub fn service_ids(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.id.as_str())
    }

    /// Runs the init of service `id` on `runtime` and returns its handler.
    pub async fn handler(&self, id: &str, runtime: &dyn Runtime) -> Result<BoxHandler> {
        let Some(service) = self.services.iter().find(|s| s.id == id) else {
            let known: Vec<&str> = self.service_ids().collect();
            return Err(Error::Config(format!(
                "app `{}` has no service `{id}` (its services: {}): deploy again so the function runs a service of this build",
                self.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        };
        let mut init = Init::new(&service.id, runtime);
        (service.run)(&mut init).await
    }

    /// Runs every service's init on `runtime` and returns their handlers, by service id.
    pub async fn handlers(&self, runtime: &dyn Runtime) -> Result<Vec<(String, BoxHandler)>> {
        let mut handlers = Vec::new();
        for service in &self.services {
            let mut init = Init::new(&service.id, runtime);
            handlers.push((service.id.clone(), (service.run)(&mut init).await?));
        }
        Ok(handlers)
    }

    /// Hosts the actor type of `actors` in this app: a namespace of them is deployed, and
    /// services bind it to reach its actors.
    pub fn actors<A: Actor>(mut self, actors: &'static Actors<A>) -> Self {
        self.declarations.push(actors.declaration());
        let host: LocalHost = Arc::new(move |local: &LocalActors| {
            Box::pin(async move { local.namespace(actors).await.map(drop) })
        });
        self.actor_hosts.push((actors.id().to_string(), host));
        self.actor_classes
            .push((actors.id().to_string(), actors.class()));
        self
    }

    /// The actor types the app hosts, by namespace, with their types erased: what a cloud's
    /// runtime registers to host them without naming them (the AWS runtime does, in Lambda).
    pub fn actor_classes(&self) -> Vec<(String, ActorClass)> {
        self.actor_classes.clone()
    }

    /// The actor types the app hosts, with the way to host each on the local runtime.
    pub(crate) fn actor_hosts(&self) -> &[(String, LocalHost)] {
        &self.actor_hosts
    }

    /// Where the local platform keeps the stage's resources: `<state root>/<stage>/local`.
    pub fn local_root(&self, stage: &str) -> PathBuf {
        self.state_root().join(stage).join("local")
    }

    /// Declares a resource no service binds (yet), so that it is still deployed.
    pub fn resource(mut self, resource: &impl Bindable) -> Self {
        self.declarations.push(resource.declaration());
        self
    }

    /// Keeps state under `dir` (default: `.alchemy` in the working directory, or `ALCHEMY_STATE_DIR`).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Registers a cloud: stages whose `provider` in `alchemy.toml` is its name get their
    /// platform from it, and [`App::run`] lets it host the app when its runtime started the
    /// program (see [`Cloud`]).
    pub fn cloud(mut self, cloud: impl Cloud) -> Self {
        self.clouds.push(Arc::new(cloud));
        self
    }

    /// The registered clouds.
    pub fn clouds(&self) -> impl Iterator<Item = &dyn Cloud> {
        self.clouds.iter().map(|c| c.as_ref())
    }

    /// Reads stage configuration from `path` instead of looking for it (`ALCHEMY_CONFIG`, then
    /// `alchemy.toml` in the working directory); see [`crate::config`].
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// The stage configuration: from [`App::config_path`], `ALCHEMY_CONFIG` or `alchemy.toml`
    /// in the working directory; none of them means every stage is local.
    pub fn config(&self) -> Result<Config> {
        Config::discover(self.config_path.as_deref())
    }

    /// Chooses the platform of the stages `alchemy.toml` does not configure (default: the
    /// local platform).
    pub fn platform(
        mut self,
        factory: impl Fn(&str, &Path) -> Result<Arc<dyn Platform>> + Send + Sync + 'static,
    ) -> Self {
        self.platform = Arc::new(factory);
        self
    }

    /// Where the state of all stages lives.
    pub fn state_root(&self) -> PathBuf {
        self.state_dir
            .clone()
            .or_else(|| std::env::var_os("ALCHEMY_STATE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".alchemy"))
    }

    /// Where the state of `stage` is kept under `config`: local files under the state root,
    /// or, with a `[stages.NAME.state]` table, a bucket shared by everyone who deploys the stage
    /// (`provider = "local"` with a `path`: a bucket directory, such as a shared mount; a
    /// registered cloud's name: a bucket of that cloud, see [`Cloud::state_bucket`]).
    pub async fn state_backend(
        &self,
        config: &Config,
        stage: &str,
    ) -> Result<Box<dyn crate::state::StateBackend>> {
        use crate::state::{BucketBackend, FileBackend};
        let Some(entry) = config.stage(stage).and_then(|e| e.state.as_ref()) else {
            return Ok(Box::new(FileBackend::new(
                self.state_root().join(stage),
                &self.name,
                stage,
            )));
        };
        let file = config
            .path()
            .unwrap_or(Path::new(crate::config::CONFIG_FILE))
            .display()
            .to_string();
        let bucket = if entry.provider == LOCAL {
            let settings = entry.settings.as_object().cloned().unwrap_or_default();
            let unknown: Vec<&str> = settings
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "path")
                .collect();
            if !unknown.is_empty() {
                return Err(Error::Config(format!(
                    "the state of stage `{stage}` in {file} is on the local provider, which takes `path` and `prefix`, not {}",
                    unknown.join(", ")
                )));
            }
            let Some(path) = settings.get("path").and_then(Value::as_str) else {
                return Err(Error::Config(format!(
                    "the state of stage `{stage}` in {file} is on the local provider and needs `path = \"DIR\"`: the directory (a shared mount, say) to keep it in"
                )));
            };
            crate::bucket::BucketClient::new(
                crate::local::bucket::LocalBucket::open(path)
                    .await
                    .map_err(|e| {
                        Error::Config(format!(
                            "cannot open the state directory {path} of stage `{stage}`: {e}"
                        ))
                    })?,
            )
        } else {
            let Some(cloud) = self.clouds.iter().find(|c| c.name() == entry.provider) else {
                let registered: Vec<&str> = std::iter::once(LOCAL)
                    .chain(self.clouds.iter().map(|c| c.name()))
                    .collect();
                return Err(Error::Config(format!(
                    "the state of stage `{stage}` in {file} is on provider `{}`, which this app does not register (registered: {}): {}",
                    entry.provider,
                    registered.join(", "),
                    registration_hint(&entry.provider)
                )));
            };
            cloud.state_bucket(&entry.settings).await?
        };
        let backend = BucketBackend::new(bucket, &self.name, stage);
        Ok(Box::new(match &entry.prefix {
            Some(prefix) => backend.with_prefix(prefix),
            None => backend,
        }))
    }

    /// The platform of `stage`, as the stage configuration says (see [`App::config`]).
    pub fn platform_for(&self, stage: &str) -> Result<Arc<dyn Platform>> {
        self.platform_in(&self.config()?, stage)
    }

    /// The platform of `stage` under `config`: a configured stage is on its provider (`local`
    /// or a registered cloud), with the resources its `[stages.NAME.place]` table places on
    /// other providers routed to theirs (a [`PlacedPlatform`]); any other stage is on the
    /// platform of [`App::platform`].
    pub fn platform_in(&self, config: &Config, stage: &str) -> Result<Arc<dyn Platform>> {
        crate::resource::validate_id(stage).map_err(|_| {
            Error::Config(format!(
                "invalid stage `{stage}`: a stage starts with a letter and uses only letters, digits, `-` and `_`"
            ))
        })?;
        let state_dir = self.state_root().join(stage);
        let Some(entry) = config.stage(stage) else {
            return (self.platform)(stage, &state_dir);
        };
        let file = config
            .path()
            .unwrap_or(Path::new(crate::config::CONFIG_FILE))
            .display()
            .to_string();
        let default = self.provider_platform(stage, &state_dir, &entry.provider, entry, || {
            format!(
                "stage `{stage}` in {file} uses provider `{}`",
                entry.provider
            )
        })?;
        let mut placed = PlacedPlatform::new(stage, &file, default);
        let mut built = vec![entry.provider.as_str()];
        for (target, provider) in &entry.place {
            if !built.contains(&provider.as_str()) {
                let platform =
                    self.provider_platform(stage, &state_dir, provider, entry, || {
                        format!(
                            "stage `{stage}` in {file} places `{target}` on provider `{provider}`"
                        )
                    })?;
                placed = placed.with_platform(provider, platform);
                built.push(provider);
            }
            placed = placed.place(target, provider);
        }
        for namespace in &entry.allow_unsupported {
            placed = placed.allow_unsupported(namespace);
        }
        Ok(Arc::new(placed))
    }

    /// The platform of `provider` (`local` or a registered cloud) on `stage`, with its
    /// settings from `entry`; `what` says who asks for it, for the message when it is not
    /// registered.
    fn provider_platform(
        &self,
        stage: &str,
        state_dir: &Path,
        provider: &str,
        entry: &crate::config::StageEntry,
        what: impl FnOnce() -> String,
    ) -> Result<Arc<dyn Platform>> {
        if provider == LOCAL {
            return Ok(Arc::new(LocalPlatform::new(state_dir.join("local"))));
        }
        let Some(cloud) = self.clouds.iter().find(|c| c.name() == provider) else {
            let registered: Vec<&str> = std::iter::once(LOCAL)
                .chain(self.clouds.iter().map(|c| c.name()))
                .collect();
            return Err(Error::Config(format!(
                "{}, which this app does not register (registered: {}): {}",
                what(),
                registered.join(", "),
                registration_hint(provider)
            )));
        };
        cloud.platform(&StageConfig {
            app: self.name.clone(),
            stage: stage.to_string(),
            state_dir: state_dir.to_path_buf(),
            settings: entry.settings_of(provider),
        })
    }

    /// The stack of `stage` on `platform`: every service's init runs in the plan phase, and what
    /// it binds becomes resources and bindings.
    pub async fn stack(&self, stage: &str, platform: &dyn Platform) -> Result<Stack> {
        let mut stack = Stack::new(&self.name, stage);
        let mut requests: Vec<(String, Vec<Request>)> = Vec::new();
        for service in &self.services {
            crate::resource::validate_id(&service.id)?;
            let mut init = Init::new(&service.id, &Planning);
            (service.plan)(&mut init).await?;
            requests.push((service.id.clone(), init.into_requests()));
        }
        let bound = requests
            .iter()
            .flat_map(|(_, r)| r.iter().map(|r| &r.declaration));
        let mut declared: Vec<&Declaration> = Vec::new();
        for decl in self.declarations.iter().chain(bound) {
            match declared.iter().find(|d| d.id == decl.id) {
                Some(d) if d.kind != decl.kind || d.config != decl.config => {
                    return Err(Error::Config(format!(
                        "`{}` is declared twice, as {} and as {}: give each resource its own id",
                        decl.id, d.kind, decl.kind
                    )))
                }
                Some(_) => {}
                None => declared.push(decl),
            }
        }
        let unique: Vec<Declaration> = declared.iter().map(|d| (*d).clone()).collect();
        let service_ids: Vec<String> = self.services.iter().map(|s| s.id.clone()).collect();
        // Everything the stage cannot host is refused here, before anything is declared.
        platform.check(stage, &unique, &service_ids)?;
        for decl in &unique {
            platform.declare(&mut stack, decl)?;
        }
        for (service, requests) in &requests {
            for r in requests {
                let hosted = self
                    .actor_hosts
                    .iter()
                    .any(|(id, _)| *id == r.declaration.id);
                if r.declaration.kind == "actors" && !hosted {
                    return Err(Error::Config(format!(
                        "`{service}` binds actor namespace `{}`, whose actor type the app does not host: add `.actors(&...)` for it to the app",
                        r.declaration.id
                    )));
                }
            }
            let mut bindings = Vec::new();
            for request in requests {
                let binding = Binding {
                    service: service.clone(),
                    resource: request.declaration.id.clone(),
                    kind: request.declaration.kind.clone(),
                    access: request.access,
                    contribution: platform.bind(&stack, service, request)?,
                };
                stack.record_binding(binding.clone());
                bindings.push(binding);
            }
            platform.service(&mut stack, service, &bindings)?;
        }
        Ok(stack)
    }

    /// Runs the app: when a registered cloud's runtime started the process, that cloud serves
    /// the app there ([`Cloud::host`]); otherwise parses the command line and runs the command
    /// (see [`crate::cli`] for commands and exit codes).
    pub fn run(self) -> std::process::ExitCode {
        for cloud in &self.clouds {
            if let Some(code) = cloud.host(&self) {
                return code;
            }
        }
        crate::cli::main(self)
    }
}
