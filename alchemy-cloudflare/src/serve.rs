//! An `alchemy-http` service as the Worker's fetch handler, and the [`CloudflareRuntime`] that
//! hands a service its bound R2 buckets and Durable Object namespaces.

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
use crate::{binding_name, js};

/// The [`Runtime`] of a service in a Worker: a bound bucket is the R2 binding named after its
/// logical id, a bound actor namespace the Durable Object binding named after its id (see
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
}

impl Runtime for CloudflareRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    fn provider(&self) -> &str {
        "cloudflare"
    }

    fn bucket(&self, id: &str) -> alchemy::Result<BucketClient> {
        let bucket = R2Bucket::from_env(&self.env, &binding_name(id))
            .map_err(|error| alchemy::Error::Config(format!("bucket `{id}`: {error}")))?;
        Ok(BucketClient::new(bucket))
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
