//! Running an example app's command line against an AWS emulator, and calling its function URL.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy_aws::testing::Emulator;
use serde_json::Value;

use super::text;

/// Runs `exe` in `dir` against the emulator, with test credentials and no stray settings.
pub fn run(exe: &str, dir: &Path, emulator: &Emulator, args: &[&str]) -> Output {
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

/// [`run`], which must succeed; its standard output.
pub fn ok(exe: &str, dir: &Path, emulator: &Emulator, args: &[&str]) -> String {
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

/// The outputs of stage `aws`, by resource id.
pub fn outputs(exe: &str, dir: &Path, emulator: &Emulator) -> Value {
    serde_json::from_str(&ok(
        exe,
        dir,
        emulator,
        &["outputs", "--stage", "aws", "--json"],
    ))
    .expect("outputs are JSON")
}

/// The path prefix under which the emulator serves the function URL `url`.
pub fn url_prefix(url: &str) -> String {
    let url_id = url
        .strip_prefix("https://")
        .and_then(|u| u.split('.').next())
        .expect("an AWS-shaped function URL");
    format!("/_aws/lambda-url/{url_id}")
}

/// Sends `method path` with `body` through the function URL `url`; status and body bytes.
pub async fn through_url(
    client: &Client,
    url: &str,
    method: http::Method,
    path: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let res = client
        .send(
            http::Request::builder()
                .method(method)
                .uri(format!("{}{path}", url_prefix(url)))
                .body(ByteStream::from(body))
                .unwrap(),
        )
        .await
        .expect("the function URL answers");
    let status = res.status().as_u16();
    (
        status,
        res.into_body().collect(1 << 24).await.unwrap().to_vec(),
    )
}
