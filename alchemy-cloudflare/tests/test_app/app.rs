//! The test Worker's (`tests/worker-app`) declarations as the deploying program sees them: the
//! same bucket, actor namespaces and service, so the plan binds what the Worker reads from its
//! `env`. The handler and the actors here only stand in: on Cloudflare the Worker runs them.

use alchemy::actor::{Actor, ActorContext, Actors};
use alchemy::bucket::Bucket;
use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy::{App, Init, Service};

/// The app's name.
pub const APP: &str = "local";

/// The Worker's bucket.
pub static BUCKET: Bucket = Bucket::new("conformance");
/// The Worker's counters (and conformance actors).
pub static SUITE: Actors<Stand> = Actors::new("suite");
/// The Worker's chat rooms.
pub static ROOMS: Actors<Stand> = Actors::new("rooms");

/// Stands in for the Worker's actors.
pub struct Stand;

impl Actor for Stand {
    async fn init(_ctx: ActorContext) -> alchemy::actor::Result<Self> {
        Ok(Stand)
    }

    async fn fetch(
        &self,
        _req: http::Request<ByteStream>,
    ) -> alchemy::actor::Result<http::Response<ByteStream>> {
        Ok(http::Response::new(ByteStream::empty()))
    }
}

/// The Worker's service: the same bindings.
pub struct TestApp;

impl Service for TestApp {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind(&BUCKET).await?;
        ctx.bind(&SUITE).await?;
        ctx.bind(&ROOMS).await?;
        Ok(BoxHandler::new(handler_fn(
            |_: http::Request<ByteStream>| async { http::Response::new(ByteStream::empty()) },
        )))
    }
}

/// The app: service `test-app` with the Worker's actor namespaces.
pub fn app() -> App {
    alchemy::app(APP)
        .service::<TestApp>("test-app")
        .actors(&SUITE)
        .actors(&ROOMS)
}
