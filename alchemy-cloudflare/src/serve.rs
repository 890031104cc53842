//! An `alchemy-http` service as the Worker's fetch handler, and the [`CloudflareRuntime`] that
//! hands a service its bound buckets (R2, or S3 over `fetch`) and Durable Object namespaces.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

use alchemy::actor::ActorClient;
use alchemy::bind::{Declaration, Phase, Runtime};
use alchemy::bucket::BucketClient;
use alchemy::{Init, Service};
use alchemy_http::{BoxHandler, HttpHandler};
use tower_service::Service as _;
use wasm_bindgen::JsValue;

use crate::durable::DurableObjects;
use crate::r2::R2Bucket;
use crate::s3::{FetchTransport, S3Bucket, S3Config};
use crate::{binding_name, js};

/// The [`Runtime`] of a service in a Worker: a bound bucket is the R2 binding named after its
/// logical id, or the S3 bucket its `ALCHEMY_BUCKET_<ID>` variable names (see
/// [`crate::s3`]); a bound actor namespace the Durable Object binding named after its id (see
/// [`binding_name`]).
#[derive(Debug, Clone)]
pub struct CloudflareRuntime {
    env: worker::Env,
}

impl CloudflareRuntime {
    /// A runtime over the Worker's environment.
    pub fn new(env: worker::Env) -> Self {
        CloudflareRuntime { env }
    }

    /// The Worker's environment.
    pub fn env(&self) -> &worker::Env {
        &self.env
    }

    /// The binding or variable `name` of the environment (a secret is a string too), if it
    /// has one.
    fn binding(&self, name: &str) -> Option<JsValue> {
        let env: &JsValue = self.env.as_ref();
        js_sys::Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    }
}

impl Runtime for CloudflareRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    fn provider(&self) -> &str {
        "cloudflare"
    }

    /// The bucket `id`: the R2 binding [`binding_name(id)`](binding_name) when the Worker has
    /// one, else the S3 bucket named by `ALCHEMY_BUCKET_<ID>` (with `AWS_REGION`, the
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` secrets, and optionally
    /// `AWS_ENDPOINT_URL` and `AWS_SESSION_TOKEN`), reached over `fetch`.
    fn bucket(&self, id: &str) -> alchemy::Result<BucketClient> {
        let binding = binding_name(id);
        if self
            .binding(&binding)
            .is_some_and(|value| !value.is_string())
        {
            let bucket = R2Bucket::from_env(&self.env, &binding)
                .map_err(|error| alchemy::Error::Config(format!("bucket `{id}`: {error}")))?;
            return Ok(BucketClient::new(bucket));
        }
        let text = |name: &str| self.binding(name).and_then(|value| value.as_string());
        match S3Config::from_vars(id, text) {
            Ok(Some(config)) => Ok(BucketClient::new(S3Bucket::new(FetchTransport, config))),
            Ok(None) => {
                let var = S3Config::bucket_var(id);
                Err(alchemy::Error::Config(format!(
                    "bucket `{id}`: the Worker has neither the R2 binding `{binding}` nor the \
                     S3 variable `{var}`. To keep it in R2, add an `r2_buckets` entry with \
                     binding `{binding}`; to keep it in S3, set `{var}` to the bucket's name, \
                     `AWS_REGION`, and the secrets `AWS_ACCESS_KEY_ID` and \
                     `AWS_SECRET_ACCESS_KEY`. Deploying the stage sets whichever its \
                     placement of the bucket needs"
                )))
            }
            Err(message) => Err(alchemy::Error::Config(format!("bucket `{id}`: {message}"))),
        }
    }

    /// A plain or secret text binding (the Cloudflare settings' `vars` and `secrets`).
    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).ok().map(|value| value.to_string())
    }

    fn custom(&self, declaration: &Declaration) -> alchemy::Result<Box<dyn Any>> {
        if declaration.kind != alchemy::actor::Actors::<()>::KIND {
            return Err(alchemy::Error::Config(format!(
                "the cloudflare runtime has no client for `{}` of kind {}: \
                 only buckets and actor namespaces can be bound in a Worker",
                declaration.id, declaration.kind
            )));
        }
        let objects =
            DurableObjects::from_env(&self.env, &declaration.id, &binding_name(&declaration.id))
                .map_err(|error| alchemy::Error::Config(error.to_string()))?;
        let client: Arc<dyn ActorClient> = Arc::new(objects);
        Ok(Box::new(client))
    }
}

/// Sends panic messages to the Worker's log, where `wrangler tail` and workerd's output show them.
static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

thread_local! {
    /// The service's handler, built by the first request of this isolate.
    static HANDLER: RefCell<Option<BoxHandler>> = const { RefCell::new(None) };
}

/// Serves `req` with the service `S`, named `name`: the Worker's fetch handler.
///
/// The first request of an isolate runs `S::init` with a [`CloudflareRuntime`] over `env`; the
/// handler it returns serves every later request. Request and response bodies stream. A
/// response that carries a Durable Object's WebSocket (from an actor stub's `fetch`) is passed
/// on as the upgrade. Use [`serve!`](crate::serve!) to export it.
pub async fn serve<S>(
    name: &str,
    req: web_sys::Request,
    env: worker::Env,
) -> Result<web_sys::Response, JsValue>
where
    S: Service,
    S::Handler: HttpHandler,
{
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| worker::console_error!("panic: {info}")))
    });
    let cached = HANDLER.with(|handler| handler.borrow().clone());
    let mut handler = match cached {
        Some(handler) => handler,
        None => {
            let runtime = CloudflareRuntime::new(env);
            let mut init = Init::new(name, &runtime);
            match S::init(&mut init).await {
                Ok(handler) => {
                    let handler = BoxHandler::new(handler);
                    HANDLER.with(|slot| *slot.borrow_mut() = Some(handler.clone()));
                    handler
                }
                Err(error) => {
                    return js::text_response(
                        500,
                        &format!("service `{name}` failed to start: {error}"),
                    )
                }
            }
        }
    };
    let req = match js::from_js_request(&req) {
        Ok(req) => req,
        Err(error) => return js::text_response(400, &format!("the request is invalid: {error}")),
    };
    let mut response = match handler.call(req).await {
        Ok(response) => response,
        Err(error) => return js::text_response(500, &format!("service `{name}` failed: {error}")),
    };
    match response.extensions_mut().remove::<worker::WebSocket>() {
        Some(socket) => worker::Response::from_websocket(socket)
            .map(web_sys::Response::from)
            .map_err(JsValue::from),
        None => js::to_js_response(response).await,
    }
}
