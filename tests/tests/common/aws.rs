//! Running an example app's command line against an AWS emulator, checking what it deployed
//! through the AWS SDK, and calling its function URL.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput as FunctionConfiguration;
use serde_json::Value;

use super::{succeeded, text};

/// An example app's command line in a working directory of its own that holds the app's
/// `alchemy.toml`, against a MiniStack of its own, with SDK clients to check what it deploys.
pub struct AwsApp {
    /// The app's binary; a test swaps it for a changed build with [`AwsApp::rebuild`].
    exe: &'static str,
    /// Kept alive for the test's duration.
    dir: tempfile::TempDir,
    pub emulator: Emulator,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl AwsApp {
    /// Starts MiniStack and copies `config` into a fresh working directory for `exe`.
    pub async fn start(exe: &'static str, config: &Path) -> Self {
        let emulator = Emulator::ministack().await.expect("MiniStack starts");
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::copy(config, dir.path().join("alchemy.toml")).expect("the config is copied");
        let sdk = emulator.sdk_config();
        AwsApp {
            exe,
            dir,
            s3: emulator.s3_client(),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            emulator,
        }
    }

    /// From now on runs `exe`, a changed build of the same app, in the same directory.
    pub fn rebuild(&mut self, exe: &'static str) {
        self.exe = exe;
    }

    /// Runs the app with `args` (see [`run`]).
    pub fn run(&self, args: &[&str]) -> Output {
        run(self.exe, self.dir.path(), &self.emulator, args)
    }

    /// Runs the app with `args`, which must succeed (see [`ok`]).
    pub fn ok(&self, args: &[&str]) -> String {
        ok(self.exe, self.dir.path(), &self.emulator, args)
    }

    /// `deploy --yes --stage aws`, which must succeed; the outputs it leaves.
    pub fn deploy(&self) -> Outputs {
        self.ok(&["deploy", "--yes", "--stage", "aws"]);
        Outputs(outputs(self.exe, self.dir.path(), &self.emulator))
    }

    /// `destroy --yes --stage aws` (see [`run`]).
    pub fn try_destroy(&self) -> Output {
        self.run(&["destroy", "--yes", "--stage", "aws"])
    }

    /// `destroy --yes --stage aws`, which must succeed.
    pub fn destroy(&self) {
        self.ok(&["destroy", "--yes", "--stage", "aws"]);
    }

    /// Asserts that `plan --detailed-exitcode` finds nothing to do.
    pub fn assert_no_changes(&self) {
        let out = self.run(&["plan", "--stage", "aws", "--detailed-exitcode"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    /// A client of the emulator's endpoint, through which function URLs are reached.
    pub fn client(&self) -> Client {
        Client::new(self.emulator.endpoint()).expect("a client of the emulator")
    }

    /// The function URL `url`, reached through the emulator.
    pub fn reach(&self, url: &str) -> FunctionUrl {
        FunctionUrl {
            client: self.client(),
            url: url.to_owned(),
        }
    }

    /// Whether the bucket `name` exists.
    pub async fn bucket_exists(&self, name: &str) -> bool {
        self.s3.head_bucket().bucket(name).send().await.is_ok()
    }

    /// Whether the DynamoDB table `name` exists.
    pub async fn table_exists(&self, name: &str) -> bool {
        self.dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .is_ok()
    }

    /// Whether the IAM role `name` exists.
    pub async fn role_exists(&self, name: &str) -> bool {
        self.iam.get_role().role_name(name).send().await.is_ok()
    }

    /// Whether the Lambda function `name` exists.
    pub async fn function_exists(&self, name: &str) -> bool {
        self.lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .is_ok()
    }

    /// Whether the Lambda function `name` has a function URL.
    pub async fn function_url_exists(&self, name: &str) -> bool {
        self.lambda
            .get_function_url_config()
            .function_name(name)
            .send()
            .await
            .is_ok()
    }

    /// The configuration of the Lambda function `name`, which must exist.
    pub async fn function_config(&self, name: &str) -> FunctionConfiguration {
        self.lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .expect("the function exists")
    }

    /// The function URL of the Lambda function `name`, which must have one.
    pub async fn function_url(&self, name: &str) -> String {
        self.lambda
            .get_function_url_config()
            .function_name(name)
            .send()
            .await
            .expect("the URL exists")
            .function_url()
            .to_string()
    }

    /// The decoded inline policy of `role`, which must be its only one.
    pub async fn inline_policy(&self, role: &str) -> Value {
        let policies = self
            .iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap();
        assert_eq!(policies.policy_names().len(), 1, "{policies:?}");
        let policy = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&policies.policy_names()[0])
            .send()
            .await
            .unwrap();
        alchemy_aws::control::decode_policy_document(policy.policy_document()).unwrap()
    }
}

/// A function URL, reached through the emulator that serves it.
#[derive(Clone)]
pub struct FunctionUrl {
    client: Client,
    url: String,
}

impl FunctionUrl {
    /// Sends `method path` with `body` (see [`through_url`]); status and body bytes.
    pub async fn send(&self, method: http::Method, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        through_url(&self.client, &self.url, method, path, body).await
    }
}

/// The environment a function's configuration gives it.
pub fn environment(config: &FunctionConfiguration) -> &HashMap<String, String> {
    config
        .environment()
        .and_then(|e| e.variables())
        .expect("the function has an environment")
}

/// The outputs of stage `aws`, by resource id.
pub struct Outputs(pub Value);

impl Outputs {
    /// Output `key` of resource `id`, a string.
    pub fn get(&self, id: &str, key: &str) -> String {
        self.0[id][key]
            .as_str()
            .unwrap_or_else(|| panic!("`{id}` has a string output `{key}`: {}", self.0))
            .to_string()
    }

    /// The `name` of resource `id`.
    pub fn name(&self, id: &str) -> String {
        self.get(id, "name")
    }
}

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
    succeeded(args, &run(exe, dir, emulator, args))
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
