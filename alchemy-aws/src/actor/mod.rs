//! Actors on AWS: the neutral actor model with single-writer turns over DynamoDB, and no
//! server in the middle.
//!
//! [`DynamoActors`] hosts actor namespaces in whichever process calls them: a Lambda
//! invocation, a container, a test. Each turn of an actor runs in the caller's process, and
//! correctness comes from DynamoDB alone:
//!
//! 1. **Lease.** The turn takes the actor's lease with a conditional write on its meta item:
//!    only if no one holds it, the holder's lease has expired, or it is already this turn's.
//!    Each acquisition increments the actor's **fencing token**. A caller that finds the
//!    lease held waits with jittered exponential backoff, for at most
//!    [`DynamoActorsOptions::busy_timeout`], then fails with
//!    [`ActorError::Unavailable`] naming the actor.
//!    Callers in one process queue for an actor in that process rather than in DynamoDB.
//! 2. **Run.** The instance is built from the declaration ([`Actor::init`]) and handles the
//!    event. An instance built by an earlier turn in this process is reused when the fencing
//!    token shows that no other caller ran the actor since; otherwise `init` builds a fresh
//!    one from storage. Its storage reads go through to DynamoDB (consistent reads, cached for the turn);
//!    its writes are buffered, and its reads see them.
//! 3. **Commit.** One `TransactWriteItems` applies every write and releases the lease,
//!    on the condition that the meta item still carries the turn's fencing token. A holder
//!    whose lease expired and was taken over can therefore never commit after the newer
//!    holder: its turn fails, and none of its writes become visible.
//!
//! What a turn wrote is kept when its handler returns an error (each write was accepted), and
//! dropped when it panics or loses its lease.
//!
//! Lease expiry compares the callers' wall clocks: keep them in step (as NTP does, to well
//! within [`DynamoActorsOptions::lease`]). A clock that is off cannot break single-writer
//! commits, which rest on the fencing token alone; it can only make a caller take an
//! unexpired lease early, which fails the other holder's turn. While a turn runs, its lease
//! is renewed every third of its duration ([`DynamoActorsOptions::renew`]), so only a holder
//! that stopped (a frozen or dead process) is taken over.
//!
//! # Table
//!
//! One table per namespace ([`DynamoActors::new`] takes the function that names it), with a
//! string partition key `pk` (the actor id) and a string sort key `sk`: one meta item per
//! actor (lease holder, expiry, fencing token, storage generation) and one item per storage
//! key. `ActorTableProps` (feature `deploy`) deploys it, and `actor_permissions` lists the
//! IAM statements the runtime needs on it.
//!
//! An app needs none of this by hand: on a stage whose provider is `aws`, each namespace the
//! app hosts (`App::actors`) is deployed as such a table, binding it sets
//! `ALCHEMY_ACTORS_<ID>` on the function and grants exactly those statements, and the
//! function's runtime ([`AwsRuntime`](crate::runtime::AwsRuntime)) hosts every actor type of
//! the app on one `DynamoActors` for the life of the process.
//!
//! # Limits and capabilities
//!
//! [`DynamoActors::capabilities`] declares DynamoDB's limits: keys of at most
//! 1,005 bytes (a sort key is at most 1,024 bytes, 19 of which this layout uses), values of
//! at most 407,552 bytes (an item is at most 400 KB), and per turn at most 99 keys written
//! (100 items per transaction, one of them the lease) of at most 3,989,504 bytes in all
//! (4 MB per transaction). A value over the limit is refused with
//! [`ActorError::TooLarge`] before anything is written;
//! so is a turn that writes too much, at the write that crosses the line. `delete_all` is one
//! item whatever the number of keys: it moves the actor to a new storage generation, and the
//! old generation's items are deleted after the commit.
//!
//! Not supported, and declared so:
//!
//! - **Alarms.** An honest alarm needs something that wakes the actor at a time, durably and
//!   at least once, when no request arrives: on AWS that is EventBridge Scheduler invoking a
//!   function, which is deployment wiring the AWS platform does not make yet; until it does,
//!   `set_alarm` fails with `NotSupported`.
//! - **WebSockets** (and so hibernation). A turn lives only as long as one invocation, and a
//!   Lambda function cannot hold a socket open between invocations; API Gateway WebSocket
//!   APIs could stand in, but with different semantics (no in-actor accept, no attachments
//!   kept by the runtime).
//! - **SQL.** DynamoDB has no SQL over one actor's items; emulating it is not cheap.
//!
//! ```no_run
//! # async fn example() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Result};
//! use alchemy_aws::actor::DynamoActors;
//! use http::{Request, Response};
//!
//! struct Counter {
//!     ctx: ActorContext,
//! }
//!
//! impl Actor for Counter {
//!     async fn init(ctx: ActorContext) -> Result<Self> {
//!         Ok(Counter { ctx })
//!     }
//!
//!     async fn fetch(&self, _req: Request<ByteStream>) -> Result<Response<ByteStream>> {
//!         let storage = self.ctx.storage();
//!         let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
//!         storage.put("count", &count).await?;
//!         Ok(Response::new(ByteStream::from(count.to_string())))
//!     }
//! }
//!
//! static COUNTERS: Actors<Counter> = Actors::new("counters");
//!
//! let actors = DynamoActors::from_env(|namespace| format!("my-app-prod-{namespace}")).await;
//! let counters = actors.namespace(&COUNTERS).await?;
//! let visits = counters.get_by_name("visits")?;
//! let response = visits.fetch(Request::post("/").body(ByteStream::empty())?).await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```

mod client;
mod storage;
mod table;
mod turn;

#[cfg(feature = "deploy")]
mod permissions;
#[cfg(feature = "deploy")]
mod resource;

use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use alchemy::actor::{
    Actor, ActorClass, ActorClient, ActorError, ActorNamespace, Actors, Capabilities,
};
use alchemy::{Error, Result};
use aws_config::{BehaviorVersion, SdkConfig};

use self::client::{DynamoClient, Namespace};
use self::table::Table;

#[cfg(feature = "deploy")]
pub use permissions::{actor_permissions, ACTOR_ACTIONS};
#[cfg(feature = "deploy")]
pub use resource::{ActorTableOutput, ActorTableProps, ActorTableProvider};

/// The provider's short name, as errors and [`ActorClient::provider`] give it.
pub const PROVIDER: &str = "aws";

/// What DynamoDB-backed actors support: key-value storage within DynamoDB's limits; no SQL,
/// alarms or WebSockets (see the [module documentation](self) for why).
pub(crate) fn capabilities() -> Capabilities {
    let mut capabilities = Capabilities::default();
    capabilities.max_key_bytes = table::MAX_KEY_BYTES;
    capabilities.max_value_bytes = table::MAX_VALUE_BYTES;
    capabilities
}

/// Settings of a [`DynamoActors`] runtime.
///
/// ```
/// use std::time::Duration;
/// use alchemy_aws::actor::DynamoActorsOptions;
///
/// let options = DynamoActorsOptions::default().lease(Duration::from_secs(60));
/// assert_eq!(options.lease, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DynamoActorsOptions {
    /// How long the actor's lease lasts from its last renewal. A holder that stops renewing
    /// (its process froze or died) is taken over once this has passed, and its turn then
    /// fails to commit. Default: 30 s.
    pub lease: Duration,
    /// Renew the lease every third of [`lease`](Self::lease) while a turn runs, so a slow turn
    /// keeps it. Default: `true`. Without renewals, a turn must end within its lease.
    pub renew: bool,
    /// How long a caller waits for an actor whose lease others hold before it gives up with
    /// `ActorError::Unavailable`. Default: 60 s.
    pub busy_timeout: Duration,
    /// The first wait between two attempts to take a held lease; each wait is random, up to
    /// twice the previous bound. Default: 10 ms.
    pub backoff_initial: Duration,
    /// The bound of the wait between two attempts. Default: 500 ms.
    pub backoff_max: Duration,
    /// How many actors of one namespace keep their instance in this process between turns.
    /// An instance is reused only while no other process has run its actor since; beyond
    /// this many, idle instances are dropped and rebuilt with `init` when needed.
    /// Default: 256.
    pub max_instances: usize,
}

impl Default for DynamoActorsOptions {
    fn default() -> Self {
        DynamoActorsOptions {
            lease: Duration::from_secs(30),
            renew: true,
            busy_timeout: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(500),
            max_instances: 256,
        }
    }
}

impl DynamoActorsOptions {
    /// Sets [`lease`](Self::lease).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`renew`](Self::renew).
    pub fn renew(mut self, renew: bool) -> Self {
        self.renew = renew;
        self
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Sets [`max_instances`](Self::max_instances) (at least 1).
    pub fn max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances.max(1);
        self
    }

    /// Sets [`backoff_initial`](Self::backoff_initial) and [`backoff_max`](Self::backoff_max).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }
}

/// The function that names each namespace's table.
type TableName = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// What the namespaces of one runtime share.
pub(crate) struct Shared {
    client: aws_sdk_dynamodb::Client,
    table_name: TableName,
    pub(crate) options: DynamoActorsOptions,
}

/// The actor runtime over DynamoDB: actor namespaces whose turns run in this process, their
/// state in one DynamoDB table per namespace.
///
/// Any number of processes may host the same namespaces at once (every Lambda invocation of
/// a service, say): the lease in DynamoDB keeps the turns of one actor from overlapping. A
/// runtime is cheap to clone; clones share the client and the registered namespaces.
#[derive(Clone)]
pub struct DynamoActors {
    shared: Arc<Shared>,
    namespaces: Arc<RwLock<BTreeMap<String, Arc<Namespace>>>>,
}

impl fmt::Debug for DynamoActors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoActors")
            .field("namespaces", &self.namespaces())
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl DynamoActors {
    /// A runtime with credentials, region and endpoint from `config`, storing namespace `ns`
    /// in the table `table_name(ns)`.
    pub fn new(
        config: &SdkConfig,
        table_name: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        Self::from_client(aws_sdk_dynamodb::Client::new(config), table_name)
    }

    /// A runtime over a DynamoDB client of your own.
    pub fn from_client(
        client: aws_sdk_dynamodb::Client,
        table_name: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        DynamoActors {
            shared: Arc::new(Shared {
                client,
                table_name: Arc::new(table_name),
                options: DynamoActorsOptions::default(),
            }),
            namespaces: Arc::default(),
        }
    }

    /// A runtime with credentials, region and endpoint from the standard AWS chain
    /// (environment, profile files, web identity, container and instance metadata; the
    /// standard `AWS_ENDPOINT_URL` overrides the endpoint).
    pub async fn from_env(table_name: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::new(&config, table_name)
    }

    /// The runtime with `options`. Call it before registering namespaces: the runtime it
    /// returns has none registered (those of `self` keep the options they had).
    pub fn with_options(self, options: DynamoActorsOptions) -> Self {
        DynamoActors {
            shared: Arc::new(Shared {
                client: self.shared.client.clone(),
                table_name: self.shared.table_name.clone(),
                options,
            }),
            namespaces: Arc::default(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &DynamoActorsOptions {
        &self.shared.options
    }

    /// What DynamoDB-backed actors support, as every namespace of this runtime declares it.
    pub fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    /// The table that holds namespace `namespace`.
    pub fn table_name(&self, namespace: &str) -> String {
        (self.shared.table_name)(namespace)
    }

    /// Hosts the namespace `actors` declares and returns its client; registering the same
    /// declaration again returns a client of the same namespace. Nothing is asked of AWS
    /// until the first request.
    pub async fn namespace<A: Actor>(&self, actors: &Actors<A>) -> Result<ActorNamespace<A>> {
        let namespace = self.host(actors.id(), actors.class(), Some(TypeId::of::<A>()))?;
        Ok(ActorNamespace::from_client(Arc::new(DynamoClient {
            namespace,
        })))
    }

    /// Hosts the namespace `namespace` with the erased actor type `class`, as a platform does
    /// for every actor type an app hosts (see `App::actor_classes`); [`client`](Self::client)
    /// then hands out its client. Registering the same type again is a no-op; another type
    /// under the same namespace is refused. Nothing is asked of AWS until the first request.
    ///
    /// ```
    /// use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Result};
    /// use alchemy_aws::actor::DynamoActors;
    /// use http::{Request, Response};
    ///
    /// struct Counter;
    /// impl Actor for Counter {
    ///     async fn init(_: ActorContext) -> Result<Self> {
    ///         Ok(Counter)
    ///     }
    ///     async fn fetch(&self, _: Request<ByteStream>) -> Result<Response<ByteStream>> {
    ///         Ok(Response::new(ByteStream::from("1")))
    ///     }
    /// }
    /// static COUNTERS: Actors<Counter> = Actors::new("counters");
    ///
    /// let config = aws_config::SdkConfig::builder()
    ///     .behavior_version(aws_config::BehaviorVersion::latest())
    ///     .build();
    /// let actors = DynamoActors::new(&config, |namespace| format!("app-prod-{namespace}"));
    /// actors.register("counters", COUNTERS.class())?;
    /// assert_eq!(actors.client("counters")?.namespace(), "counters");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register(&self, namespace: &str, class: ActorClass) -> Result<()> {
        self.host(namespace, class, None).map(drop)
    }

    /// The namespace `id` hosting `class`, registered now unless it was already.
    fn host(&self, id: &str, class: ActorClass, type_id: Option<TypeId>) -> Result<Arc<Namespace>> {
        alchemy::resource::validate_id(id)?;
        let mut namespaces = self
            .namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = namespaces.get(id) {
            if !existing.hosts(type_id, class.type_name()) {
                return Err(Error::Config(format!(
                    "actor namespace `{id}` is registered already with actor type {}, not {}: give each actor type a namespace of its own",
                    existing.class.type_name(),
                    class.type_name()
                )));
            }
            return Ok(existing.clone());
        }
        let table = Table {
            client: self.shared.client.clone(),
            name: self.table_name(id),
        };
        let namespace = Arc::new(Namespace::new(
            id,
            class,
            type_id,
            table,
            self.shared.clone(),
        ));
        namespaces.insert(id.to_string(), namespace.clone());
        Ok(namespace)
    }

    /// The client of the registered namespace called `namespace`, for a runtime's binding
    /// (`Runtime::custom` hands it out for declarations of kind `actors`).
    pub fn client(&self, namespace: &str) -> alchemy::actor::Result<Arc<dyn ActorClient>> {
        let namespaces = self
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match namespaces.get(namespace) {
            Some(found) => Ok(Arc::new(DynamoClient {
                namespace: found.clone(),
            })),
            None => Err(ActorError::UnknownNamespace {
                namespace: namespace.to_string(),
                provider: PROVIDER,
                known: namespaces.keys().cloned().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The registered namespaces, in order.
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alchemy::actor::{ActorContext, ByteStream};
    use http::{Request, Response};

    struct Counter;
    struct Room;

    impl Actor for Counter {
        async fn init(_: ActorContext) -> alchemy::actor::Result<Self> {
            Ok(Counter)
        }
        async fn fetch(
            &self,
            _: Request<ByteStream>,
        ) -> alchemy::actor::Result<Response<ByteStream>> {
            Ok(Response::new(ByteStream::from("counter")))
        }
    }

    impl Actor for Room {
        async fn init(_: ActorContext) -> alchemy::actor::Result<Self> {
            Ok(Room)
        }
        async fn fetch(
            &self,
            _: Request<ByteStream>,
        ) -> alchemy::actor::Result<Response<ByteStream>> {
            Ok(Response::new(ByteStream::from("room")))
        }
    }

    static COUNTERS: Actors<Counter> = Actors::new("counters");
    static ROOMS_AS_COUNTERS: Actors<Room> = Actors::new("counters");

    fn actors() -> DynamoActors {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
        DynamoActors::new(&config, |namespace| format!("app-prod-{namespace}"))
    }

    #[tokio::test]
    async fn an_erased_class_registers_once_and_agrees_with_its_type() {
        let actors = actors();
        actors.register("counters", COUNTERS.class()).unwrap();
        actors.register("counters", COUNTERS.class()).unwrap();
        assert_eq!(actors.namespaces(), ["counters"]);
        assert_eq!(actors.table_name("counters"), "app-prod-counters");
        actors.namespace(&COUNTERS).await.expect("the same type");

        let err = actors.namespace(&ROOMS_AS_COUNTERS).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("registered already with actor type"),
            "{err}"
        );
        let err = actors
            .register("counters", ROOMS_AS_COUNTERS.class())
            .unwrap_err();
        assert!(err.to_string().contains("namespace of its own"), "{err}");
        assert!(actors
            .register("not a namespace!", COUNTERS.class())
            .is_err());
    }
}
