//! [`AwsPlatform`]: how an app is hosted on AWS — buckets on S3, each service a Lambda
//! function with its own IAM role and a function URL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use alchemy::bind::{Declaration, Request};
use alchemy::platform::Platform;
use alchemy::provider::Providers;
use alchemy::stack::{Binding, Contribution, Stack};
use alchemy::{Error, Input, Resource, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use futures::FutureExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::bootstrap::{self, Package};
use super::sdk::{Lazy, LoadConfig};
use super::{
    bucket_permissions, FunctionUrlProps, FunctionUrlProvider, IamAccessKeyProps,
    IamAccessKeyProvider, IamRoleProps, IamRoleProvider, IamUserProps, IamUserProvider,
    LambdaFunctionProps, LambdaFunctionProvider, RolePermission, S3BucketProps, S3BucketProvider,
    UrlAuth,
};
use crate::actor::{actor_permissions, ActorTableProps, ActorTableProvider};
use crate::runtime::AwsRuntime;

/// The settings of a stage hosted on AWS, as the stage's table in `alchemy.toml` gives them.
///
/// Every field is optional: credentials, region and endpoint come from the standard AWS chain
/// (environment, profile files, instance or container metadata; `AWS_ENDPOINT_URL` is
/// honoured), and these override it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsPlatformOptions {
    /// The region to deploy to, instead of the chain's.
    pub region: Option<String>,
    /// An endpoint for every service, such as an emulator's `http://127.0.0.1:4566`.
    pub endpoint_url: Option<String>,
    /// A prebuilt `bootstrap` (for example from `cargo lambda build`) to deploy as every
    /// service's code, as it is. By default the running executable is deployed, with its
    /// debug information stripped: the binary that deploys the app also serves it.
    pub bootstrap: Option<PathBuf>,
    /// Memory of each function, in MiB (default 128).
    pub memory_mb: u32,
    /// How long one request may run, in seconds (default 30).
    pub timeout_s: u32,
    /// Variables of every service, as its function's environment (read with
    /// [`Init::var`](alchemy::Init::var)). Lambda keeps them in plain text in the function's
    /// configuration: no secrets here.
    pub environment: BTreeMap<String, String>,
}

impl Default for AwsPlatformOptions {
    fn default() -> Self {
        AwsPlatformOptions {
            region: None,
            endpoint_url: None,
            bootstrap: None,
            memory_mb: 128,
            timeout_s: 30,
            environment: BTreeMap::new(),
        }
    }
}

impl AwsPlatformOptions {
    /// The options in `settings`, a stage's table (`null` for none). Unknown keys are
    /// refused, so a misspelt setting is not silently ignored.
    ///
    /// ```
    /// use alchemy_aws::control::AwsPlatformOptions;
    ///
    /// let options = AwsPlatformOptions::from_settings(&serde_json::json!({
    ///     "region": "eu-west-1",
    ///     "memory_mb": 512,
    /// }))?;
    /// assert_eq!(options.region.as_deref(), Some("eu-west-1"));
    /// assert_eq!(options.timeout_s, 30);
    /// assert!(AwsPlatformOptions::from_settings(&serde_json::json!({ "regoin": "x" })).is_err());
    /// # Ok::<(), alchemy::Error>(())
    /// ```
    pub fn from_settings(settings: &Value) -> Result<Self> {
        if settings.is_null() {
            return Ok(Self::default());
        }
        let options = Self::deserialize(settings).map_err(|e| {
            Error::Config(format!(
                "invalid settings for the `aws` platform: {e}. The settings are `region`, \
                 `endpoint_url`, `bootstrap` (a path), `memory_mb`, `timeout_s` and \
                 `environment` (a table of strings)"
            ))
        })?;
        if !(128..=10_240).contains(&options.memory_mb) {
            return Err(Error::Config(format!(
                "`memory_mb` = {} is outside what Lambda allows: use 128 to 10240",
                options.memory_mb
            )));
        }
        if !(1..=900).contains(&options.timeout_s) {
            return Err(Error::Config(format!(
                "`timeout_s` = {} is outside what Lambda allows: use 1 to 900",
                options.timeout_s
            )));
        }
        Ok(options)
    }

    /// The SDK configuration: the standard chain, with these overrides.
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }
}

/// The AWS [`Platform`] (name `aws`): a `bucket` is an S3 bucket; a service is a Lambda
/// function (its code the [`bootstrap`] package) running as its own IAM role, whose inline
/// policy holds exactly the statements of the service's bindings, behind a public function
/// URL.
///
/// For a service `api`, the stack gets the role `api-role`, the function `api` and the URL
/// `api-url` (whose output `url` is where the service answers). Binding a bucket `photos`
/// sets `ALCHEMY_BUCKET_PHOTOS` to the bucket's name (as [`AwsRuntime`] reads it) and grants
/// [`bucket_permissions`]; every function also gets `ALCHEMY_SERVICE`, the service's id.
///
/// An `actors` namespace `rooms` is a DynamoDB table (an [`ActorTableProps`] resource with
/// the id `rooms`, named from the stack's physical name), whose actors run their turns inside
/// the functions that bind it ([`DynamoActors`](crate::actor::DynamoActors)). Binding it sets
/// `ALCHEMY_ACTORS_ROOMS` to the table's name and grants [`actor_permissions`] on the table's
/// ARN alone. Actors on AWS have key-value storage only: alarms, WebSockets and SQL are not
/// supported, and an actor that uses them answers
/// [`ActorError::NotSupported`](alchemy::actor::ActorError::NotSupported) there (see
/// [`crate::actor`] for why).
///
/// ```no_run
/// use std::sync::Arc;
/// use alchemy_aws::control::{AwsPlatform, AwsPlatformOptions};
///
/// let app = alchemy::app("photo-share").platform(|_stage, dir| {
///     Ok(Arc::new(AwsPlatform::new(AwsPlatformOptions::default(), dir)) as Arc<_>)
/// });
/// ```
#[derive(Clone)]
pub struct AwsPlatform {
    options: AwsPlatformOptions,
    build_dir: PathBuf,
    config: Arc<OnceCell<SdkConfig>>,
}

impl std::fmt::Debug for AwsPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsPlatform")
            .field("options", &self.options)
            .field("build_dir", &self.build_dir)
            .finish_non_exhaustive()
    }
}

impl AwsPlatform {
    /// The platform of a stage whose state directory is `state_dir`: function packages are
    /// built under `state_dir/aws`. The SDK configuration is loaded on first use.
    pub fn new(options: AwsPlatformOptions, state_dir: impl Into<PathBuf>) -> Self {
        AwsPlatform {
            options,
            build_dir: state_dir.into().join("aws"),
            config: Arc::new(OnceCell::new()),
        }
    }

    /// Uses `config` for every client, instead of loading the standard chain.
    pub fn with_sdk_config(self, config: SdkConfig) -> Self {
        AwsPlatform {
            config: Arc::new(OnceCell::new_with(Some(config))),
            ..self
        }
    }

    /// The options.
    pub fn options(&self) -> &AwsPlatformOptions {
        &self.options
    }

    /// The code every service deploys: the prebuilt `bootstrap` of the options, or the
    /// running executable stripped of its debug information.
    pub fn package(&self) -> Result<Package> {
        match &self.options.bootstrap {
            Some(exe) => bootstrap::package(exe, &self.build_dir),
            None => bootstrap::package_current_exe(&self.build_dir),
        }
    }

    /// The region a service outside AWS signs for: the `region` setting, else that of the SDK
    /// configuration given, else `AWS_REGION` or `AWS_DEFAULT_REGION` of the deploying
    /// process.
    fn region(&self, service: &str) -> Result<String> {
        let from_env = || {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        };
        self.options
            .region
            .clone()
            .or_else(|| {
                self.config
                    .get()
                    .and_then(|c| c.region().map(|r| r.to_string()))
            })
            .or_else(from_env)
            .ok_or_else(|| {
                Error::Config(format!(
                    "`{service}` runs outside AWS and binds resources on AWS, so it needs to be                      told their region: set `region` in the stage's aws settings                      (`[stages.NAME.providers.aws]`), or AWS_REGION when planning"
                ))
            })
    }

    /// The endpoint every AWS service is reached at, when it is not AWS's own (an emulator):
    /// the `endpoint_url` setting, else that of the SDK configuration given, else
    /// `AWS_ENDPOINT_URL` of the deploying process.
    fn endpoint(&self) -> Option<String> {
        self.options
            .endpoint_url
            .clone()
            .or_else(|| {
                self.config
                    .get()
                    .and_then(|c| c.endpoint_url().map(str::to_owned))
            })
            .or_else(|| {
                std::env::var("AWS_ENDPOINT_URL")
                    .ok()
                    .filter(|v| !v.is_empty())
            })
    }

    fn lazy<P>(&self, make: fn(&SdkConfig) -> P) -> Lazy<P> {
        let options = self.options.clone();
        let load: LoadConfig = Arc::new(move || {
            let options = options.clone();
            async move { options.sdk_config().await }.boxed()
        });
        Lazy::new(self.config.clone(), load, make)
    }
}

/// A reference to output `path` of resource `id`.
fn output_ref(id: &str, path: &str) -> Value {
    json!({ "$ref": format!("{id}.{path}") })
}

impl Platform for AwsPlatform {
    fn name(&self) -> &str {
        "aws"
    }

    fn providers(&self) -> Providers {
        let mut p = Providers::new();
        p.register::<S3BucketProps>("aws", self.lazy(S3BucketProvider::from_sdk_config));
        p.register::<IamRoleProps>("aws", self.lazy(IamRoleProvider::from_sdk_config));
        p.register::<LambdaFunctionProps>(
            "aws",
            self.lazy(LambdaFunctionProvider::from_sdk_config),
        );
        p.register::<FunctionUrlProps>("aws", self.lazy(FunctionUrlProvider::from_sdk_config));
        p.register::<ActorTableProps>("aws", self.lazy(ActorTableProvider::from_sdk_config));
        p.register::<IamUserProps>("aws", self.lazy(IamUserProvider::from_sdk_config));
        p.register::<IamAccessKeyProps>("aws", self.lazy(IamAccessKeyProvider::from_sdk_config));
        p
    }

    fn hosts(&self, kind: &str) -> bool {
        matches!(kind, "bucket" | "actors" | "service")
    }

    /// Key-value storage only: no SQL, alarms or WebSockets (see [`crate::actor`]).
    fn actor_capabilities(&self) -> Option<alchemy::actor::Capabilities> {
        Some(crate::actor::capabilities())
    }

    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> Result<()> {
        match declaration.kind.as_str() {
            "bucket" => stack
                .add(&declaration.id, S3BucketProps::default())
                .map(drop),
            "actors" => stack
                .add(&declaration.id, ActorTableProps::default())
                .map(drop),
            other => Err(Error::Config(format!(
                "the aws provider cannot host `{}`: it has no resource for kind `{other}`",
                declaration.id
            ))),
        }
    }

    fn bind(&self, stack: &Stack, service: &str, request: &Request) -> Result<Contribution> {
        let id = &request.declaration.id;
        let def = stack.get(id).ok_or_else(|| Error::UnknownReference {
            id: service.to_owned(),
            target: id.clone(),
        })?;
        match def.kind.as_str() {
            S3BucketProps::KIND => {
                let name = output_ref(id, "name");
                Ok(Contribution {
                    env: BTreeMap::from([(AwsRuntime::bucket_env(id), name.clone())]),
                    secrets: BTreeMap::new(),
                    metadata: json!({
                        "type": "bucket",
                        "name": id,
                        "bucket": name,
                        "access": request.access,
                    }),
                    permissions: bucket_permissions(&output_ref(id, "arn"), request.access),
                })
            }
            ActorTableProps::KIND => {
                let table = output_ref(id, "name");
                Ok(Contribution {
                    env: BTreeMap::from([(AwsRuntime::actors_env(id), table.clone())]),
                    secrets: BTreeMap::new(),
                    metadata: json!({
                        "type": "actors",
                        "name": id,
                        "table": table,
                    }),
                    permissions: actor_permissions(&output_ref(id, "arn")),
                })
            }
            other => Err(Error::Config(format!(
                "the aws provider cannot bind `{id}` (kind {other}) to `{service}`"
            ))),
        }
    }

    /// For a service on a provider without ambient credentials (a Cloudflare Worker): the IAM
    /// user `SERVICE-aws-user`, whose inline policy is exactly the permissions of `bindings`
    /// (the statements a Lambda role would get for them), and its access key
    /// `SERVICE-aws-key`. The binding (kind `credentials`, resource the key) hands the service
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` when the provider has an endpoint, and the key's halves
    /// as the secrets `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    fn reach(
        &self,
        stack: &mut Stack,
        service: &str,
        bindings: &[Binding],
    ) -> Result<Option<Binding>> {
        if bindings.is_empty() {
            return Ok(None);
        }
        let user = format!("{service}-aws-user");
        let key = format!("{service}-aws-key");
        let permissions = bindings
            .iter()
            .flat_map(|b| &b.contribution.permissions)
            .map(RolePermission::from)
            .collect();
        stack.add(&user, IamUserProps { permissions })?;
        stack.add(
            &key,
            IamAccessKeyProps {
                user: serde_json::from_value(output_ref(&user, "name"))?,
            },
        )?;
        let mut env = BTreeMap::from([("AWS_REGION".to_owned(), json!(self.region(service)?))]);
        if let Some(endpoint) = self.endpoint() {
            env.insert("AWS_ENDPOINT_URL".to_owned(), json!(endpoint));
        }
        let secrets = BTreeMap::from([
            (
                "AWS_ACCESS_KEY_ID".to_owned(),
                output_ref(&key, "access_key_id"),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                output_ref(&key, "secret_access_key"),
            ),
        ]);
        let access = bindings
            .iter()
            .map(|b| b.access)
            .max()
            .unwrap_or(alchemy::Access::ReadOnly);
        Ok(Some(Binding {
            service: service.to_owned(),
            resource: key.clone(),
            kind: "credentials".to_owned(),
            access,
            contribution: Contribution {
                env,
                secrets,
                metadata: json!({ "type": "credentials", "user": output_ref(&user, "name") }),
                permissions: Vec::new(),
            },
        }))
    }

    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()> {
        let role = format!("{service}-role");
        let permissions = bindings
            .iter()
            .flat_map(|b| &b.contribution.permissions)
            .map(RolePermission::from)
            .collect();
        stack.add(
            &role,
            IamRoleProps {
                permissions,
                ..IamRoleProps::default()
            },
        )?;

        let code = self.package()?;
        let mut function = LambdaFunctionProps::new(
            serde_json::from_value::<Input<String>>(output_ref(&role, "arn"))?,
            &code,
        );
        function.memory_mb = self.options.memory_mb;
        function.timeout_s = self.options.timeout_s;
        for (key, value) in &self.options.environment {
            function
                .environment
                .insert(key.clone(), Input::Value(value.clone()));
        }
        for (key, value) in bindings.iter().flat_map(|b| &b.contribution.env) {
            if self.options.environment.contains_key(key) {
                return Err(Error::Config(format!(
                    "the variable `{key}` of the aws `environment` setting is also what a \
                     binding of `{service}` sets: rename it in `environment`"
                )));
            }
            let value = serde_json::from_value(value.clone()).map_err(|e| {
                Error::Config(format!(
                    "the environment variable `{key}` of `{service}` is neither a string nor \
                     a reference to one: {e}"
                ))
            })?;
            function.environment.insert(key.clone(), value);
        }
        function.environment.insert(
            "ALCHEMY_SERVICE".to_owned(),
            Input::Value(service.to_owned()),
        );
        stack.add(service, function)?;

        stack.add(
            &format!("{service}-url"),
            FunctionUrlProps {
                function_name: serde_json::from_value(output_ref(service, "name"))?,
                auth: UrlAuth::None,
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_outside_aws_reaches_its_bucket_with_a_user_of_exactly_its_permissions() {
        let options = AwsPlatformOptions {
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://127.0.0.1:4566".into()),
            ..AwsPlatformOptions::default()
        };
        let platform = AwsPlatform::new(options, std::env::temp_dir());
        let mut stack = Stack::new("app", "dev");
        let declaration = Declaration {
            id: "photos".into(),
            kind: "bucket".into(),
            config: Value::Null,
        };
        platform.declare(&mut stack, &declaration).unwrap();
        let request = Request {
            declaration,
            access: alchemy::Access::ReadOnly,
        };
        let bound = Binding {
            service: "api".into(),
            resource: "photos".into(),
            kind: "bucket".into(),
            access: request.access,
            contribution: platform.bind(&stack, "api", &request).unwrap(),
        };
        let reach = platform
            .reach(&mut stack, "api", std::slice::from_ref(&bound))
            .unwrap()
            .expect("credentials");
        let user: IamUserProps =
            serde_json::from_value(stack.get("api-aws-user").unwrap().props.clone()).unwrap();
        let granted: Vec<_> = user
            .permissions
            .iter()
            .map(alchemy::stack::Permission::from)
            .collect();
        assert_eq!(granted, bound.contribution.permissions);
        assert_eq!(
            stack.get("api-aws-key").unwrap().props,
            json!({ "user": { "$ref": "api-aws-user.name" } })
        );
        assert_eq!(reach.resource, "api-aws-key");
        assert_eq!(reach.access, alchemy::Access::ReadOnly);
        assert_eq!(
            reach.contribution.env,
            BTreeMap::from([
                (
                    "AWS_ENDPOINT_URL".to_owned(),
                    json!("http://127.0.0.1:4566")
                ),
                ("AWS_REGION".to_owned(), json!("eu-west-1")),
            ])
        );
        assert_eq!(
            reach.contribution.secrets,
            BTreeMap::from([
                (
                    "AWS_ACCESS_KEY_ID".to_owned(),
                    json!({ "$ref": "api-aws-key.access_key_id" })
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".to_owned(),
                    json!({ "$ref": "api-aws-key.secret_access_key" })
                ),
            ])
        );
        assert_eq!(platform.reach(&mut stack, "other", &[]).unwrap(), None);
    }

    #[test]
    fn settings_default_and_override() {
        let options = AwsPlatformOptions::from_settings(&Value::Null).unwrap();
        assert_eq!(options, AwsPlatformOptions::default());
        let options = AwsPlatformOptions::from_settings(&json!({
            "region": "eu-west-1",
            "endpoint_url": "http://127.0.0.1:4566",
            "bootstrap": "target/lambda/api/bootstrap",
            "memory_mb": 256,
            "timeout_s": 10,
            "environment": { "GREETING": "hello" },
        }))
        .unwrap();
        assert_eq!(
            options,
            AwsPlatformOptions {
                region: Some("eu-west-1".into()),
                endpoint_url: Some("http://127.0.0.1:4566".into()),
                bootstrap: Some("target/lambda/api/bootstrap".into()),
                memory_mb: 256,
                timeout_s: 10,
                environment: BTreeMap::from([("GREETING".into(), "hello".into())]),
            }
        );
    }

    #[test]
    fn unknown_or_invalid_settings_are_refused_with_the_fix() {
        let err = AwsPlatformOptions::from_settings(&json!({ "memory": 256 }))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`memory`") && err.contains("memory_mb"),
            "{err}"
        );
        let err = AwsPlatformOptions::from_settings(&json!({ "memory_mb": 64 }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("128 to 10240"), "{err}");
        let err = AwsPlatformOptions::from_settings(&json!({ "timeout_s": 0 }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 to 900"), "{err}");
        assert!(AwsPlatformOptions::from_settings(&json!("eu-west-1")).is_err());
    }

    #[test]
    fn an_actor_namespace_is_a_table_bound_by_name_with_item_actions_on_its_arn() {
        let platform = AwsPlatform::new(AwsPlatformOptions::default(), std::env::temp_dir());
        let mut stack = Stack::new("app", "dev");
        let declaration = Declaration {
            id: "chat-rooms".into(),
            kind: "actors".into(),
            config: Value::Null,
        };
        platform.declare(&mut stack, &declaration).unwrap();
        let def = stack.get("chat-rooms").expect("the table is declared");
        assert_eq!(def.kind, "aws.dynamodb.table");
        assert_eq!(def.props, json!({}), "named from the stack, not by hand");

        let request = Request {
            declaration,
            access: alchemy::bind::Access::ReadWrite,
        };
        let contribution = platform.bind(&stack, "api", &request).unwrap();
        assert_eq!(
            contribution.env,
            BTreeMap::from([(
                "ALCHEMY_ACTORS_CHAT_ROOMS".to_owned(),
                json!({ "$ref": "chat-rooms.name" })
            )])
        );
        assert_eq!(
            contribution.metadata,
            json!({ "type": "actors", "name": "chat-rooms", "table": { "$ref": "chat-rooms.name" } })
        );
        assert_eq!(
            contribution.permissions,
            actor_permissions(&json!({ "$ref": "chat-rooms.arn" }))
        );
    }
}
