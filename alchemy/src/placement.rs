//! Placement: one stage, several providers.
//!
//! A stage in `alchemy.toml` has a provider, the default of everything in it, and may place
//! individual resources on other providers, by resource id or by kind:
//!
//! ```toml
//! [stages.hybrid]
//! provider = "local"            # the default of the stage
//!
//! [stages.hybrid.place]
//! photos = "aws"                # by resource id
//! actors = "cloudflare"         # by kind: bucket | actors | service; an id wins over a kind
//!
//! [stages.hybrid.providers.aws] # the settings of a placed provider
//! region = "eu-west-1"
//! ```
//!
//! The app then builds one plan across the providers with a [`PlacedPlatform`]: each
//! declaration goes to the platform of its provider, each binding to the platform of the
//! resource it binds (the bound resource's provider says what the binding contributes, and
//! the contribution's metadata then names that provider under `"provider"`), and each service
//! to its own provider's platform. Before anything is declared, [`Platform::check`] refuses a
//! placement that names nothing of the app, a kind a provider cannot host, and an actor
//! namespace using a capability its provider lacks ([`Actors::uses`](crate::actor::Actors::uses)),
//! unless the stage accepts that with `allow_unsupported = ["NAMESPACE"]`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::actor::{Capabilities, Capability};
use crate::bind::{Declaration, Request};
use crate::error::{Error, Result};
use crate::local::LocalPlatform;
use crate::platform::Platform;
use crate::provider::Providers;
use crate::stack::{Binding, Contribution, Stack};

/// The kind under which services are placed (`service = "aws"`).
pub const SERVICE_KIND: &str = "service";

/// The capabilities an actor namespace declares it uses, from its declaration's config
/// (`{"uses": ["alarms", "websockets"]}`, as [`Actors::uses`](crate::actor::Actors::uses)
/// writes it).
pub fn uses(declaration: &Declaration) -> Vec<Capability> {
    let Some(names) = declaration.config.get("uses").and_then(Value::as_array) else {
        return Vec::new();
    };
    let named: BTreeSet<Capability> = names
        .iter()
        .filter_map(Value::as_str)
        .filter_map(Capability::from_name)
        .collect();
    named.into_iter().collect()
}

/// A stage's platforms, one per provider, with the rules that say which provider hosts what.
///
/// ```
/// use std::sync::Arc;
///
/// use alchemy::local::LocalPlatform;
/// use alchemy::placement::PlacedPlatform;
/// use alchemy::platform::Platform;
///
/// let placed = PlacedPlatform::new("hybrid", "alchemy.toml", Arc::new(LocalPlatform::new("/tmp/a")))
///     .with_platform("edge", Arc::new(LocalPlatform::new("/tmp/b")))
///     .place("photos", "edge");
/// assert_eq!(placed.name(), "local");
/// assert_eq!(placed.provider_of("photos", "bucket"), "edge");
/// assert_eq!(placed.provider_of("rooms", "actors"), "local");
/// ```
pub struct PlacedPlatform {
    stage: String,
    file: String,
    default: String,
    platforms: BTreeMap<String, Arc<dyn Platform>>,
    place: BTreeMap<String, String>,
    allow_unsupported: Vec<String>,
}

impl std::fmt::Debug for PlacedPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacedPlatform")
            .field("stage", &self.stage)
            .field("default", &self.default)
            .field("platforms", &self.platforms.keys().collect::<Vec<_>>())
            .field("place", &self.place)
            .field("allow_unsupported", &self.allow_unsupported)
            .finish()
    }
}

impl PlacedPlatform {
    /// Stage `stage` (configured in `file`, for messages), hosted by `default` unless placed
    /// elsewhere.
    pub fn new(stage: &str, file: &str, default: Arc<dyn Platform>) -> Self {
        let name = default.name().to_string();
        PlacedPlatform {
            stage: stage.to_string(),
            file: file.to_string(),
            default: name.clone(),
            platforms: BTreeMap::from([(name, default)]),
            place: BTreeMap::new(),
            allow_unsupported: Vec::new(),
        }
    }

    /// Adds the platform of provider `provider`, for the placements that name it.
    pub fn with_platform(mut self, provider: &str, platform: Arc<dyn Platform>) -> Self {
        self.platforms.insert(provider.to_string(), platform);
        self
    }

    /// Places `target` (a resource id, or a kind: `bucket`, `actors`, `service`) on
    /// `provider`, whose platform is added with [`PlacedPlatform::with_platform`].
    pub fn place(mut self, target: &str, provider: &str) -> Self {
        self.place.insert(target.to_string(), provider.to_string());
        self
    }

    /// Accepts actor namespace `namespace` on a provider lacking a capability it uses.
    pub fn allow_unsupported(mut self, namespace: &str) -> Self {
        self.allow_unsupported.push(namespace.to_string());
        self
    }

    /// The provider hosting resource `id` of kind `kind`: placed by id, else by kind, else the
    /// stage's own.
    pub fn provider_of(&self, id: &str, kind: &str) -> &str {
        self.place
            .get(id)
            .or_else(|| self.place.get(kind))
            .map_or(self.default.as_str(), String::as_str)
    }

    /// The platform of a provider named by [`PlacedPlatform::provider_of`].
    fn platform(&self, provider: &str) -> Result<&dyn Platform> {
        self.platforms
            .get(provider)
            .map(|p| p.as_ref())
            .ok_or_else(|| {
                Error::Config(format!(
                    "stage `{}` in {} places something on `{provider}`, whose platform was not built: build the stage with `App::platform_in`",
                    self.stage, self.file
                ))
            })
    }
}

impl Platform for PlacedPlatform {
    fn name(&self) -> &str {
        self.platforms[&self.default].name()
    }

    fn providers(&self) -> Providers {
        let mut providers = Providers::new();
        for platform in self.platforms.values() {
            providers.extend(platform.providers());
        }
        providers
    }

    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> Result<()> {
        let provider = self.provider_of(&declaration.id, &declaration.kind);
        self.platform(provider)?.declare(stack, declaration)
    }

    fn bind(&self, stack: &Stack, service: &str, request: &Request) -> Result<Contribution> {
        let declaration = &request.declaration;
        let provider = self.provider_of(&declaration.id, &declaration.kind);
        let mut contribution = self.platform(provider)?.bind(stack, service, request)?;
        if provider != self.provider_of(service, SERVICE_KIND) {
            if let Value::Object(metadata) = &mut contribution.metadata {
                metadata.insert("provider".into(), Value::String(provider.to_string()));
            }
        }
        Ok(contribution)
    }

    /// When the service's platform has no ambient credentials, each other provider it binds
    /// first adds what the service needs to reach it ([`Platform::reach`]); that binding is
    /// recorded, marked with its provider, and passed on with the others.
    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()> {
        let provider = self.provider_of(service, SERVICE_KIND);
        let host = self.platform(provider)?;
        let mut all = bindings.to_vec();
        if !host.ambient_credentials() {
            let mut elsewhere: BTreeMap<&str, Vec<Binding>> = BTreeMap::new();
            for b in bindings {
                let other = self.provider_of(&b.resource, &b.kind);
                if other != provider {
                    elsewhere.entry(other).or_default().push(b.clone());
                }
            }
            for (other, bound) in elsewhere {
                let Some(mut reach) = self.platform(other)?.reach(stack, service, &bound)? else {
                    continue;
                };
                let provider_name = Value::String(other.to_string());
                match &mut reach.contribution.metadata {
                    Value::Object(metadata) => {
                        metadata.insert("provider".into(), provider_name);
                    }
                    metadata => {
                        *metadata = serde_json::json!({ "provider": provider_name });
                    }
                }
                stack.record_binding(reach.clone());
                all.push(reach);
            }
        }
        host.service(stack, service, &all)
    }

    fn hosts(&self, kind: &str) -> bool {
        self.platforms.values().any(|p| p.hosts(kind))
    }

    fn ambient_credentials(&self) -> bool {
        self.platforms[&self.default].ambient_credentials()
    }

    fn actor_capabilities(&self) -> Option<Capabilities> {
        self.platforms[&self.default].actor_capabilities()
    }

    /// Checks the placements against the app (each names a resource id or kind it has), then
    /// every resource against the platform it is placed on.
    fn check(&self, _stage: &str, declarations: &[Declaration], services: &[String]) -> Result<()> {
        let route = |id: &str, kind: &str| self.provider_of(id, kind).to_string();
        let checked = Checked {
            stage: &self.stage,
            file: Some(&self.file),
            hosts: self
                .platforms
                .iter()
                .map(|(name, p)| Host::of(name, p.as_ref()))
                .collect(),
            route: &route,
            allow_unsupported: &self.allow_unsupported,
        };
        checked.targets(&self.place, declarations, services)?;
        checked.run(declarations, services)
    }
}

/// Checks one platform hosting everything of stage `stage` (the default of
/// [`Platform::check`]).
pub(crate) fn check_single<P: Platform + ?Sized>(
    platform: &P,
    stage: &str,
    declarations: &[Declaration],
    services: &[String],
) -> Result<()> {
    let name = platform.name().to_string();
    let route = |_: &str, _: &str| name.clone();
    let checked = Checked {
        stage,
        file: None,
        hosts: vec![Host::of(&name, platform)],
        route: &route,
        allow_unsupported: &[],
    };
    checked.run(declarations, services)
}

/// What the checks know of one provider's platform.
struct Host<'a> {
    name: &'a str,
    hosts: Box<dyn Fn(&str) -> bool + 'a>,
    capabilities: Option<Capabilities>,
}

impl<'a> Host<'a> {
    fn of<P: Platform + ?Sized>(name: &'a str, platform: &'a P) -> Self {
        Host {
            name,
            hosts: Box::new(move |kind| platform.hosts(kind)),
            capabilities: platform.actor_capabilities(),
        }
    }

    fn fits(&self, kind: &str, needs: &[Capability]) -> bool {
        (self.hosts)(kind)
            && (needs.is_empty()
                || self
                    .capabilities
                    .is_some_and(|c| needs.iter().all(|n| c.has(*n))))
    }
}

/// What the checks need: the stage, its platforms by provider, and which provider hosts what.
struct Checked<'a> {
    stage: &'a str,
    file: Option<&'a str>,
    hosts: Vec<Host<'a>>,
    route: &'a dyn Fn(&str, &str) -> String,
    allow_unsupported: &'a [String],
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Checked<'_> {
    /// `stage `x` in alchemy.toml`, or `stage `x`` for a stage the file does not configure.
    fn stage_in(&self) -> String {
        match self.file {
            Some(file) => format!("stage `{}` in {file}", self.stage),
            None => format!("stage `{}`", self.stage),
        }
    }

    /// Every placement names a resource id or a kind of the app. (A namespace in
    /// `allow_unsupported` the app does not have is no mistake: it allows nothing, and one
    /// file can serve variants of an app.)
    fn targets(
        &self,
        place: &BTreeMap<String, String>,
        declarations: &[Declaration],
        services: &[String],
    ) -> Result<()> {
        let ids: BTreeSet<&str> = declarations
            .iter()
            .map(|d| d.id.as_str())
            .chain(services.iter().map(String::as_str))
            .collect();
        let mut kinds: BTreeSet<&str> = declarations.iter().map(|d| d.kind.as_str()).collect();
        if !services.is_empty() {
            kinds.insert(SERVICE_KIND);
        }
        for (target, provider) in place {
            if !ids.contains(target.as_str()) && !kinds.contains(target.as_str()) {
                return Err(Error::Config(format!(
                    "{} places `{target}` on `{provider}`, but the app has no resource or kind `{target}` (its resources: {}; its kinds: {}): under `[stages.{}.place]`, name one of them",
                    self.stage_in(),
                    ids.iter().copied().collect::<Vec<_>>().join(", "),
                    kinds.iter().copied().collect::<Vec<_>>().join(", "),
                    self.stage
                )));
            }
        }
        Ok(())
    }

    /// A provider of this stage (else `local`) that can host `kind` with `needs`, for the fix.
    fn suggest(&self, kind: &str, needs: &[Capability]) -> Option<String> {
        let local = LocalPlatform::new("");
        self.hosts
            .iter()
            .find(|h| h.fits(kind, needs))
            .map(|h| h.name.to_string())
            .or_else(|| {
                Host::of(crate::config::LOCAL, &local)
                    .fits(kind, needs)
                    .then(|| crate::config::LOCAL.to_string())
            })
    }

    /// Every resource's kind is hosted by its provider, and every actor namespace's provider
    /// has the capabilities it uses.
    fn run(&self, declarations: &[Declaration], services: &[String]) -> Result<()> {
        let services = services
            .iter()
            .map(|s| (s.as_str(), SERVICE_KIND, Vec::new()));
        let resources = declarations
            .iter()
            .map(|d| (d.id.as_str(), d.kind.as_str(), uses(d)));
        for (id, kind, needs) in resources.chain(services) {
            let provider = (self.route)(id, kind);
            let Some(host) = self.hosts.iter().find(|h| h.name == provider) else {
                continue;
            };
            if !(host.hosts)(kind) {
                let fix = match self.suggest(kind, &[]) {
                    Some(other) => format!(
                        "place it on a provider that can, with `{id} = \"{other}\"` under `[stages.{}.place]`",
                        self.stage
                    ),
                    None => format!(
                        "register a cloud that hosts `{kind}` and place `{id}` on it under `[stages.{}.place]`",
                        self.stage
                    ),
                };
                return Err(Error::Config(format!(
                    "{} puts `{id}` (kind {kind}) on `{provider}`, which cannot host that kind: {fix}",
                    self.stage_in()
                )));
            }
            if kind != "actors" || self.allow_unsupported.iter().any(|a| a == id) {
                continue;
            }
            let Some(has) = host.capabilities else {
                continue;
            };
            let missing: Vec<&str> = needs
                .iter()
                .filter(|c| !has.has(**c))
                .map(|c| c.name())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let elsewhere = self
                .suggest(kind, &needs)
                .unwrap_or_else(|| crate::config::LOCAL.to_string());
            return Err(Error::Config(format!(
                "actor namespace `{id}` uses {}, which actors on `{provider}` do not support ({}): place it on a provider that has {}, with `{id} = \"{elsewhere}\"` under `[stages.{stage}.place]`, or accept that {} there with `allow_unsupported = [\"{id}\"]` under `[stages.{stage}]`",
                and_list(&missing),
                self.stage_in(),
                if missing.len() == 1 { "it" } else { "them" },
                if missing.len() == 1 { "it fails" } else { "they fail" },
                stage = self.stage,
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actors(id: &str, uses: &[&str]) -> Declaration {
        Declaration {
            id: id.into(),
            kind: "actors".into(),
            config: if uses.is_empty() {
                Value::Null
            } else {
                serde_json::json!({ "uses": uses })
            },
        }
    }

    #[test]
    fn uses_reads_the_declaration_config() {
        assert_eq!(
            uses(&actors("rooms", &["websockets", "alarms", "alarms"])),
            [Capability::Alarms, Capability::WebSockets]
        );
        assert!(uses(&actors("counters", &[])).is_empty());
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b"]), "a and b");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn an_id_wins_over_a_kind() {
        let placed = PlacedPlatform::new("s", "alchemy.toml", Arc::new(LocalPlatform::new("/a")))
            .with_platform("x", Arc::new(LocalPlatform::new("/b")))
            .with_platform("y", Arc::new(LocalPlatform::new("/c")))
            .place("bucket", "x")
            .place("photos", "y");
        assert_eq!(placed.provider_of("photos", "bucket"), "y");
        assert_eq!(placed.provider_of("other", "bucket"), "x");
        assert_eq!(placed.provider_of("api", SERVICE_KIND), "local");
    }

    /// A platform recording what it is asked, with or without ambient credentials.
    struct Recorder {
        name: &'static str,
        ambient: bool,
        served: std::sync::Mutex<Vec<Binding>>,
    }

    impl Recorder {
        fn new(name: &'static str, ambient: bool) -> Arc<Self> {
            Arc::new(Recorder {
                name,
                ambient,
                served: std::sync::Mutex::new(Vec::new()),
            })
        }
    }

    impl Platform for Recorder {
        fn name(&self) -> &str {
            self.name
        }
        fn providers(&self) -> Providers {
            Providers::new()
        }
        fn declare(&self, _: &mut Stack, _: &Declaration) -> Result<()> {
            Ok(())
        }
        fn bind(&self, _: &Stack, _: &str, request: &Request) -> Result<Contribution> {
            Ok(Contribution {
                metadata: serde_json::json!({ "name": request.declaration.id }),
                ..Contribution::default()
            })
        }
        fn service(&self, _: &mut Stack, _: &str, bindings: &[Binding]) -> Result<()> {
            self.served.lock().unwrap().extend_from_slice(bindings);
            Ok(())
        }
        fn ambient_credentials(&self) -> bool {
            self.ambient
        }
        fn reach(
            &self,
            _: &mut Stack,
            service: &str,
            bound: &[Binding],
        ) -> Result<Option<Binding>> {
            Ok(Some(Binding {
                service: service.into(),
                resource: format!("{service}-key"),
                kind: "credentials".into(),
                access: crate::Access::ReadWrite,
                contribution: Contribution {
                    env: BTreeMap::from([("FOR".into(), serde_json::json!(bound.len()))]),
                    secrets: BTreeMap::from([(
                        "KEY".into(),
                        serde_json::json!({"$ref": "k.secret"}),
                    )]),
                    ..Contribution::default()
                },
            }))
        }
    }

    fn bucket_binding(resource: &str) -> Binding {
        Binding {
            service: "api".into(),
            resource: resource.into(),
            kind: "bucket".into(),
            access: crate::Access::ReadWrite,
            contribution: Contribution::default(),
        }
    }

    #[test]
    fn a_service_without_ambient_credentials_is_handed_those_of_each_other_provider() {
        let (edge, cloud) = (Recorder::new("edge", false), Recorder::new("cloud", true));
        let placed = PlacedPlatform::new("x", "alchemy.toml", edge.clone())
            .with_platform("cloud", cloud.clone())
            .place("photos", "cloud");
        let mut stack = Stack::new("app", "x");
        let bindings = [bucket_binding("photos"), bucket_binding("local-thing")];
        placed.service(&mut stack, "api", &bindings).unwrap();
        let served = edge.served.lock().unwrap();
        assert_eq!(served.len(), 3, "{served:?}");
        let reach = &served[2];
        assert_eq!(reach.resource, "api-key");
        assert_eq!(
            reach.contribution.metadata,
            serde_json::json!({ "provider": "cloud" })
        );
        assert_eq!(
            reach.contribution.env["FOR"], 1,
            "only the binding placed on `cloud`"
        );
        assert_eq!(
            stack.bindings(),
            std::slice::from_ref(reach),
            "recorded for the plan"
        );
        // The plan shows the secrets, whatever they are, as `[secret]`.
        let shown = serde_json::to_value(reach).unwrap();
        assert_eq!(
            shown["contribution"]["secrets"],
            serde_json::json!({ "KEY": "[secret]" })
        );
    }

    #[test]
    fn a_service_with_ambient_credentials_is_handed_nothing_more() {
        let (host, cloud) = (Recorder::new("host", true), Recorder::new("cloud", true));
        let placed = PlacedPlatform::new("x", "alchemy.toml", host.clone())
            .with_platform("cloud", cloud)
            .place("photos", "cloud");
        let mut stack = Stack::new("app", "x");
        placed
            .service(&mut stack, "api", &[bucket_binding("photos")])
            .unwrap();
        assert_eq!(host.served.lock().unwrap().len(), 1);
        assert!(stack.bindings().is_empty());
    }

    #[test]
    fn a_single_platform_checks_capabilities_too() {
        struct NoActors;
        impl Platform for NoActors {
            fn name(&self) -> &str {
                "bare"
            }
            fn providers(&self) -> Providers {
                Providers::new()
            }
            fn declare(&self, _: &mut Stack, _: &Declaration) -> Result<()> {
                Ok(())
            }
            fn bind(&self, _: &Stack, _: &str, _: &Request) -> Result<Contribution> {
                Ok(Contribution::default())
            }
            fn service(&self, _: &mut Stack, _: &str, _: &[Binding]) -> Result<()> {
                Ok(())
            }
            fn actor_capabilities(&self) -> Option<Capabilities> {
                Some(Capabilities::default())
            }
        }
        let error = NoActors
            .check("qa", &[actors("rooms", &["alarms"])], &["api".into()])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "actor namespace `rooms` uses alarms, which actors on `bare` do not support (stage `qa`): place it on a provider that has it, with `rooms = \"local\"` under `[stages.qa.place]`, or accept that it fails there with `allow_unsupported = [\"rooms\"]` under `[stages.qa]`"
        );
    }
}
