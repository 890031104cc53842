//! The checking server itself: requests the OpenAPI documents do not describe are refused and
//! recorded, while well-formed ones go through.

use alchemy_cloudflare::api::{ApiError, Body, Client, Method, Part};
use alchemy_cloudflare::testing::{ApiServer, ACCOUNT_ID};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn metadata(value: Value) -> Part {
    Part {
        name: "metadata".into(),
        filename: None,
        content_type: "application/json".into(),
        bytes: serde_json::to_vec(&value).unwrap(),
    }
}

fn module(name: &str, content_type: &str, bytes: &[u8]) -> Part {
    Part {
        name: name.into(),
        filename: Some(name.into()),
        content_type: content_type.into(),
        bytes: bytes.to_vec(),
    }
}

fn entry() -> Part {
    module(
        "main.mjs",
        "application/javascript+module",
        b"export default { fetch() { return new Response('ok') } }",
    )
}

fn wasm() -> Part {
    module("app.wasm", "application/wasm", b"\0asm\x01\0\0\0")
}

async fn upload(client: &Client, script: &str, parts: Vec<Part>) -> Result<Value, ApiError> {
    let path = client.account_path(&format!("/workers/scripts/{script}"));
    client
        .call(Method::PUT, &path, Body::Multipart(parts))
        .await
}

/// Asserts that `result` was refused as undocumented and that the newest violation says `why`.
fn refused(server: &ApiServer, result: Result<Value, ApiError>, why: &str) {
    let error = result.expect_err("the request is refused");
    assert_eq!(error.status(), Some(400), "{error}");
    assert!(error.to_string().contains("not described"), "{error}");
    let violations = server.violations();
    let last = violations.last().expect("a violation is recorded");
    assert!(last.contains(why), "the violation says `{why}`: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_uploads_are_refused_and_recorded() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client();
    let good =
        json!({ "main_module": "main.mjs", "compatibility_date": "2025-01-01", "bindings": [] });

    upload(&client, "ok", vec![metadata(good.clone()), entry(), wasm()])
        .await
        .expect("a well-formed upload is accepted");
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    let mut no_main = good.clone();
    no_main.as_object_mut().unwrap().remove("main_module");
    refused(
        &server,
        upload(&client, "w", vec![metadata(no_main), entry()]).await,
        "main_module",
    );

    let mut missing_part = good.clone();
    missing_part["main_module"] = json!("worker.mjs");
    refused(
        &server,
        upload(&client, "w", vec![metadata(missing_part), entry()]).await,
        "no part has that name",
    );

    let mut r2 = good.clone();
    r2["bindings"] = json!([{ "type": "r2_bucket", "name": "B" }]);
    refused(
        &server,
        upload(&client, "w", vec![metadata(r2), entry()]).await,
        "bucket_name",
    );

    let mut unknown = good.clone();
    unknown["bindings"] = json!([{ "type": "telepathy", "name": "T" }]);
    refused(
        &server,
        upload(&client, "w", vec![metadata(unknown), entry()]).await,
        "not documented",
    );

    let mut flags = good.clone();
    flags["compatibility_flags"] = json!("nodejs_compat");
    refused(
        &server,
        upload(&client, "w", vec![metadata(flags), entry()]).await,
        "expected array",
    );

    let png = module("app.wasm", "image/png", b"\x89PNG");
    refused(
        &server,
        upload(&client, "w", vec![metadata(good.clone()), entry(), png]).await,
        "image/png",
    );

    let not_json = Part {
        bytes: b"{ main_module: main.mjs".to_vec(),
        ..metadata(json!({}))
    };
    refused(
        &server,
        upload(&client, "w", vec![not_json, entry()]).await,
        "not JSON",
    );

    refused(
        &server,
        upload(&client, "Bad.Name", vec![metadata(good.clone()), entry()]).await,
        "pattern",
    );

    let path = client.account_path("/workers/scripts/w");
    let as_json = client
        .call(Method::PUT, &path, Body::Json(good.clone()))
        .await;
    refused(
        &server,
        as_json,
        "content type `application/json` is not documented",
    );

    assert_eq!(server.violations().len(), 9, "{:#?}", server.violations());
    assert_eq!(
        server.cloud().scripts.keys().collect::<Vec<_>>(),
        ["ok"],
        "nothing refused was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undocumented_paths_parameters_and_bodies_are_refused() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client();

    let r = client
        .call(
            Method::GET,
            &client.account_path("/workers/nothing-here"),
            Body::Empty,
        )
        .await;
    refused(&server, r, "no documented operation");

    let r = client
        .call(
            Method::PATCH,
            &client.account_path("/r2/buckets/photos"),
            Body::Empty,
        )
        .await;
    refused(&server, r, "no documented operation");

    let r = client
        .call(
            Method::GET,
            &client.account_path("/r2/buckets?colour=blue"),
            Body::Empty,
        )
        .await;
    refused(&server, r, "query parameter `colour` is not documented");

    let r = client
        .call(
            Method::GET,
            &client.account_path("/r2/buckets?per_page=5000"),
            Body::Empty,
        )
        .await;
    refused(&server, r, "above the maximum");

    let r = client
        .call(
            Method::POST,
            &client.account_path("/r2/buckets"),
            Body::Json(json!({ "name": "ok-name", "locationHint": "mars" })),
        )
        .await;
    refused(&server, r, "not one of");

    let r = client
        .call(
            Method::POST,
            &client.account_path("/r2/buckets"),
            Body::Json(json!({ "locationHint": "weur" })),
        )
        .await;
    refused(&server, r, "the required property `name` is missing");

    let r = client
        .call(
            Method::POST,
            &client.account_path("/workers/scripts/w/subdomain"),
            Body::Json(json!({ "enabled": true, "everywhere": true })),
        )
        .await;
    refused(&server, r, "property `everywhere` is not allowed");

    let r = client
        .call(
            Method::GET,
            &client.account_path("/r2/buckets/photos"),
            Body::Json(json!({})),
        )
        .await;
    refused(&server, r, "takes no request body");

    // No token at all.
    let mut stream = tokio::net::TcpStream::connect(
        server
            .base_url()
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap(),
    )
    .await
    .unwrap();
    let request = format!(
        "GET /client/v4/accounts/{ACCOUNT_ID}/r2/buckets HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        server
            .violations()
            .last()
            .unwrap()
            .contains("Authorization"),
        "{:?}",
        server.violations()
    );

    assert_eq!(server.violations().len(), 9);
    assert!(server.cloud().buckets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_requests_that_cloudflare_refuses_get_error_envelopes() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client();
    let bucket = client.account_path("/r2/buckets/photos");

    let missing = client
        .call(Method::GET, &bucket, Body::Empty)
        .await
        .unwrap_err();
    assert!(
        missing.is_not_found() && missing.has_code(10006),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("GET /accounts/"),
        "names the request: {missing}"
    );
    assert!(missing.to_string().contains("does not exist"), "{missing}");

    let buckets = client.account_path("/r2/buckets");
    let create = || {
        client.call(
            Method::POST,
            &buckets,
            Body::Json(json!({ "name": "photos" })),
        )
    };
    create().await.expect("create");
    let twice = create().await.unwrap_err();
    assert_eq!(twice.status(), Some(409), "{twice}");

    // A Durable Object binding without the migration that makes its class.
    let meta = json!({
        "main_module": "main.mjs",
        "bindings": [{ "type": "durable_object_namespace", "name": "ROOMS", "class_name": "Rooms" }],
    });
    let refused = upload(&client, "w", vec![metadata(meta.clone()), entry()])
        .await
        .unwrap_err();
    assert!(refused.has_code(10061), "{refused}");
    assert!(
        refused.to_string().contains("Did you miss a migration?"),
        "{refused}"
    );

    let mut migrated = meta;
    migrated["migrations"] = json!({ "new_tag": "v1", "new_sqlite_classes": ["Rooms"] });
    upload(&client, "w", vec![metadata(migrated.clone()), entry()])
        .await
        .expect("with its migration");
    // The same migration again: the script is at v1 already.
    let again = upload(&client, "w", vec![metadata(migrated), entry()])
        .await
        .unwrap_err();
    assert!(again.has_code(10079), "{again}");

    let wrong_account = client
        .call(
            Method::GET,
            "/accounts/0000000000000000000000000000000f/r2/buckets",
            Body::Empty,
        )
        .await
        .unwrap_err();
    assert_eq!(wrong_account.status(), Some(403));

    assert!(server.violations().is_empty(), "{:?}", server.violations());
}
