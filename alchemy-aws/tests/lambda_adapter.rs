//! The Lambda adapter inside a real Lambda runtime: the `lambda_http` example of this crate,
//! run by MiniStack as a function's bootstrap, answers through function URLs in both response
//! modes and through `Invoke` with an API Gateway v2 event.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy_aws::control::bootstrap;
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, FunctionUrlAuthType, InvokeMode, Runtime};
use base64::Engine as _;
use serde_json::{json, Value};

/// The example, built next to this test by `cargo test`.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps")
        .join("examples")
        .join("lambda_http");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test -p alchemy-aws --all-features`, which builds the examples, or `cargo build -p alchemy-aws --example lambda_http`",
        path.display()
    );
    path
}

/// Deploys the example as `name` with `ALCHEMY_LAMBDA_RESPONSE=mode` behind a public URL in
/// `invoke_mode`; the URL's path on the emulator.
async fn deploy(
    emulator: &Emulator,
    zip: &[u8],
    name: &str,
    mode: &str,
    invoke_mode: InvokeMode,
) -> String {
    let lambda = aws_sdk_lambda::Client::new(&emulator.sdk_config());
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role("arn:aws:iam::000000000000:role/adapter-test")
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .environment(
            Environment::builder()
                .variables("ALCHEMY_LAMBDA_RESPONSE", mode)
                .build(),
        )
        .send()
        .await
        .expect("create the function");
    lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(Duration::from_secs(300))
        .await
        .expect("the function becomes active");
    let url = lambda
        .create_function_url_config()
        .function_name(name)
        .auth_type(FunctionUrlAuthType::None)
        .invoke_mode(invoke_mode)
        .send()
        .await
        .expect("create the URL");
    let id = url
        .function_url()
        .strip_prefix("https://")
        .and_then(|u| u.split('.').next())
        .expect("an AWS-shaped function URL");
    format!("/_aws/lambda-url/{id}")
}

async fn send(
    client: &Client,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> http::Response<ByteStream> {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", "session=abc; theme=dark")
        .body(ByteStream::from(body))
        .unwrap();
    client.send(request).await.expect("the URL answers")
}

fn cookies(response: &http::Response<ByteStream>) -> Vec<&str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_serves_function_urls_and_invocations() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let out = tempfile::tempdir().unwrap();
    // The example links the whole crate with its debug information: strip it below Lambda's
    // 250 MB limit on unzipped code.
    let stripped = out.path().join("lambda_http");
    let status = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(example())
        .arg(&stripped)
        .status()
        .expect("objcopy runs: install binutils (apt-get install binutils)");
    assert!(status.success(), "objcopy --strip-debug failed");
    let package = bootstrap::package(&stripped, out.path()).expect("package the example");
    let zip = std::fs::read(&package.zip_path).unwrap();
    let client = Client::new(emulator.endpoint()).unwrap();

    // Streaming: the prelude's status, headers and cookies, then every chunk.
    let streaming = deploy(
        &emulator,
        &zip,
        "adapter-streaming",
        "streaming",
        InvokeMode::ResponseStream,
    )
    .await;
    let res = send(
        &client,
        "GET",
        &format!("{streaming}/chunks?n=200"),
        Vec::new(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain");
    let body = res.into_body().collect(1 << 20).await.unwrap();
    let expected: String = (0..200).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&body), expected);
    let res = send(
        &client,
        "PUT",
        &format!("{streaming}/echo?x=1"),
        b"streamed".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-echo-query"], "x=1");
    assert_eq!(res.headers()["x-echo-cookie"], "session=abc; theme=dark");
    // The prelude carries the cookies as AWS documents (`cookies`, checked by the unit tests);
    // MiniStack passes on the prelude's headers but not its cookies.
    assert_eq!(res.into_body().collect(1 << 10).await.unwrap(), "streamed");

    // Buffered: a binary body both ways, with method, query and cookies seen by the handler.
    let buffered = deploy(
        &emulator,
        &zip,
        "adapter-buffered",
        "buffered",
        InvokeMode::Buffered,
    )
    .await;
    let photo: Vec<u8> = (0..30_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let res = send(
        &client,
        "PUT",
        &format!("{buffered}/echo?size=large&tag=a"),
        photo.clone(),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-echo-method"], "PUT");
    assert_eq!(res.headers()["x-echo-query"], "size=large&tag=a");
    assert_eq!(res.headers()["x-echo-cookie"], "session=abc; theme=dark");
    assert_eq!(cookies(&res), ["first=1; Path=/", "second=2; HttpOnly"]);
    assert_eq!(res.into_body().collect(1 << 20).await.unwrap(), photo);
    let res = send(&client, "GET", &format!("{buffered}/nowhere"), Vec::new()).await;
    assert_eq!(res.status(), 404);

    // Invoke with an API Gateway v2 event: the payload-format-2.0 response.
    let lambda = aws_sdk_lambda::Client::new(&emulator.sdk_config());
    let event = json!({
        "version": "2.0",
        "rawPath": "/echo",
        "rawQueryString": "via=invoke",
        "cookies": ["a=1", "b=2"],
        "headers": { "content-type": "application/octet-stream" },
        "requestContext": { "http": { "method": "POST" } },
        "body": base64::engine::general_purpose::STANDARD.encode([0u8, 1, 2, 255]),
        "isBase64Encoded": true,
    });
    let invoked = lambda
        .invoke()
        .function_name("adapter-buffered")
        .payload(Blob::new(serde_json::to_vec(&event).unwrap()))
        .send()
        .await
        .expect("invoke");
    assert_eq!(invoked.function_error(), None);
    let response: Value = serde_json::from_slice(invoked.payload().unwrap().as_ref()).unwrap();
    assert_eq!(
        response,
        json!({
            "statusCode": 201,
            "headers": {
                "content-type": "application/octet-stream",
                "x-echo-cookie": "a=1; b=2",
                "x-echo-method": "POST",
                "x-echo-query": "via=invoke"
            },
            "cookies": ["first=1; Path=/", "second=2; HttpOnly"],
            "body": "AAEC/w==",
            "isBase64Encoded": true
        })
    );
}
