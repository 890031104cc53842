//! Bindings: a service's init phase declares what it needs and gets back typed clients.
//!
//! "Get your dependencies, return the implementation." At plan time [`Init::bind`] records the
//! binding (which resource, what access) for the plan and hands back a client that refuses to
//! work; when the service runs, the same call hands back a live client from the [`Runtime`] of
//! the provider it runs on.

mod bucket;

use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// What a service may do with a bound resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read only.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        })
    }
}

/// A provider-neutral resource as an app declares it; each stage's platform decides what it
/// becomes (a bucket is a directory locally, S3 on AWS, R2 on Cloudflare).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Declaration {
    /// The logical id.
    pub id: String,
    /// The neutral kind: `bucket`, `actors`, or a kind of the app's own.
    pub kind: String,
    /// Kind-specific settings (for `actors`, the capabilities its actors use, as
    /// `{"uses": ["alarms", "websockets"]}`; see
    /// [`Actors::uses`](crate::actor::Actors::uses)).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub config: Value,
}

/// Whether the program is planning (no resource exists yet) or running as the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Building the plan: clients do nothing.
    Plan,
    /// Serving: clients reach the real resources.
    Run,
}

/// The provider side of a running service: it turns bindings into live clients.
///
/// Each platform implements it (local, AWS Lambda, Cloudflare Workers); [`Bindable`] types ask
/// it for what they need by resource id.
pub trait Runtime {
    /// Which phase this is.
    fn phase(&self) -> Phase;

    /// The provider's name (`local`, `aws`, `cloudflare`), for messages.
    fn provider(&self) -> &str;

    /// A client for the bucket bound under the logical id `id`.
    fn bucket(&self, id: &str) -> Result<crate::bucket::BucketClient> {
        Err(Error::Config(format!(
            "the {} runtime has no bucket `{id}`: bind it in the service's init",
            self.provider()
        )))
    }

    /// A client for a bound resource of the app's own kind, as the platform made it.
    fn custom(&self, declaration: &Declaration) -> Result<Box<dyn std::any::Any>> {
        Err(Error::Config(format!(
            "the {} runtime has no client for `{}` (kind {})",
            self.provider(),
            declaration.id,
            declaration.kind
        )))
    }

    /// The value of the service's variable `name`, if it has one: an environment variable
    /// of the process locally and on Lambda, a plain or secret text binding in a Worker. The
    /// default: none.
    fn var(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
}

/// Something a service can bind: a neutral resource that yields a typed client.
pub trait Bindable {
    /// What `bind` returns.
    type Client;

    /// The resource, as declared.
    fn declaration(&self) -> Declaration;

    /// The client handed out at plan time: it fails every call with [`Error::NotAtPlanTime`].
    fn plan_client(&self) -> Self::Client;

    /// The live client, from the runtime the service runs on.
    fn client(&self, runtime: &dyn Runtime) -> Result<Self::Client>;
}

/// One binding request made during init.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// What is bound.
    pub declaration: Declaration,
    /// With what access.
    pub access: Access,
}

/// The context of a service's init phase.
pub struct Init<'r> {
    service: String,
    runtime: &'r dyn Runtime,
    requests: Vec<Request>,
}

impl<'r> Init<'r> {
    /// An init context for `service` on `runtime`.
    pub fn new(service: &str, runtime: &'r dyn Runtime) -> Self {
        Init {
            service: service.to_string(),
            runtime,
            requests: Vec::new(),
        }
    }

    /// The service being initialised.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Which phase this is.
    pub fn phase(&self) -> Phase {
        self.runtime.phase()
    }

    /// Binds `resource` with read and write access.
    pub async fn bind<B: Bindable>(&mut self, resource: &B) -> Result<B::Client> {
        self.bind_with(resource, Access::ReadWrite).await
    }

    /// Binds `resource` for reading only: the plan grants read permissions alone.
    pub async fn bind_read_only<B: Bindable>(&mut self, resource: &B) -> Result<B::Client> {
        self.bind_with(resource, Access::ReadOnly).await
    }

    /// Binds `resource` with `access`.
    pub async fn bind_with<B: Bindable>(
        &mut self,
        resource: &B,
        access: Access,
    ) -> Result<B::Client> {
        let declaration = resource.declaration();
        crate::resource::validate_id(&declaration.id)?;
        match self
            .requests
            .iter_mut()
            .find(|r| r.declaration.id == declaration.id)
        {
            Some(r) => r.access = r.access.max(access),
            None => self.requests.push(Request {
                declaration,
                access,
            }),
        }
        match self.runtime.phase() {
            Phase::Plan => Ok(resource.plan_client()),
            Phase::Run => resource.client(self.runtime),
        }
    }

    /// The value of the service's variable `name` on the provider it runs on, the same way
    /// everywhere: an environment variable under `dev` and on Lambda (the AWS settings'
    /// `environment`), a plain or secret text binding in a Worker (the Cloudflare settings'
    /// `vars` and `secrets`). While planning, the planning process's environment.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> alchemy::Result<()> {
    /// use alchemy::bind::{Init, Planning};
    ///
    /// std::env::set_var("GREETING_DOC_EXAMPLE", "hello");
    /// let init = Init::new("api", &Planning);
    /// assert_eq!(init.var("GREETING_DOC_EXAMPLE").as_deref(), Some("hello"));
    /// assert_eq!(init.var("NOT_SET_DOC_EXAMPLE"), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn var(&self, name: &str) -> Option<String> {
        self.runtime.var(name)
    }

    /// [`Init::var`] parsed as a `T`, or `default` when the service has no such variable. A
    /// value that does not parse is an error naming the variable, the value and the type.
    ///
    /// ```
    /// use alchemy::bind::{Init, Planning};
    ///
    /// std::env::set_var("MAX_BYTES_DOC_EXAMPLE", "lots");
    /// let init = Init::new("api", &Planning);
    /// assert_eq!(init.var_or("UNSET_MAX_BYTES_DOC_EXAMPLE", 1024_u64).unwrap(), 1024);
    /// let error = init.var_or("MAX_BYTES_DOC_EXAMPLE", 1024_u64).unwrap_err();
    /// assert!(error.to_string().contains("`MAX_BYTES_DOC_EXAMPLE` = \"lots\""), "{error}");
    /// ```
    pub fn var_or<T>(&self, name: &str, default: T) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.var(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|error| {
                Error::Config(format!(
                    "the variable `{name}` = {value:?} of service `{}` is not a valid {}: \
                     {error}; set it to one, or unset it for the default",
                    self.service,
                    std::any::type_name::<T>()
                ))
            }),
        }
    }

    /// The bindings requested so far.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// Ends init, giving back the bindings requested.
    pub fn into_requests(self) -> Vec<Request> {
        self.requests
    }
}

/// A service: it binds what it needs in `init` and returns its implementation.
pub trait Service: 'static {
    /// What init returns: an HTTP handler, for instance.
    type Handler: 'static;

    /// Binds resources and builds the handler.
    fn init(ctx: &mut Init<'_>) -> impl Future<Output = Result<Self::Handler>>;
}

/// The runtime used while planning: every client is inert.
#[derive(Debug, Clone, Copy, Default)]
pub struct Planning;

impl Runtime for Planning {
    fn phase(&self) -> Phase {
        Phase::Plan
    }

    fn provider(&self) -> &str {
        "plan"
    }

    /// The planning process's environment.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}
