//! [`Actors`]: the provider-neutral declaration of an actor namespace.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use alchemy_stream::ByteStream;
use http::{Request, Response};
use serde_json::Value;

use super::{
    Actor, ActorClass, ActorClient, ActorError, ActorId, ActorNamespace, Capabilities, Capability,
    Result,
};
use crate::bind::{Bindable, Declaration, Runtime};

/// A namespace of actors that an app needs, declared once as a `static`.
///
/// The declaration is provider-neutral: the stage decides whether its actors are Durable
/// Objects, Lambda-backed or in-process on this machine. Binding it in a service's init gives
/// an [`ActorNamespace`].
///
/// ```
/// use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Result};
/// use http::{Request, Response};
///
/// struct Room;
///
/// impl Actor for Room {
///     async fn init(_: ActorContext) -> Result<Self> {
///         Ok(Room)
///     }
///
///     async fn fetch(&self, _: Request<ByteStream>) -> Result<Response<ByteStream>> {
///         Ok(Response::new(ByteStream::from("hello from the room")))
///     }
/// }
///
/// static ROOMS: Actors<Room> = Actors::new("rooms");
/// assert_eq!(ROOMS.id(), "rooms");
/// ```
pub struct Actors<A> {
    id: &'static str,
    uses: &'static [Capability],
    _actor: PhantomData<fn() -> A>,
}

impl<A> Actors<A> {
    /// The kind of every actor namespace declaration.
    pub const KIND: &'static str = "actors";

    /// Declares a namespace with the logical id `id`, unique within the app.
    pub const fn new(id: &'static str) -> Self {
        Actors {
            id,
            uses: &[],
            _actor: PhantomData,
        }
    }

    /// Says which optional capabilities the namespace's actors use, so that a stage placing it
    /// on a provider without them is refused when it is planned, naming the fix, rather than
    /// failing when a request needs them.
    ///
    /// ```
    /// use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Capability, Result};
    /// use http::{Request, Response};
    ///
    /// struct Room;
    ///
    /// impl Actor for Room {
    ///     async fn init(_: ActorContext) -> Result<Self> {
    ///         Ok(Room)
    ///     }
    ///
    ///     async fn fetch(&self, _: Request<ByteStream>) -> Result<Response<ByteStream>> {
    ///         Ok(Response::new(ByteStream::empty()))
    ///     }
    /// }
    ///
    /// static ROOMS: Actors<Room> =
    ///     Actors::new("rooms").uses(&[Capability::WebSockets, Capability::Alarms]);
    /// assert_eq!(ROOMS.used(), [Capability::WebSockets, Capability::Alarms]);
    /// ```
    pub const fn uses(self, capabilities: &'static [Capability]) -> Self {
        Actors {
            id: self.id,
            uses: capabilities,
            _actor: PhantomData,
        }
    }

    /// The namespace's logical id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The optional capabilities its actors use (see [`Actors::uses`]).
    pub fn used(&self) -> &'static [Capability] {
        self.uses
    }
}

impl<A: Actor> Actors<A> {
    /// How a provider builds the namespace's instances.
    pub fn class(&self) -> ActorClass {
        ActorClass::of::<A>()
    }
}

impl<A> Clone for Actors<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Actors<A> {}

impl<A> fmt::Debug for Actors<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actors")
            .field("id", &self.id)
            .field("uses", &self.uses)
            .field("actor", &std::any::type_name::<A>())
            .finish()
    }
}

impl<A: Actor> Bindable for Actors<A> {
    type Client = ActorNamespace<A>;

    fn declaration(&self) -> Declaration {
        let mut uses: Vec<&str> = self.uses.iter().map(|c| c.name()).collect();
        uses.sort_unstable();
        uses.dedup();
        Declaration {
            id: self.id.to_string(),
            kind: Self::KIND.to_string(),
            config: if uses.is_empty() {
                Value::Null
            } else {
                serde_json::json!({ "uses": uses })
            },
        }
    }

    fn plan_client(&self) -> ActorNamespace<A> {
        ActorNamespace::new(PlanningClient {
            namespace: self.id.to_string(),
        })
    }

    /// The runtime's client for the namespace: its [`Runtime::custom`] hands back an
    /// `Arc<dyn ActorClient>` for declarations of kind `actors`.
    fn client(&self, runtime: &dyn Runtime) -> crate::Result<ActorNamespace<A>> {
        let client: Box<dyn Any> = runtime.custom(&self.declaration())?;
        match client.downcast::<Arc<dyn ActorClient>>() {
            Ok(client) => Ok(ActorNamespace::from_client(*client)),
            Err(_) => Err(crate::Error::Config(format!(
                "the {} runtime returned something other than an `Arc<dyn ActorClient>` for actor namespace `{}`: the runtime must hand back the namespace's client",
                runtime.provider(),
                self.id
            ))),
        }
    }
}

/// The client handed out while planning: every call fails with
/// [`ActorError::NotAtPlanTime`].
struct PlanningClient {
    namespace: String,
}

impl PlanningClient {
    fn error(&self) -> ActorError {
        ActorError::NotAtPlanTime {
            namespace: self.namespace.clone(),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl ActorClient for PlanningClient {
    fn provider(&self) -> &'static str {
        "plan"
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn id_from_name(&self, _: &str) -> Result<ActorId> {
        Err(self.error())
    }

    fn new_unique_id(&self) -> Result<ActorId> {
        Err(self.error())
    }

    fn id_from_string(&self, _: &str) -> Result<ActorId> {
        Err(self.error())
    }

    async fn fetch(&self, _: &ActorId, _: Request<ByteStream>) -> Result<Response<ByteStream>> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::ActorContext;
    use crate::bind::{Init, Planning};

    struct Nothing;

    impl Actor for Nothing {
        async fn init(_: ActorContext) -> Result<Self> {
            Ok(Nothing)
        }

        async fn fetch(&self, _: Request<ByteStream>) -> Result<Response<ByteStream>> {
            Ok(Response::new(ByteStream::empty()))
        }
    }

    static NOTHINGS: Actors<Nothing> = Actors::new("nothings");

    #[test]
    fn binding_at_plan_time_records_the_namespace_and_gives_an_inert_client() {
        let runtime = Planning;
        let mut init = Init::new("api", &runtime);
        let namespace = futures::executor::block_on(init.bind(&NOTHINGS)).unwrap();
        assert_eq!(init.requests()[0].declaration.kind, "actors");
        assert_eq!(init.requests()[0].declaration.id, "nothings");
        let error = namespace.id_from_name("x").unwrap_err();
        assert!(matches!(error, ActorError::NotAtPlanTime { .. }), "{error}");
        assert!(error.to_string().contains("`nothings`"));
    }

    struct Custom(Arc<dyn ActorClient>);

    impl Runtime for Custom {
        fn phase(&self) -> crate::bind::Phase {
            crate::bind::Phase::Run
        }

        fn provider(&self) -> &str {
            "test"
        }

        fn custom(&self, declaration: &Declaration) -> crate::Result<Box<dyn Any>> {
            assert_eq!(declaration.kind, "actors");
            Ok(Box::new(self.0.clone()))
        }
    }

    #[test]
    fn binding_at_run_time_uses_the_runtime_client() {
        let runtime = Custom(Arc::new(PlanningClient {
            namespace: "from-runtime".into(),
        }));
        let mut init = Init::new("api", &runtime);
        let namespace = futures::executor::block_on(init.bind(&NOTHINGS)).unwrap();
        assert_eq!(namespace.name(), "from-runtime");
    }

    #[test]
    fn a_runtime_without_actors_says_so() {
        struct Bare;
        impl Runtime for Bare {
            fn phase(&self) -> crate::bind::Phase {
                crate::bind::Phase::Run
            }
            fn provider(&self) -> &str {
                "bare"
            }
        }
        let error = NOTHINGS.client(&Bare).unwrap_err();
        assert!(error.to_string().contains("nothings"), "{error}");
    }
}
