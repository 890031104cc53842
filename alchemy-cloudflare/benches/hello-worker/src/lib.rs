//! A minimal Worker written against the `worker` crate alone, answering `hello`: the baseline
//! that the workerd benchmark compares an alchemy service with.

#[cfg(target_arch = "wasm32")]
mod worker_entry {
    use worker::{event, Context, Env, Request, Response, Result};

    /// Answers every request with `hello`.
    #[event(fetch)]
    async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
        Response::ok("hello")
    }
}
