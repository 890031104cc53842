//! A Cloudflare stage on this machine: the test Worker (`tests/worker-app`) is deployed through
//! the `CloudflarePlatform`, the planner and the engine (the code path of `deploy --stage`)
//! against a `LocalCloudflare`, which checks every API request and runs each uploaded script in
//! workerd. The Worker is then driven over real sockets.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use alchemy::apply::{Engine, Outcome};
use alchemy::http::{handler_fn, BoxHandler};
use alchemy::plan::{plan, Action, Plan, PlanOptions};
use alchemy::platform::Platform;
use alchemy::state::{LeaseOwner, MemoryBackend, Snapshot, StateBackend};
use alchemy::{App, Init, Service};
use alchemy_cloudflare::build::{build_worker, BuildOptions};
use alchemy_cloudflare::control::{
    script_name, CloudflarePlatform, CloudflarePlatformOptions, WorkerBundle, WorkerOutput,
};
use alchemy_cloudflare::testing::LocalCloudflare;
use alchemy_http::client::Client;
use alchemy_stream::ByteStream;
use http::{Method, Request, StatusCode};

#[path = "test_app/app.rs"]
mod test_app;

use test_app::{app, APP};

const STAGE: &str = "test";

/// The test Worker, built once per test run into a directory of these tests.
fn built() -> WorkerBundle {
    static BUNDLE: Mutex<Option<WorkerBundle>> = Mutex::new(None);
    let mut slot = BUNDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bundle) = slot.as_ref() {
        return bundle.clone();
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/worker-app");
    let out_dir = alchemy_cloudflare::build::target_dir().join("wasm/local-target-tests");
    let options = BuildOptions {
        out_dir: Some(out_dir),
        ..BuildOptions::default()
    };
    let bundle = build_worker(&crate_dir, &options)
        .unwrap_or_else(|error| panic!("building the test Worker failed: {error}"));
    let bundle = WorkerBundle::from_build(&bundle).expect("the bundle's files");
    *slot = Some(bundle.clone());
    bundle
}

/// A copy of `bundle` in `dir` whose entry module has other bytes: new code, same behaviour.
fn changed_copy(bundle: &WorkerBundle, dir: &Path) -> WorkerBundle {
    std::fs::create_dir_all(dir).unwrap();
    for name in std::iter::once(&bundle.main_module).chain(&bundle.modules) {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        std::fs::copy(bundle.dir.join(name), dir.join(name)).unwrap();
    }
    let main = dir.join(&bundle.main_module);
    let mut code = std::fs::read_to_string(&main).unwrap();
    code.push_str("\n// the second version\n");
    std::fs::write(&main, code).unwrap();
    WorkerBundle {
        dir: dir.to_path_buf(),
        ..bundle.clone()
    }
}

fn options(bundle: WorkerBundle) -> CloudflarePlatformOptions {
    let mut options = CloudflarePlatformOptions::new(bundle);
    options
        .actor_classes
        .insert("suite".into(), "SuiteObject".into());
    options
        .actor_classes
        .insert("rooms".into(), "RoomObject".into());
    options
}

/// Plans `app` against the recorded state and applies it, as `deploy` (or `destroy`) does:
/// the plan, and the steps that failed.
async fn apply(
    app: &App,
    backend: &MemoryBackend,
    platform: &CloudflarePlatform,
    destroy: bool,
) -> (Plan, Vec<String>) {
    let stack = app.stack(STAGE, platform).await.expect("the stack");
    let providers = platform.providers();
    let mut state = backend
        .load()
        .await
        .expect("load state")
        .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
    let options = PlanOptions {
        destroy,
        ..PlanOptions::default()
    };
    let plan = plan(&stack, &state, &providers, &options)
        .await
        .expect("plan");
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await
        .expect("lock");
    let engine = Engine::new(&providers, backend, lease.clone(), Duration::from_secs(60));
    let report = engine
        .apply(&stack, &plan, &mut state)
        .await
        .expect("apply");
    backend.unlock(&lease).await.expect("unlock");
    let failed = report
        .failures()
        .map(|f| match &f.outcome {
            Outcome::Failed { error } => format!("{}: {error}", f.id),
            other => format!("{}: {other:?}", f.id),
        })
        .collect();
    (plan, failed)
}

/// [`apply`] of the test Worker's app, which must succeed.
async fn deploy(backend: &MemoryBackend, platform: &CloudflarePlatform, destroy: bool) -> Plan {
    let (plan, failed) = apply(&app(), backend, platform, destroy).await;
    assert!(failed.is_empty(), "failed steps: {failed:#?}");
    plan
}

fn changes(plan: &Plan) -> Vec<(String, Action)> {
    let mut changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .map(|c| (c.id.clone(), c.action))
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    changes
}

async fn call(base: &str, method: Method, path: &str, body: &str) -> (StatusCode, String) {
    let client = Client::new(base).expect("client");
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .body(ByteStream::from(body.to_owned()))
        .expect("request");
    let response = client
        .send(req)
        .await
        .unwrap_or_else(|error| panic!("{method} {base}{path}: {error}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect(1 << 20)
        .await
        .unwrap_or_else(|error| panic!("{method} {path}: reading the body: {error}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `method path` answered 200, and its body.
async fn ok(cloudflare: &LocalCloudflare, script: &str, method: Method, path: &str) -> String {
    ok_with(cloudflare, script, method, path, "").await
}

async fn ok_with(
    cloudflare: &LocalCloudflare,
    script: &str,
    method: Method,
    path: &str,
    body: &str,
) -> String {
    let base = cloudflare
        .url(script)
        .unwrap_or_else(|| panic!("{script} does not run"));
    let (status, text) = call(&base, method.clone(), path, body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{method} {path} answered {text}\nworkerd said:\n{}",
        cloudflare.output(script).unwrap_or_default()
    );
    text
}

async fn worker_output(backend: &MemoryBackend) -> WorkerOutput {
    let state = backend.load().await.unwrap().unwrap();
    serde_json::from_value(state.resources["test-app"].output.clone().unwrap()).unwrap()
}

fn assert_no_violations(cloudflare: &LocalCloudflare) {
    let violations = cloudflare.api().violations();
    assert!(
        violations.is_empty(),
        "requests outside the documents: {violations:#?}"
    );
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = dir.path().join("cloudflare");
    (dir, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_worker_answers_and_keeps_its_storage_across_redeploys() {
    let (dir, target) = scratch();
    let cloudflare = LocalCloudflare::start(&target).await.expect("the target");
    let backend = MemoryBackend::new();
    let bundle = built();
    let platform = CloudflarePlatform::new(cloudflare.client(), options(bundle.clone()));
    let script = script_name(&format!("{APP}-{STAGE}-test-app"));

    // The first deploy: the bucket, the classes and the script; workerd runs it.
    let plan = deploy(&backend, &platform, false).await;
    assert_eq!(
        changes(&plan),
        [
            ("conformance".to_string(), Action::Create),
            ("rooms".to_string(), Action::Create),
            ("suite".to_string(), Action::Create),
            ("test-app".to_string(), Action::Create),
        ]
    );
    assert_eq!(cloudflare.starts(&script), 1);
    let workers_dev = worker_output(&backend)
        .await
        .url
        .expect("a workers.dev URL");
    assert_eq!(
        workers_dev,
        format!("https://{script}.alchemy-test.workers.dev")
    );
    let local = cloudflare
        .resolve(&format!("{workers_dev}/hello"))
        .expect("the workers.dev URL resolves to the local Worker");
    assert_eq!(local, format!("{}/hello", cloudflare.url(&script).unwrap()));
    let (status, hello) = call(&local.replace("/hello", ""), Method::GET, "/hello", "").await;
    assert_eq!((status, hello.as_str()), (StatusCode::OK, "hello"));

    assert_eq!(
        ok(&cloudflare, &script, Method::POST, "/counter/visits").await,
        "1"
    );
    assert_eq!(
        ok(&cloudflare, &script, Method::POST, "/counter/visits").await,
        "2"
    );
    ok_with(
        &cloudflare,
        &script,
        Method::PUT,
        "/objects/greeting",
        "hi there",
    )
    .await;
    assert_eq!(
        ok(&cloudflare, &script, Method::GET, "/objects/greeting").await,
        "hi there"
    );
    let port = cloudflare.url(&script).unwrap();

    // The same app again: nothing is uploaded, workerd keeps running.
    let plan = deploy(&backend, &platform, false).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));
    assert_eq!(cloudflare.starts(&script), 1);

    // New code: the script is uploaded again and workerd restarts on the same port, with the
    // Durable Object's storage and the bucket's objects intact.
    let platform = CloudflarePlatform::new(
        cloudflare.client(),
        options(changed_copy(&bundle, &dir.path().join("v2"))),
    );
    let plan = deploy(&backend, &platform, false).await;
    assert_eq!(changes(&plan), [("test-app".to_string(), Action::Update)]);
    assert_eq!(cloudflare.starts(&script), 2);
    assert_eq!(cloudflare.url(&script).unwrap(), port);
    assert_eq!(
        ok(&cloudflare, &script, Method::GET, "/counter/visits").await,
        "2"
    );
    assert_eq!(
        ok(&cloudflare, &script, Method::GET, "/objects/greeting").await,
        "hi there"
    );

    // A binding more: another restart, the counter goes on from where it was.
    let mut with_var = options(changed_copy(&bundle, &dir.path().join("v2")));
    with_var.vars.insert("GREETING".into(), "hello".into());
    let platform = CloudflarePlatform::new(cloudflare.client(), with_var);
    let plan = deploy(&backend, &platform, false).await;
    assert_eq!(changes(&plan), [("test-app".to_string(), Action::Update)]);
    assert_eq!(cloudflare.starts(&script), 3);
    assert_eq!(
        ok(&cloudflare, &script, Method::POST, "/counter/visits").await,
        "3"
    );

    // Destroy: the script is deleted and its workerd stopped.
    let plan = deploy(&backend, &platform, true).await;
    assert!(changes(&plan)
        .iter()
        .all(|(_, action)| *action == Action::Delete));
    assert!(cloudflare.api().cloud().scripts.is_empty());
    assert_eq!(cloudflare.url(&script), None);
    assert!(cloudflare.running().is_empty());
    assert!(
        std::net::TcpStream::connect(port.trim_start_matches("http://")).is_err(),
        "nothing answers on {port} after destroy"
    );
    assert_no_violations(&cloudflare);
}

/// The test Worker's app as a program (`tests/test_app/bin.rs`).
const TEST_APP: &str = env!("CARGO_BIN_EXE_alchemy-cloudflare-test-app");

/// A project directory with an `alchemy.toml` whose stage `edge` is on Cloudflare, built from
/// the test Worker's crate (`bundle_crate`) when it is planned.
fn project(dir: &Path, bundle_crate: &Path) -> PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let config = format!(
        "[stages.edge]\nprovider = \"cloudflare\"\n\n[stages.edge.settings]\n\
         bundle = {{ crate = {:?} }}\n\
         actor_classes = {{ suite = \"SuiteObject\", rooms = \"RoomObject\" }}\n",
        bundle_crate.display().to_string()
    );
    std::fs::write(project.join("alchemy.toml"), config).unwrap();
    project
}

/// Runs the app with `args` in `project`, pointed at `cloudflare`: its exit status, its
/// standard output and its standard error.
async fn run_app(
    cloudflare: &LocalCloudflare,
    project: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut command = std::process::Command::new(TEST_APP);
    command.args(args).current_dir(project);
    for (name, value) in cloudflare.env() {
        command.env(name, value);
    }
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the test app runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_stage_builds_the_crate_and_runs_it_with_no_account() {
    let (dir, target) = scratch();
    let cloudflare = LocalCloudflare::start(&target).await.expect("the target");
    let worker_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/worker-app");
    let project = project(dir.path(), &worker_crate);
    let script = script_name(&format!("{APP}-edge-test-app"));

    let deploy = ["deploy", "--stage", "edge", "--yes", "--json"];
    let (ok, stdout, stderr) = run_app(&cloudflare, &project, &deploy, &[]).await;
    assert!(ok, "deploy failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: the deploy printed {stdout}"));
    let url = report["outputs"]["test-app"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no workers.dev URL in {report}"));
    let local = cloudflare
        .resolve(url)
        .unwrap_or_else(|| panic!("{url} does not resolve to a running Worker"));
    assert_eq!(call(&local, Method::GET, "/hello", "").await.1, "hello");
    assert_eq!(cloudflare.starts(&script), 1);

    // Deploying again builds the crate again: the same bytes, so nothing changes.
    let (ok, stdout, stderr) = run_app(&cloudflare, &project, &deploy, &[]).await;
    assert!(ok, "the second deploy failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let changed: Vec<&serde_json::Value> = report["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["action"] != "noop")
        .collect();
    assert!(changed.is_empty(), "{changed:#?}");
    assert_eq!(cloudflare.starts(&script), 1);
    let uploads = cloudflare.api().cloud().scripts[&script].uploads;
    assert_eq!(uploads, 1);

    let destroy = ["destroy", "--stage", "edge", "--yes"];
    let (ok, stdout, stderr) = run_app(&cloudflare, &project, &destroy, &[]).await;
    assert!(ok, "destroy failed:\n{stdout}\n{stderr}");
    assert!(cloudflare.running().is_empty());
    assert!(cloudflare.api().cloud().scripts.is_empty());
    assert_no_violations(&cloudflare);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_crate_path_or_a_missing_toolchain_is_explained() {
    let (dir, target) = scratch();
    let cloudflare = LocalCloudflare::start(&target).await.expect("the target");
    let plan = ["plan", "--stage", "edge"];

    let nowhere = project(dir.path(), &dir.path().join("no-such-crate"));
    let (ok, _, stderr) = run_app(&cloudflare, &nowhere, &plan, &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("no-such-crate") && stderr.contains("no Cargo.toml"),
        "{stderr}"
    );

    let worker_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/worker-app");
    let project = project(dir.path(), &worker_crate);
    let no_tools = dir.path().join("no-tools");
    let no_tools = no_tools.to_str().unwrap();
    let (ok, _, stderr) = run_app(
        &cloudflare,
        &project,
        &plan,
        &[("ALCHEMY_TOOLS_DIR", no_tools)],
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("bash scripts/wasm-toolchain.sh") && stderr.contains("no-tools"),
        "{stderr}"
    );
    assert!(cloudflare.api().cloud().scripts.is_empty());
    assert_no_violations(&cloudflare);
}

/// A service that binds nothing.
struct Plain;

impl Service for Plain {
    type Handler = BoxHandler;

    async fn init(_ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        Ok(BoxHandler::new(handler_fn(
            |_: http::Request<ByteStream>| async { http::Response::new(ByteStream::empty()) },
        )))
    }
}

/// A JS-only Worker in `dir`: its one module is `code`.
fn js_bundle(dir: &Path, code: &str) -> WorkerBundle {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("worker.js"), code).unwrap();
    WorkerBundle {
        dir: dir.to_path_buf(),
        main_module: "worker.js".into(),
        modules: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_start_fails_its_deploy_and_the_last_one_keeps_answering() {
    let (dir, target) = scratch();
    let cloudflare = LocalCloudflare::start(&target).await.expect("the target");
    let plain = || alchemy::app("plain").service::<Plain>("api");
    let script = script_name("plain-test-api");
    let backend = MemoryBackend::new();
    let deploy = |bundle: WorkerBundle| {
        let platform =
            CloudflarePlatform::new(cloudflare.client(), CloudflarePlatformOptions::new(bundle));
        let backend = &backend;
        async move { apply(&plain(), backend, &platform, false).await.1 }
    };

    let v1 = js_bundle(
        &dir.path().join("v1"),
        "export default { fetch() { return new Response('v1'); } };\n",
    );
    assert_eq!(deploy(v1).await, Vec::<String>::new());
    assert_eq!(ok(&cloudflare, &script, Method::GET, "/").await, "v1");

    let broken = js_bundle(
        &dir.path().join("v2"),
        "throw new Error('the second version is broken');\nexport default {};\n",
    );
    let failures = deploy(broken).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("the second version is broken"),
        "{failures:?}"
    );
    assert_eq!(ok(&cloudflare, &script, Method::GET, "/").await, "v1");
    let cloud = cloudflare.api().cloud();
    assert_eq!(
        cloud.scripts[&script].uploads, 1,
        "the failed upload is undone"
    );
    assert_no_violations(&cloudflare);
}
