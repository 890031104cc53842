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
use aws_sdk_lambda::primitives::Blob;
use base64::Engine as _;
use common::aws::{environment, url_prefix, AwsApp};
use common::photos;
use common::text;
use http::Method;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_share_deploys_with_its_actors_and_counts_every_view_on_aws() {
    let app = AwsApp::start(PHOTO_SHARE, &example_config()).await;

    // Deploy: the bucket, a table per actor namespace, the role, the function and its URL.
    let out = app.deploy();
    let bucket = out.name("photos");
    let role = out.name("api-role");
    let function = out.name("api");
    let url = out.get("api-url", "url");
    let mut tables = Vec::new();
    for namespace in ["rooms", "counters"] {
        let name = out.name(namespace);
        let arn = out.get(namespace, "arn");
        let described = app
            .dynamodb
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
    assert!(app.bucket_exists(&bucket).await, "the bucket exists");

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
        app.inline_policy(&role).await,
        alchemy_aws::control::policy_document(&expected)
    );
    let config = app.function_config(&function).await;
    let env = environment(&config);
    assert_eq!(env["ALCHEMY_SERVICE"], "api");
    assert_eq!(env["ALCHEMY_BUCKET_PHOTOS"], bucket);
    assert_eq!(env["ALCHEMY_ACTORS_ROOMS"], tables[0].1);
    assert_eq!(env["ALCHEMY_ACTORS_COUNTERS"], tables[1].1);
    assert_eq!(app.function_url(&function).await, url);

    // A photo up and back down through the function URL.
    let api = app.reach(&url);
    let photo: Vec<u8> = (0..40_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let (status, body) = api
        .send(Method::PUT, "/photos/cat.jpg", photo.clone())
        .await;
    assert!(
        (200..300).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = api.send(Method::GET, "/photos/cat.jpg", Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(body, photo);

    // The checks photo-share passes under `dev` and in workerd, through the function URL (the
    // photo 1 MiB: Lambda answers buffered function URL calls of 6 MB at most).
    let site = Client::new(&format!("{}{}", app.emulator.endpoint(), url_prefix(&url))).unwrap();
    photos::upload_and_download(&site, "big.bin", 1 << 20).await;
    photos::ranges_list_delete_and_bad_names(&site, "set-").await;
    photos::concurrent_views(&site, "dog.jpg", 8, 5).await;

    // Many clients at once count views of one photo: one actor, every view counted once.
    let counting: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                for _ in 0..VIEWS_PER_CLIENT {
                    let (status, body) = api
                        .send(Method::POST, "/photos/cat.jpg/views", Vec::new())
                        .await;
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                }
            })
        })
        .collect();
    for task in counting {
        task.await.expect("a client counted its views");
    }
    let (status, body) = api
        .send(Method::GET, "/photos/cat.jpg/views", Vec::new())
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let views: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(views, json!({ "views": CLIENTS * VIEWS_PER_CLIENT }));

    // Chat rooms need alarms and WebSockets, which actors on AWS do not have: a clear error.
    let (status, body) = api
        .send(
            Method::POST,
            "/rooms/lobby/announce?in_ms=10",
            b"hello".to_vec(),
        )
        .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("aws actors do not support"), "{body}");

    // The same build again: nothing to do, and deploying changes nothing.
    app.assert_no_changes();
    app.deploy();
    assert_eq!(
        app.function_config(&function).await.revision_id(),
        config.revision_id(),
        "the function is untouched"
    );

    // Destroy: the photos go through the API, then everything else.
    for photo in ["cat.jpg", "big.bin", "set-b.jpg"] {
        let (status, _) = api
            .send(Method::DELETE, &format!("/photos/{photo}"), Vec::new())
            .await;
        assert!((200..300).contains(&status), "{photo}: {status}");
    }
    app.destroy();
    assert!(!app.bucket_exists(&bucket).await, "bucket gone");
    for (namespace, name, _) in &tables {
        assert!(
            !app.table_exists(name).await,
            "the table of `{namespace}` is gone"
        );
    }
    assert!(!app.role_exists(&role).await, "role gone");
    assert!(!app.function_exists(&function).await, "function gone");
    assert!(!app.function_url_exists(&function).await, "URL gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_photo_api_deploys_serves_updates_and_is_destroyed_on_aws() {
    // The same file photo-share ships, found in the working directory.
    let mut app = AwsApp::start(V1, &example_config()).await;

    // Deploy: bucket, role, function and URL.
    let out = app.deploy();
    let bucket = out.name("photos");
    let role = out.name("api-role");
    let role_arn = out.get("api-role", "arn");
    let function = out.name("api");
    let url = out.get("api-url", "url");

    assert!(app.bucket_exists(&bucket).await, "the bucket exists");
    let got = app
        .iam
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("the role exists");
    assert_eq!(got.role().unwrap().arn(), role_arn);
    let document = app.inline_policy(&role).await;
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
    let config = app.function_config(&function).await;
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
    let env = environment(&config);
    assert_eq!(env["ALCHEMY_SERVICE"], "api");
    assert_eq!(env["ALCHEMY_BUCKET_PHOTOS"], bucket);
    assert_eq!(app.function_url(&function).await, url);

    // Serve: a photo up through an API Gateway v2 event, down through the function URL.
    let lambda = &app.lambda;
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let (status, body) = invoke(lambda, &function, "PUT", "/photos/cat.jpg", &photo).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let stored = app
        .s3
        .get_object()
        .bucket(&bucket)
        .key("photos/cat.jpg")
        .send()
        .await
        .expect("the photo is in S3");
    assert_eq!(stored.body.collect().await.unwrap().into_bytes(), photo);

    let (status, body) = app
        .reach(&url)
        .send(Method::GET, "/photos/cat.jpg", Vec::new())
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, photo);
    let (status, body) = invoke(lambda, &function, "GET", "/photos", b"").await;
    assert_eq!((status, body), (200, br#"["cat.jpg"]"#.to_vec()));
    let (_, version) = invoke(lambda, &function, "GET", "/version", b"").await;
    assert_eq!(version, b"photo-archive v1");

    // The same build again: nothing to do.
    app.assert_no_changes();

    // A changed build: only the function changes.
    app.rebuild(V2);
    let out = app.run(&["plan", "--stage", "aws", "--json", "--detailed-exitcode"]);
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
    app.deploy();
    let lambda = &app.lambda;
    let (_, version) = invoke(lambda, &function, "GET", "/version", b"").await;
    assert_eq!(version, b"photo-archive v2");
    let (status, body) = invoke(lambda, &function, "GET", "/photos/cat.jpg", b"").await;
    assert_eq!(
        (status, body),
        (200, photo),
        "the photo outlives the update"
    );

    // Destroy: the photo goes through the API, then everything else.
    let (status, _) = invoke(lambda, &function, "DELETE", "/photos/cat.jpg", b"").await;
    assert_eq!(status, 204);
    app.destroy();
    assert!(!app.bucket_exists(&bucket).await, "bucket gone");
    assert!(!app.role_exists(&role).await, "role gone");
    assert!(!app.function_exists(&function).await, "function gone");
}
