//! photo-share on AWS, in MiniStack: stages chosen by `alchemy.toml`, deployed by the app's
//! own command line, and served inside Lambda by the same program.
//!
//! photo-share itself hosts actors, which the AWS platform refuses at plan time (before
//! anything is made); its photo API without the actors, `photo-archive`
//! (`alchemy_tests::archive`, the same `Photos` over the same bucket), is deployed, served,
//! changed and destroyed. Everything is checked through the AWS SDK, not the project's state.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::primitives::Blob;
use base64::Engine as _;
use common::text;
use serde_json::{json, Value};

/// The configuration photo-share ships: stage `aws` on AWS.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share/alchemy.toml")
}

/// Runs `exe` in `dir` against the emulator, with test credentials and no stray settings.
fn run(exe: &str, dir: &Path, emulator: &Emulator, args: &[&str]) -> Output {
    Command::new(exe)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", emulator.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", alchemy_aws::testing::REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("ALCHEMY_CONFIG")
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_STATE_DIR")
        .env_remove("ALCHEMY_PASSPHRASE")
        .env_remove("ALCHEMY_SECRET_KEY")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the app runs")
}

fn ok(exe: &str, dir: &Path, emulator: &Emulator, args: &[&str]) -> String {
    let out = run(exe, dir, emulator, args);
    assert!(
        out.status.success(),
        "{args:?} failed with {}:\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

const V1: &str = env!("CARGO_BIN_EXE_photo-archive-app");
const V2: &str = env!("CARGO_BIN_EXE_photo-archive-app-v2");

/// An API Gateway v2 event for `method path` with a binary body.
fn event(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/octet-stream", "host": "api.example" },
        "requestContext": { "http": { "method": method, "path": path } },
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true,
    }))
    .unwrap()
}

/// Invokes `function` with an API Gateway v2 event; the response's status and body bytes.
async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(event(method, path, body)))
        .send()
        .await
        .expect("invoke");
    let payload = out.payload().expect("a payload").as_ref().to_vec();
    assert_eq!(
        out.function_error(),
        None,
        "the function failed: {}",
        String::from_utf8_lossy(&payload)
    );
    let response: Value = serde_json::from_slice(&payload).expect("an HTTP response");
    let body = response["body"].as_str().unwrap_or("");
    let body = if response["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    } else {
        body.as_bytes().to_vec()
    };
    (response["statusCode"].as_u64().unwrap() as u16, body)
}

fn outputs(exe: &str, dir: &Path, emulator: &Emulator) -> Value {
    serde_json::from_str(&ok(
        exe,
        dir,
        emulator,
        &["outputs", "--stage", "aws", "--json"],
    ))
    .expect("outputs are JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photo_share_is_refused_on_aws_at_plan_time_because_of_its_actors() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let dir = tempfile::tempdir().unwrap();
    let config = example_config();
    let out = run(
        env!("CARGO_BIN_EXE_photo-share-app"),
        dir.path(),
        &emulator,
        &[
            "deploy",
            "--yes",
            "--stage",
            "aws",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "actors are not supported on aws yet: `rooms` is an actor namespace; deploy this app to a stage on the local or Cloudflare platform"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join(".alchemy/aws/state.json").exists(),
        "nothing was recorded"
    );
    let buckets = emulator.s3_client().list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "nothing was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_photo_api_deploys_serves_updates_and_is_destroyed_on_aws() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The same file photo-share ships, found in the working directory.
    std::fs::copy(example_config(), dir.join("alchemy.toml")).unwrap();
    let sdk = emulator.sdk_config();
    let s3 = emulator.s3_client();
    let iam = aws_sdk_iam::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);

    // Deploy: bucket, role, function and URL.
    ok(V1, dir, &emulator, &["deploy", "--yes", "--stage", "aws"]);
    let out = outputs(V1, dir, &emulator);
    let bucket = out["photos"]["name"].as_str().unwrap().to_string();
    let role = out["api-role"]["name"].as_str().unwrap().to_string();
    let role_arn = out["api-role"]["arn"].as_str().unwrap().to_string();
    let function = out["api"]["name"].as_str().unwrap().to_string();
    let url = out["api-url"]["url"].as_str().unwrap().to_string();

    s3.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket exists");
    let got = iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("the role exists");
    assert_eq!(got.role().unwrap().arn(), role_arn);
    let policies = iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names().len(), 1, "{policies:?}");
    let policy = iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(&policies.policy_names()[0])
        .send()
        .await
        .unwrap();
    let document = alchemy_aws::control::decode_policy_document(policy.policy_document()).unwrap();
    let resources: Vec<&str> = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Resource"] {
            Value::Array(r) => r.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            r => r.as_str().into_iter().collect(),
        })
        .collect();
    assert!(!resources.is_empty());
    for resource in resources {
        assert!(
            resource.starts_with(&format!("arn:aws:s3:::{bucket}")),
            "only the bound bucket is granted: {resource}"
        );
    }
    let config = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .expect("the function exists");
    assert_eq!(config.role(), Some(role_arn.as_str()));
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(
        config.memory_size(),
        Some(256),
        "memory_mb from alchemy.toml"
    );
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["ALCHEMY_SERVICE"], "api");
    assert_eq!(env["ALCHEMY_BUCKET_PHOTOS"], bucket);
    let url_config = lambda
        .get_function_url_config()
        .function_name(&function)
        .send()
        .await
        .expect("the URL exists");
    assert_eq!(url_config.function_url(), url);

    // Serve: a photo up through an API Gateway v2 event, down through the function URL.
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let (status, body) = invoke(&lambda, &function, "PUT", "/photos/cat.jpg", &photo).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let stored = s3
        .get_object()
        .bucket(&bucket)
        .key("photos/cat.jpg")
        .send()
        .await
        .expect("the photo is in S3");
    assert_eq!(stored.body.collect().await.unwrap().into_bytes(), photo);

    let url_id = url
        .strip_prefix("https://")
        .and_then(|u| u.split('.').next())
        .expect("an AWS-shaped function URL");
    let client = Client::new(emulator.endpoint()).unwrap();
    let res = client
        .send(
            http::Request::get(format!("/_aws/lambda-url/{url_id}/photos/cat.jpg"))
                .body(ByteStream::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.into_body().collect(1 << 20).await.unwrap(), photo);
    let (status, body) = invoke(&lambda, &function, "GET", "/photos", b"").await;
    assert_eq!((status, body), (200, br#"["cat.jpg"]"#.to_vec()));
    let (_, version) = invoke(&lambda, &function, "GET", "/version", b"").await;
    assert_eq!(version, b"photo-archive v1");

    // The same build again: nothing to do.
    let out = run(
        V1,
        dir,
        &emulator,
        &["plan", "--stage", "aws", "--detailed-exitcode"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A changed build: only the function changes.
    let out = run(
        V2,
        dir,
        &emulator,
        &["plan", "--stage", "aws", "--json", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let changed: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "noop")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(changed, [("api".to_string(), "update".to_string())]);
    ok(V2, dir, &emulator, &["deploy", "--yes", "--stage", "aws"]);
    let (_, version) = invoke(&lambda, &function, "GET", "/version", b"").await;
    assert_eq!(version, b"photo-archive v2");
    let (status, body) = invoke(&lambda, &function, "GET", "/photos/cat.jpg", b"").await;
    assert_eq!(
        (status, body),
        (200, photo),
        "the photo outlives the update"
    );

    // Destroy: the photo goes through the API, then everything else.
    let (status, _) = invoke(&lambda, &function, "DELETE", "/photos/cat.jpg", b"").await;
    assert_eq!(status, 204);
    ok(V2, dir, &emulator, &["destroy", "--yes", "--stage", "aws"]);
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "bucket gone"
    );
    assert!(
        iam.get_role().role_name(&role).send().await.is_err(),
        "role gone"
    );
    assert!(
        lambda
            .get_function()
            .function_name(&function)
            .send()
            .await
            .is_err(),
        "function gone"
    );
}
