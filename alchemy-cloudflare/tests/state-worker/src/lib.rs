//! A Worker that serves its R2 bucket with `alchemy::bucket::remote`, so that a process outside
//! Cloudflare (a deploy on a laptop or in CI) keeps a stage's state in R2 through
//! `RemoteBucket`.
//!
//! The bucket is the binding of [`STATE`]; the bearer token is the Worker's `STATE_TOKEN`
//! secret (or variable). Without one, the Worker refuses every request and says so.

use std::cell::RefCell;

use alchemy::bucket::{remote, Bucket};
use alchemy::{Init, Service};
use alchemy_http::BoxHandler;

/// The bucket that holds the state.
pub static STATE: Bucket = Bucket::new("state");

/// The name of the secret that holds the bearer token.
pub const TOKEN_SECRET: &str = "STATE_TOKEN";

thread_local! {
    /// The token, read from the environment by the fetch handler before the service starts.
    static TOKEN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The service: the state bucket, served over HTTP.
pub struct StateWorker;

impl Service for StateWorker {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<Self::Handler> {
        let bucket = ctx.bind(&STATE).await?;
        let token = TOKEN.with(|token| token.borrow().clone());
        Ok(BoxHandler::new(remote::handler(bucket, token)))
    }
}

#[cfg(target_arch = "wasm32")]
mod entry {
    use alchemy_cloudflare::__private::{
        js_sys, wasm_bindgen, wasm_bindgen_futures, web_sys, worker,
    };
    use wasm_bindgen::JsValue;

    /// The Worker's fetch handler: `alchemy_cloudflare::serve!`, after it has read the token,
    /// which the service's `init` cannot reach through the neutral bindings.
    #[wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = wasm_bindgen)]
    pub fn fetch(req: web_sys::Request, env: worker::Env, _ctx: JsValue) -> js_sys::Promise {
        let token = env
            .secret(super::TOKEN_SECRET)
            .map(|secret| secret.to_string())
            .unwrap_or_default();
        super::TOKEN.with(|slot| *slot.borrow_mut() = token);
        wasm_bindgen_futures::future_to_promise(async move {
            alchemy_cloudflare::serve::<super::StateWorker>("state-worker", req, env)
                .await
                .map(JsValue::from)
        })
    }
}

// Elsewhere, check that the service is one the Worker adapter can serve.
#[cfg(not(target_arch = "wasm32"))]
alchemy_cloudflare::serve!(StateWorker, "state-worker");
