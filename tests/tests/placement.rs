//! Placement: one stage across providers.
//!
//! photo-share's `api` runs locally under `dev --stage hybrid` while its `photos` bucket is
//! placed on AWS (S3 in MiniStack, created by the AWS provider): a photo stored through the
//! local service is read back directly from S3 through the SDK, and `destroy` removes the
//! bucket. Then every mistake of a placement, and every capability an actor namespace uses
//! that its provider lacks, is refused at plan time with an exact message.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Capability};
use alchemy::bind::{Declaration, Request};
use alchemy::cloud::{Cloud, StageConfig};
use alchemy::config::Config;
use alchemy::http::client::Client;
use alchemy::local::LocalPlatform;
use alchemy::platform::Platform;
use alchemy::provider::Providers;
use alchemy::stack::{Binding, Contribution, Stack};
use alchemy::{Init, Service};
use alchemy_aws::testing::Emulator;
use common::dev::Dev;
use common::{text, Sandbox};
use serde_json::Value;

const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");
const CRASH_APP: &str = env!("CARGO_BIN_EXE_crash-app");

/// Runs `exe args` in `dir` with `env` and no stage settings from the environment.
fn run(exe: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(exe);
    command
        .current_dir(dir)
        .env("CLOUD_DIR", dir.join("cloud"))
        .env("VERSION", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("ALCHEMY_CONFIG")
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_STATE_DIR")
        .args(args)
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the app runs")
}

fn ok(exe: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = run(exe, dir, env, args);
    assert!(
        out.status.success(),
        "{args:?} failed with {}:\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Test credentials for the emulator; its endpoint comes from the stage's settings.
const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", alchemy_aws::testing::REGION),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_service_stores_its_photos_in_a_bucket_placed_on_aws() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    std::fs::write(
        dir.join("alchemy.toml"),
        format!(
            "[stages.hybrid]\nprovider = \"local\"\n\n[stages.hybrid.place]\nphotos = \"aws\"\n\n[stages.hybrid.providers.aws]\nendpoint_url = \"{}\"\n",
            emulator.endpoint()
        ),
    )
    .unwrap();

    // One plan across both providers: the bucket on AWS, the rest local.
    let plan: Value = serde_json::from_str(&ok(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["plan", "--stage", "hybrid", "--json"],
    ))
    .unwrap();
    let mut placed: Vec<(String, String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["provider"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    placed.sort();
    let expected: Vec<(String, String, String)> = [
        ("api", "local.service", "local"),
        ("counters", "local.actors", "local"),
        ("photos", "aws.s3.bucket", "aws"),
        ("rooms", "local.actors", "local"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(placed, expected);
    let human = ok(PHOTO_SHARE, dir, &AWS_ENV, &["plan", "--stage", "hybrid"]);
    assert!(
        human.contains("+ photos (aws.s3.bucket, aws)"),
        "the plan shows the bucket's provider:\n{human}"
    );
    assert!(
        human.contains("+ api (local.service, local)"),
        "the plan shows the service's provider:\n{human}"
    );

    // `dev` deploys the stage (the S3 bucket through the AWS provider) and serves the API
    // locally, its photos client reaching S3.
    let dev = Dev::start_program(PHOTO_SHARE, dir, &["--stage", "hybrid"], &AWS_ENV);
    let client = Client::new(&dev.url).unwrap();
    let photo = b"\x89PNG a photo stored across providers".to_vec();
    let res = client
        .send(
            http::Request::put("/photos/beach.png")
                .body(ByteStream::from(photo.clone()))
                .unwrap(),
        )
        .await
        .expect("the local service answers");
    let status = res.status();
    let body = res.into_body().collect(1 << 20).await.unwrap();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let res = client
        .send(
            http::Request::get("/photos/beach.png")
                .body(ByteStream::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.into_body().collect(1 << 20).await.unwrap().to_vec(),
        photo
    );
    dev.stop();

    // The object is in S3, read directly through the SDK.
    let outputs: Value = serde_json::from_str(&ok(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["outputs", "--stage", "hybrid", "--json"],
    ))
    .unwrap();
    let bucket = outputs["photos"]["name"].as_str().unwrap().to_string();
    let s3 = emulator.s3_client();
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("photos/beach.png")
        .send()
        .await
        .expect("the photo is in the S3 bucket");
    let stored = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(stored.as_ref(), photo.as_slice());

    // One destroy removes both providers' resources; S3 keeps a bucket that still holds
    // objects, so the photo goes first.
    s3.delete_object()
        .bucket(&bucket)
        .key("photos/beach.png")
        .send()
        .await
        .unwrap();
    ok(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["destroy", "--yes", "--stage", "hybrid"],
    );
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "the bucket {bucket} is gone"
    );

    // A local service reaches buckets on other providers, not actors: `dev` says so, and how
    // to place them, rather than serving local actors in their stead.
    std::fs::write(
        dir.join("alchemy.toml"),
        format!(
            "[stages.split]\nprovider = \"local\"\n\n[stages.split.place]\ncounters = \"aws\"\n\n[stages.split.providers.aws]\nendpoint_url = \"{}\"\n",
            emulator.endpoint()
        ),
    )
    .unwrap();
    let out = run(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["dev", "--port", "0", "--stage", "split"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "error: service `api` runs locally and binds `counters` (actors) on provider `aws`, which a local service can reach only for buckets: place `counters` on `local` for stage `split`, or place the service on `aws` too"
    );
    ok(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["destroy", "--yes", "--stage", "split"],
    );
}

#[test]
fn the_shipped_hybrid_stage_plans_the_photos_on_aws_and_the_rest_locally() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share/alchemy.toml");
    std::fs::copy(shipped, dir.join("alchemy.toml")).unwrap();
    let plan: Value = serde_json::from_str(&ok(
        PHOTO_SHARE,
        dir,
        &AWS_ENV,
        &["plan", "--stage", "hybrid", "--json"],
    ))
    .unwrap();
    let providers: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["provider"].as_str().unwrap()))
        .collect();
    for (id, provider) in &providers {
        assert_eq!(
            *provider,
            if *id == "photos" { "aws" } else { "local" },
            "{id}"
        );
    }
    assert_eq!(providers.len(), 4, "{providers:?}");
}

/// Writes `config` as `alchemy.toml` in a fresh sandbox, runs `exe args` there and expects
/// exit code 1 with `error: {message}` as the whole of stderr, and no state written.
fn refused_with(exe: &str, config: &str, args: &[&str], message: &str) {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    std::fs::write(dir.join("alchemy.toml"), config).unwrap();
    let out = run(exe, dir, &AWS_ENV, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr).trim_end(), format!("error: {message}"));
    assert!(!dir.join(".alchemy").exists(), "{args:?} wrote state");
}

#[test]
fn a_placement_on_an_unregistered_provider_names_the_registered_ones_and_the_fix() {
    refused_with(
        PHOTO_SHARE,
        "[stages.hybrid]\nprovider = \"local\"\n[stages.hybrid.place]\nphotos = \"azure\"\n",
        &["plan", "--stage", "hybrid"],
        "stage `hybrid` in alchemy.toml places `photos` on provider `azure`, which this app does not register (registered: local, aws, cloudflare): register a cloud named `azure` with `.cloud(...)`, or use one of the registered providers",
    );
    refused_with(
        CRASH_APP,
        "[stages.hybrid]\nprovider = \"local\"\n[stages.hybrid.place]\nthing = \"cloudflare\"\n",
        &["deploy", "--yes", "--stage", "hybrid"],
        "stage `hybrid` in alchemy.toml places `thing` on provider `cloudflare`, which this app does not register (registered: local): add `.cloud(alchemy_cloudflare::Cloudflare)` to the app",
    );
}

#[test]
fn a_placement_of_something_the_app_does_not_have_names_what_it_has() {
    refused_with(
        PHOTO_SHARE,
        "[stages.hybrid]\nprovider = \"local\"\n[stages.hybrid.place]\nfotos = \"aws\"\n",
        &["plan", "--stage", "hybrid"],
        "stage `hybrid` in alchemy.toml places `fotos` on `aws`, but the app has no resource or kind `fotos` (its resources: api, counters, photos, rooms; its kinds: actors, bucket, service): under `[stages.hybrid.place]`, name one of them",
    );
}

#[test]
fn dev_refuses_a_stage_that_places_its_service_elsewhere() {
    refused_with(
        PHOTO_SHARE,
        "[stages.hybrid]\nprovider = \"local\"\n[stages.hybrid.place]\nservice = \"aws\"\n",
        &["dev", "--stage", "hybrid"],
        "dev serves the app's services on the local provider, and stage `hybrid` places `api` on `aws`: remove that placement to serve it locally, or deploy the stage with `deploy --stage hybrid`",
    );
}

#[test]
fn a_kind_the_provider_cannot_host_is_refused_at_plan_time() {
    refused_with(
        CRASH_APP,
        "[stages.qa]\nprovider = \"local\"\n",
        &["deploy", "--yes", "--stage", "qa"],
        "stage `qa` in alchemy.toml puts `t0` (kind thing) on `local`, which cannot host that kind: register a cloud that hosts `thing` and place `t0` on it under `[stages.qa.place]`",
    );
}

/// A cloud whose platform hosts buckets (locally) and nothing else.
struct BucketsOnly;

struct BucketsOnlyPlatform(LocalPlatform);

impl Platform for BucketsOnlyPlatform {
    fn name(&self) -> &str {
        "buckets-only"
    }

    fn providers(&self) -> Providers {
        self.0.providers()
    }

    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> alchemy::Result<()> {
        self.0.declare(stack, declaration)
    }

    fn bind(
        &self,
        stack: &Stack,
        service: &str,
        request: &Request,
    ) -> alchemy::Result<Contribution> {
        self.0.bind(stack, service, request)
    }

    fn service(
        &self,
        stack: &mut Stack,
        service: &str,
        bindings: &[Binding],
    ) -> alchemy::Result<()> {
        self.0.service(stack, service, bindings)
    }

    fn hosts(&self, kind: &str) -> bool {
        kind == "bucket"
    }
}

impl Cloud for BucketsOnly {
    fn name(&self) -> &str {
        "buckets-only"
    }

    fn platform(&self, stage: &StageConfig) -> alchemy::Result<Arc<dyn Platform>> {
        Ok(Arc::new(BucketsOnlyPlatform(LocalPlatform::new(
            stage.state_dir.join("buckets-only"),
        ))))
    }

    fn host(&self, _: &alchemy::App) -> Option<std::process::ExitCode> {
        None
    }
}

/// A chat room that uses WebSockets and alarms.
struct Room;

impl Actor for Room {
    async fn init(_: ActorContext) -> alchemy::actor::Result<Self> {
        Ok(Room)
    }

    async fn fetch(
        &self,
        _: http::Request<ByteStream>,
    ) -> alchemy::actor::Result<http::Response<ByteStream>> {
        Ok(http::Response::new(ByteStream::empty()))
    }
}

static ROOMS: Actors<Room> =
    Actors::new("rooms").uses(&[Capability::WebSockets, Capability::Alarms]);

struct Chat;

impl Service for Chat {
    type Handler = alchemy::http::BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<alchemy::http::BoxHandler> {
        ctx.bind(&ROOMS).await?;
        Ok(alchemy::http::BoxHandler::new(alchemy::http::handler_fn(
            |_: http::Request<ByteStream>| async { http::Response::new(ByteStream::empty()) },
        )))
    }
}

/// The chat app's stack on `stage` under `config`, with a small prebuilt bootstrap for AWS.
async fn chat_stack(dir: &Path, config: &str, stage: &str) -> alchemy::Result<Stack> {
    // Any 64-bit Linux executable will do: the stack is planned, never deployed.
    let bootstrap = dir.join("bootstrap");
    std::fs::copy("/bin/true", &bootstrap).unwrap();
    let config = config.replace("BOOTSTRAP", &bootstrap.display().to_string());
    let config = Config::parse(&config, Path::new("alchemy.toml"))?;
    let app = alchemy::app("chat")
        .state_dir(dir.join(".alchemy"))
        .service::<Chat>("api")
        .actors(&ROOMS)
        .cloud(alchemy_aws::Aws)
        .cloud(BucketsOnly);
    let platform = app.platform_in(&config, stage)?;
    app.stack(stage, platform.as_ref()).await
}

#[tokio::test]
async fn a_kind_placed_on_a_provider_that_cannot_host_it_names_one_that_can() {
    let dir = tempfile::tempdir().unwrap();
    let error = chat_stack(
        dir.path(),
        "[stages.h]\nprovider = \"local\"\n[stages.h.place]\nactors = \"buckets-only\"\n",
        "h",
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "stage `h` in alchemy.toml puts `rooms` (kind actors) on `buckets-only`, which cannot host that kind: place it on a provider that can, with `rooms = \"local\"` under `[stages.h.place]`"
    );
}

#[tokio::test]
async fn a_capability_the_provider_lacks_names_namespace_capability_provider_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let aws =
        "[stages.aws]\nprovider = \"aws\"\n[stages.aws.settings]\nbootstrap = \"BOOTSTRAP\"\n";
    let error = chat_stack(dir.path(), aws, "aws").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "actor namespace `rooms` uses alarms and websockets, which actors on `aws` do not support (stage `aws` in alchemy.toml): place it on a provider that has them, with `rooms = \"local\"` under `[stages.aws.place]`, or accept that they fail there with `allow_unsupported = [\"rooms\"]` under `[stages.aws]`"
    );

    // The first fix: the namespace placed where its actors have both.
    let placed = aws.replace(
        "[stages.aws.settings]",
        "[stages.aws.place]\nrooms = \"local\"\n[stages.aws.settings]",
    );
    let stack = chat_stack(dir.path(), &placed, "aws").await.unwrap();
    assert_eq!(stack.get("rooms").unwrap().kind, "local.actors");
    assert_eq!(stack.get("api").unwrap().kind, "aws.lambda.function");
    let binding = &stack.bindings()[0];
    assert_eq!(binding.contribution.metadata["provider"], "local");

    // The second: accepted, and the namespace stays on AWS.
    let allowed = aws.replace(
        "provider = \"aws\"\n",
        "provider = \"aws\"\nallow_unsupported = [\"rooms\"]\n",
    );
    let stack = chat_stack(dir.path(), &allowed, "aws").await.unwrap();
    assert_eq!(stack.get("rooms").unwrap().kind, "aws.dynamodb.table");
    assert!(stack.bindings()[0]
        .contribution
        .metadata
        .get("provider")
        .is_none());

    // A provider that has them takes the namespace as it is.
    let local = chat_stack(dir.path(), "[stages.qa]\nprovider = \"local\"\n", "qa")
        .await
        .unwrap();
    assert_eq!(local.get("rooms").unwrap().kind, "local.actors");
}
