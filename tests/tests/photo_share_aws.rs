//! photo-share on AWS, in MiniStack: stages chosen by `alchemy.toml`, deployed by the app's
//! own command line, and served inside Lambda by the same program.
//!
//! photo-share itself, actors included, is deployed (a bucket, a DynamoDB table per actor
//! namespace, a role, a function and its URL), served (photos and many concurrent view counts
//! through the function URL), deployed again without change and destroyed. Its photo API
//! alone, `photo-archive` (`alchemy_tests::archive`, the same `Photos` over the same bucket),
//! is deployed, changed in code only and destroyed. Everything is checked through the AWS
//! SDK, not the project's state.

mod common;

use std::path::{Path, PathBuf};

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::primitives::Blob;
use base64::Engine as _;
use common::aws::{ok, outputs, run, through_url, url_prefix};
use common::photos;
use common::text;
use serde_json::{json, Value};

/// The configuration photo-share ships: stage `aws` on AWS.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share/alchemy.toml")
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

const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");

/// Concurrent clients counting views of one photo, and the views each of them counts.
const CLIENTS: u64 = 16;
const VIEWS_PER_CLIENT: u64 = 50;

/// The decoded inline policy of `role`, which must be its only one.
async fn inline_policy(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let policies = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names().len(), 1, "{policies:?}");
    let policy = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(&policies.policy_names()[0])
        .send()
        .await
        .unwrap();
    alchemy_aws::control::decode_policy_document(policy.policy_document()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_share_deploys_with_its_actors_and_counts_every_view_on_aws() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::copy(example_config(), dir.join("alchemy.toml")).unwrap();
    let sdk = emulator.sdk_config();
    let s3 = emulator.s3_client();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);

    // Deploy: the bucket, a table per actor namespace, the role, the function and its URL.
    ok(
        PHOTO_SHARE,
        dir,
        &emulator,
        &["deploy", "--yes", "--stage", "aws"],
    );
    let out = outputs(PHOTO_SHARE, dir, &emulator);
    let bucket = out["photos"]["name"].as_str().unwrap().to_string();
    let role = out["api-role"]["name"].as_str().unwrap().to_string();
    let function = out["api"]["name"].as_str().unwrap().to_string();
    let url = out["api-url"]["url"].as_str().unwrap().to_string();
    let mut tables = Vec::new();
    for namespace in ["rooms", "counters"] {
        let name = out[namespace]["name"].as_str().unwrap().to_string();
        let arn = out[namespace]["arn"].as_str().unwrap().to_string();
        let described = dynamodb
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the table of `{namespace}` exists: {e:?}"));
        let table = described.table().unwrap();
        assert_eq!(table.table_arn(), Some(arn.as_str()));
        let keys: Vec<(&str, &str)> = table
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type().as_str()))
            .collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        tables.push((namespace, name, arn));
    }
    s3.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket exists");

    // The role may do exactly what the bindings need: the bucket's S3 actions and the actor
    // runtime's item actions on each table, nothing on anything else.
    let mut expected = alchemy_aws::control::bucket_permissions(
        &json!(format!("arn:aws:s3:::{bucket}")),
        alchemy::bind::Access::ReadWrite,
    );
    for (_, _, arn) in &tables {
        expected.extend(alchemy_aws::actor::actor_permissions(&json!(arn)));
    }
    assert_eq!(
        inline_policy(&iam, &role).await,
        alchemy_aws::control::policy_document(&expected)
    );
    let config = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .expect("the function exists");
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["ALCHEMY_SERVICE"], "api");
    assert_eq!(env["ALCHEMY_BUCKET_PHOTOS"], bucket);
    assert_eq!(env["ALCHEMY_ACTORS_ROOMS"], tables[0].1);
    assert_eq!(env["ALCHEMY_ACTORS_COUNTERS"], tables[1].1);
    let url_config = lambda
        .get_function_url_config()
        .function_name(&function)
        .send()
        .await
        .expect("the URL exists");
    assert_eq!(url_config.function_url(), url);

    // A photo up and back down through the function URL.
    let client = Client::new(emulator.endpoint()).unwrap();
    let photo: Vec<u8> = (0..40_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let (status, body) = through_url(
        &client,
        &url,
        http::Method::PUT,
        "/photos/cat.jpg",
        photo.clone(),
    )
    .await;
    assert!(
        (200..300).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = through_url(
        &client,
        &url,
        http::Method::GET,
        "/photos/cat.jpg",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, photo);

    // The checks photo-share passes under `dev` and in workerd, through the function URL (the
    // photo 1 MiB: Lambda answers buffered function URL calls of 6 MB at most).
    let site = Client::new(&format!("{}{}", emulator.endpoint(), url_prefix(&url))).unwrap();
    photos::upload_and_download(&site, "big.bin", 1 << 20).await;
    photos::ranges_list_delete_and_bad_names(&site, "set-").await;
    photos::concurrent_views(&site, "dog.jpg", 8, 5).await;

    // Many clients at once count views of one photo: one actor, every view counted once.
    let counting: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                for _ in 0..VIEWS_PER_CLIENT {
                    let (status, body) = through_url(
                        &client,
                        &url,
                        http::Method::POST,
                        "/photos/cat.jpg/views",
                        Vec::new(),
                    )
                    .await;
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                }
            })
        })
        .collect();
    for task in counting {
        task.await.expect("a client counted its views");
    }
    let (status, body) = through_url(
        &client,
        &url,
        http::Method::GET,
        "/photos/cat.jpg/views",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let views: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(views, json!({ "views": CLIENTS * VIEWS_PER_CLIENT }));

    // Chat rooms need alarms and WebSockets, which actors on AWS do not have: a clear error.
    let (status, body) = through_url(
        &client,
        &url,
        http::Method::POST,
        "/rooms/lobby/announce?in_ms=10",
        b"hello".to_vec(),
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("aws actors do not support"), "{body}");

    // The same build again: nothing to do, and deploying changes nothing.
    let out = run(
        PHOTO_SHARE,
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
    ok(
        PHOTO_SHARE,
        dir,
        &emulator,
        &["deploy", "--yes", "--stage", "aws"],
    );
    let again = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.revision_id(),
        config.revision_id(),
        "the function is untouched"
    );

    // Destroy: the photos go through the API, then everything else.
    for photo in ["cat.jpg", "big.bin", "set-b.jpg"] {
        let (status, _) = through_url(
            &client,
            &url,
            http::Method::DELETE,
            &format!("/photos/{photo}"),
            Vec::new(),
        )
        .await;
        assert!((200..300).contains(&status), "{photo}: {status}");
    }
    ok(
        PHOTO_SHARE,
        dir,
        &emulator,
        &["destroy", "--yes", "--stage", "aws"],
    );
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "bucket gone"
    );
    for (namespace, name, _) in &tables {
        assert!(
            dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .is_err(),
            "the table of `{namespace}` is gone"
        );
    }
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
    assert!(
        lambda
            .get_function_url_config()
            .function_name(&function)
            .send()
            .await
            .is_err(),
        "URL gone"
    );
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
