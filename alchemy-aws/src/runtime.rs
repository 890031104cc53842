//! [`AwsRuntime`]: how a service running on AWS gets its bound resources as live clients.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use alchemy::actor::{ActorClass, ActorClient};
use alchemy::bind::{Declaration, Phase, Runtime};
use alchemy::bucket::BucketClient;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::actor::DynamoActors;
use crate::s3::S3Bucket;

/// Actor tables bound ahead of the environment, by namespace.
type Tables = Arc<RwLock<BTreeMap<String, String>>>;

/// The [`Runtime`] of a service on AWS: a bound bucket is the S3 bucket named by the
/// environment variable `ALCHEMY_BUCKET_<ID>` (the logical id upper-cased, `-` as `_`, as on
/// every platform), which deploying sets on the function.
///
/// A bound actor namespace is hosted by the runtime's one [`DynamoActors`], in the table
/// named by `ALCHEMY_ACTORS_<ID>`: its actor type must be registered first
/// ([`register_actors`](Self::register_actors), which the Lambda host calls with every actor
/// type of the app). Keep one runtime per process: its actors keep their instances between
/// requests, so a warm function serves an actor without rebuilding it.
///
/// ```no_run
/// # async fn example() -> alchemy::Result<()> {
/// use alchemy::bind::Runtime;
/// use alchemy_aws::runtime::AwsRuntime;
///
/// // In a Lambda function deployed with a binding of the bucket `photos`:
/// let runtime = AwsRuntime::from_env().await;
/// let photos = runtime.bucket("photos")?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AwsRuntime {
    config: SdkConfig,
    buckets: BTreeMap<String, String>,
    tables: Tables,
    actors: DynamoActors,
}

impl AwsRuntime {
    /// A runtime with credentials, region and endpoint from the standard AWS chain, as a
    /// Lambda function has them.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// A runtime whose clients are made from `config`.
    pub fn from_sdk_config(config: SdkConfig) -> Self {
        let tables = Tables::default();
        let actors = DynamoActors::new(&config, {
            let tables = tables.clone();
            move |namespace| table_of(&tables, namespace).unwrap_or_else(|| namespace.to_owned())
        });
        AwsRuntime {
            config,
            buckets: BTreeMap::new(),
            tables,
            actors,
        }
    }

    /// Hosts the actor namespace `namespace` with the actor type `class`, so that binding the
    /// namespace hands out its client. Registering the same type again is a no-op.
    pub fn register_actors(&self, namespace: &str, class: ActorClass) -> alchemy::Result<()> {
        self.actors.register(namespace, class)
    }

    /// The actor runtime that hosts the bound namespaces.
    pub fn actors(&self) -> &DynamoActors {
        &self.actors
    }

    /// Keeps actor namespace `namespace` in the DynamoDB table `table`, ahead of the
    /// environment. Call it before the namespace is registered.
    pub fn with_actor_table(self, namespace: impl Into<String>, table: impl Into<String>) -> Self {
        self.tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(namespace.into(), table.into());
        self
    }

    /// The environment variable that names the DynamoDB table of the actor namespace bound
    /// under `id`, such as `ALCHEMY_ACTORS_CHAT_ROOMS` for `chat-rooms`.
    pub fn actors_env(id: &str) -> String {
        format!(
            "ALCHEMY_ACTORS_{}",
            id.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// Binds the logical id `id` to the S3 bucket `name`, ahead of the environment.
    pub fn with_bucket(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.buckets.insert(id.into(), name.into());
        self
    }

    /// The environment variable that names the S3 bucket bound under `id`, such as
    /// `ALCHEMY_BUCKET_USER_PHOTOS` for `user-photos`.
    pub fn bucket_env(id: &str) -> String {
        alchemy::bucket::bucket_env(id)
    }
}

impl Runtime for AwsRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    /// The function's environment (the AWS settings' `environment`, besides the bindings').
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn provider(&self) -> &str {
        "aws"
    }

    fn bucket(&self, id: &str) -> alchemy::Result<BucketClient> {
        let variable = Self::bucket_env(id);
        let name = match self.buckets.get(id) {
            Some(name) => name.clone(),
            None => std::env::var(&variable)
                .ok()
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    alchemy::Error::Config(format!(
                        "bucket `{id}` is not bound here: `{variable}` is not set. Bind the \
                        bucket in the service's init and deploy, or set `{variable}` to the \
                        S3 bucket's name"
                    ))
                })?,
        };
        Ok(BucketClient::new(S3Bucket::from_sdk_config(
            &self.config,
            name,
        )))
    }

    /// The client of a bound actor namespace, an `Arc<dyn ActorClient>`.
    fn custom(&self, declaration: &Declaration) -> alchemy::Result<Box<dyn std::any::Any>> {
        let id = &declaration.id;
        if declaration.kind != "actors" {
            return Err(alchemy::Error::Config(format!(
                "the aws runtime has no client for `{id}` (kind {}): only buckets and actor \
                 namespaces are bound on aws",
                declaration.kind
            )));
        }
        if table_of(&self.tables, id).is_none() {
            let variable = Self::actors_env(id);
            return Err(alchemy::Error::Config(format!(
                "actor namespace `{id}` is not bound here: `{variable}` is not set. Bind the \
                 namespace in the service's init and deploy, or set `{variable}` to the \
                 name of its DynamoDB table"
            )));
        }
        let client: Arc<dyn ActorClient> = self.actors.client(id)?;
        Ok(Box::new(client))
    }
}

/// The table of actor namespace `namespace`: bound ahead of the environment, else named by
/// `ALCHEMY_ACTORS_<ID>`.
fn table_of(tables: &Tables, namespace: &str) -> Option<String> {
    let bound = tables
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(namespace)
        .cloned();
    bound.or_else(|| {
        std::env::var(AwsRuntime::actors_env(namespace))
            .ok()
            .filter(|name| !name.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> AwsRuntime {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
        AwsRuntime::from_sdk_config(config)
    }

    #[test]
    fn a_bound_bucket_is_an_s3_client() {
        let runtime = runtime().with_bucket("photos", "my-photos-1234");
        let client = runtime.bucket("photos").expect("bound");
        assert_eq!(client.provider(), "s3");
        assert_eq!(runtime.phase(), Phase::Run);
    }

    #[test]
    fn an_unbound_bucket_names_the_variable_to_set() {
        let Err(error) = runtime().bucket("never-bound-anywhere") else {
            panic!("a bucket that was never bound has a client");
        };
        let message = error.to_string();
        assert!(
            message.contains("ALCHEMY_BUCKET_NEVER_BOUND_ANYWHERE"),
            "{message}"
        );
    }

    #[test]
    fn variables_follow_the_platform_convention() {
        assert_eq!(
            AwsRuntime::bucket_env("user-photos"),
            "ALCHEMY_BUCKET_USER_PHOTOS"
        );
        assert_eq!(
            AwsRuntime::actors_env("chat-rooms"),
            "ALCHEMY_ACTORS_CHAT_ROOMS"
        );
    }

    struct Counter;

    impl alchemy::actor::Actor for Counter {
        async fn init(_: alchemy::actor::ActorContext) -> alchemy::actor::Result<Self> {
            Ok(Counter)
        }

        async fn fetch(
            &self,
            _: http::Request<alchemy::actor::ByteStream>,
        ) -> alchemy::actor::Result<http::Response<alchemy::actor::ByteStream>> {
            Ok(http::Response::new(alchemy::actor::ByteStream::from("1")))
        }
    }

    static COUNTERS: alchemy::actor::Actors<Counter> = alchemy::actor::Actors::new("counters");

    fn actors(id: &str) -> Declaration {
        Declaration {
            id: id.into(),
            kind: "actors".into(),
            config: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_bound_namespace_is_a_dynamodb_client_in_its_table() {
        let runtime = runtime().with_actor_table("counters", "app-prod-counters-1234");
        runtime
            .register_actors("counters", COUNTERS.class())
            .expect("registered");
        let client = runtime.custom(&actors("counters")).expect("bound");
        let client = client
            .downcast::<Arc<dyn ActorClient>>()
            .expect("an actor client");
        assert_eq!(client.provider(), "aws");
        assert_eq!(client.namespace(), "counters");
        assert_eq!(
            runtime.actors().table_name("counters"),
            "app-prod-counters-1234"
        );
    }

    #[test]
    fn an_unbound_namespace_names_the_variable_to_set() {
        let runtime = runtime();
        runtime
            .register_actors("never-bound-anywhere", COUNTERS.class())
            .expect("registered");
        let Err(error) = runtime.custom(&actors("never-bound-anywhere")) else {
            panic!("a namespace that was never bound has a client");
        };
        let message = error.to_string();
        assert!(
            message.contains("ALCHEMY_ACTORS_NEVER_BOUND_ANYWHERE"),
            "{message}"
        );
    }

    #[test]
    fn an_unregistered_actor_type_is_named_in_the_error() {
        let runtime = runtime().with_actor_table("rooms", "app-prod-rooms");
        let Err(error) = runtime.custom(&actors("rooms")) else {
            panic!("a namespace whose actor type is not hosted has a client");
        };
        assert!(error.to_string().contains("rooms"), "{error}");
    }
}
