//! What the control-plane tests share: an app with a bucket, actors and a service, a Worker
//! bundle on disk, and a deploy through the real planner and engine.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use alchemy::actor::{Actor, ActorContext, Actors};
use alchemy::apply::{Engine, Keyring, Outcome, Report};
use alchemy::bucket::Bucket;
use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy::plan::{plan, Action, Plan, PlanOptions};
use alchemy::platform::Platform;
use alchemy::secret::Cipher;
use alchemy::state::{LeaseOwner, MemoryBackend, Snapshot, StateBackend};
use alchemy::{App, Init, Service};
use alchemy_cloudflare::control::{CloudflarePlatform, CloudflarePlatformOptions, WorkerBundle};
use alchemy_cloudflare::testing::{ApiServer, Recorded};

pub const APP: &str = "control";
pub const STAGE: &str = "test";

pub static PHOTOS: Bucket = Bucket::new("photos");
pub static THUMBS: Bucket = Bucket::new("thumbs");
pub static ROOMS: Actors<Room> = Actors::new("rooms");
pub static CHATS: Actors<Room> = Actors::new("chats");
pub static COUNTERS: Actors<Room> = Actors::new("counters");

/// An actor that answers every request the same way.
pub struct Room;

impl Actor for Room {
    async fn init(_ctx: ActorContext) -> alchemy::actor::Result<Self> {
        Ok(Room)
    }

    async fn fetch(
        &self,
        _req: http::Request<ByteStream>,
    ) -> alchemy::actor::Result<http::Response<ByteStream>> {
        Ok(http::Response::new(ByteStream::from("room")))
    }
}

fn hello() -> BoxHandler {
    BoxHandler::new(handler_fn(|_: http::Request<ByteStream>| async {
        http::Response::new(ByteStream::from("hello"))
    }))
}

/// Binds the photos bucket and the rooms.
pub struct Api;

impl Service for Api {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind(&PHOTOS).await?;
        ctx.bind(&ROOMS).await?;
        Ok(hello())
    }
}

/// [`Api`] with a second bucket bound.
pub struct ApiWithThumbs;

impl Service for ApiWithThumbs {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind(&PHOTOS).await?;
        ctx.bind(&THUMBS).await?;
        ctx.bind(&ROOMS).await?;
        Ok(hello())
    }
}

/// Binds the photos bucket only.
pub struct Plain;

impl Service for Plain {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind(&PHOTOS).await?;
        Ok(hello())
    }
}

/// The app most tests deploy: `api` binding `photos` and `rooms`.
pub fn app() -> App {
    alchemy::app(APP).service::<Api>("api").actors(&ROOMS)
}

/// Writes a Worker bundle (a JS entry and a wasm module) into `dir` with `code` in the wasm.
pub fn write_bundle(dir: &Path, code: &[u8]) -> WorkerBundle {
    std::fs::write(
        dir.join("shim.mjs"),
        "import wasm from './index_bg.wasm';\nexport class Rooms {}\nexport default { fetch() { return new Response('hello'); } };\n",
    )
    .unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend_from_slice(code);
    std::fs::write(dir.join("index_bg.wasm"), wasm).unwrap();
    WorkerBundle {
        dir: dir.to_path_buf(),
        main_module: "shim.mjs".into(),
        modules: vec!["index_bg.wasm".into()],
    }
}

/// A server, a bundle directory and a state backend: one deploy target.
pub struct Target {
    pub server: ApiServer,
    pub dir: tempfile::TempDir,
    pub backend: MemoryBackend,
    pub bundle: WorkerBundle,
}

impl Target {
    pub async fn new() -> Self {
        let server = ApiServer::start().await.expect("start the API server");
        let dir = tempfile::tempdir().unwrap();
        let bundle = write_bundle(dir.path(), b"v1");
        Target {
            server,
            dir,
            backend: MemoryBackend::new(),
            bundle,
        }
    }

    pub fn options(&self) -> CloudflarePlatformOptions {
        CloudflarePlatformOptions::new(self.bundle.clone())
    }

    pub fn platform(&self, options: CloudflarePlatformOptions) -> CloudflarePlatform {
        CloudflarePlatform::new(self.server.client(), options)
    }

    /// Plans `app` on the platform with `options` against the recorded state and applies it.
    pub async fn deploy_with(
        &self,
        app: &App,
        platform: &CloudflarePlatform,
        destroy: bool,
    ) -> (Plan, Report) {
        self.deploy_sealed(app, platform, destroy, None).await
    }

    /// [`Target::deploy_with`], sealing secrets in state with `key` as the CLI does.
    pub async fn deploy_sealed(
        &self,
        app: &App,
        platform: &CloudflarePlatform,
        destroy: bool,
        key: Option<[u8; 32]>,
    ) -> (Plan, Report) {
        let stack = app.stack(STAGE, platform).await.expect("the stack");
        let providers = platform.providers();
        let mut state = self
            .backend
            .load()
            .await
            .expect("load state")
            .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
        let keyring = key.map(|key| {
            let (cipher, header) = Cipher::from_key(key, state.secrets.as_ref()).unwrap();
            for rec in state.resources.values_mut() {
                rec.props = cipher.open(&rec.props).unwrap();
                rec.output = rec.output.as_ref().map(|o| cipher.open(o).unwrap());
            }
            Keyring { cipher, header }
        });
        let options = PlanOptions {
            destroy,
            ..PlanOptions::default()
        };
        let plan = plan(&stack, &state, &providers, &options)
            .await
            .expect("plan");
        let lease = self
            .backend
            .lock(&LeaseOwner::current(), Duration::from_secs(60))
            .await
            .expect("lock");
        let engine = Engine::new(
            &providers,
            &self.backend,
            lease.clone(),
            Duration::from_secs(60),
        )
        .keyring(keyring.as_ref());
        let report = engine
            .apply(&stack, &plan, &mut state)
            .await
            .expect("apply");
        self.backend.unlock(&lease).await.expect("unlock");
        (plan, report)
    }

    /// Deploys `app` with the default options.
    pub async fn deploy(&self, app: &App) -> (Plan, Report) {
        self.deploy_with(app, &self.platform(self.options()), false)
            .await
    }

    /// The requests made since the `mark`-th one.
    pub fn since(&self, mark: usize) -> Vec<Recorded> {
        self.server.requests()[mark..].to_vec()
    }

    /// The writes made since the `mark`-th request.
    pub fn writes_since(&self, mark: usize) -> Vec<Recorded> {
        self.since(mark)
            .into_iter()
            .filter(Recorded::writes)
            .collect()
    }

    /// The recorded output of `id`.
    pub async fn output(&self, id: &str) -> serde_json::Value {
        let state = self.backend.load().await.unwrap().unwrap();
        state.resources[id].output.clone().expect("an output")
    }

    pub fn assert_no_violations(&self) {
        let violations = self.server.violations();
        assert!(
            violations.is_empty(),
            "requests outside the documents: {violations:#?}"
        );
    }
}

pub fn actions(plan: &Plan) -> Vec<(String, Action)> {
    let mut a: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.id.clone(), c.action))
        .collect();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    a
}

pub fn changed(plan: &Plan) -> Vec<(String, Action)> {
    actions(plan)
        .into_iter()
        .filter(|(_, a)| *a != Action::Noop)
        .collect()
}

pub fn failures(report: &Report) -> Vec<String> {
    report
        .failures()
        .map(|f| match &f.outcome {
            Outcome::Failed { error } => format!("{}: {error}", f.id),
            other => format!("{}: {other:?}", f.id),
        })
        .collect()
}

pub fn assert_ok(report: &Report) {
    let failed = failures(report);
    assert!(failed.is_empty(), "failed steps: {failed:#?}");
}
