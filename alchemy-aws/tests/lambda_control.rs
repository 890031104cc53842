//! A service deployed to AWS through the real planner and apply engine: a bucket, the
//! service's IAM role, its Lambda function and its function URL, on MiniStack (which runs the
//! function's code), checked through the SDK rather than through the project's state. The
//! role, function and URL providers are also driven against moto, for a second opinion on the
//! request shapes.
//!
//! The function's code is the `lambda_echo` example of this crate, which `cargo test` builds.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use alchemy::plan::Action;
use alchemy::platform::Platform;
use alchemy::provider::Provider;
use alchemy::state::{MemoryBackend, StateBackend};
use alchemy::Access;
use alchemy_aws::control::bootstrap::{self, Package};
use alchemy_aws::control::{
    bucket_permissions, function_name, lambda_trust_policy, policy_document, role_name,
    AwsPlatform, AwsPlatformOptions, FunctionUrlOutput, FunctionUrlProps, FunctionUrlProvider,
    IamRoleOutput, IamRoleProps, IamRoleProvider, LambdaFunctionOutput, LambdaFunctionProps,
    LambdaFunctionProvider, RolePermission, BASIC_EXECUTION_POLICY,
};
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionConfiguration;
use serde_json::{json, Value};

mod lambda;
mod support;
use lambda::{actions, all, bootstrap_in, output, scratch, Reader, Writer, STAGE};
use support::{context, run, run_ok};

fn physical(app: &str, id: &str) -> String {
    support::physical(app, STAGE, id)
}

fn platform(emulator: &Emulator, dir: &Path, bootstrap: &Path) -> AwsPlatform {
    let options = AwsPlatformOptions {
        bootstrap: Some(bootstrap.to_owned()),
        ..AwsPlatformOptions::default()
    };
    AwsPlatform::new(options, dir.join("state")).with_sdk_config(emulator.sdk_config())
}

/// Makes the IAM role `name`, which Lambda may assume, by hand; its ARN.
async fn lambda_role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(lambda_trust_policy())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the role {name} by hand: {e:?}"))
        .role()
        .expect("a role")
        .arn()
        .to_owned()
}

/// The configuration of the function `name`, asked of Lambda directly.
async fn configuration(lambda: &aws_sdk_lambda::Client, name: &str) -> FunctionConfiguration {
    let live = lambda.get_function().function_name(name).send().await;
    live.unwrap_or_else(|e| panic!("get the function {name}: {e:?}"))
        .configuration
        .expect("a configuration")
}

fn iam(emulator: &Emulator) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&emulator.sdk_config())
}

fn lambda(emulator: &Emulator) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&emulator.sdk_config())
}

/// The inline policy of `role` as IAM holds it.
async fn inline_policy(emulator: &Emulator, role: &str) -> Value {
    IamRoleProvider::new(iam(emulator))
        .inline_policy(role)
        .await
        .expect("read the inline policy")
        .expect("the role has an inline policy")
}

/// The ARNs of the managed policies attached to `role`.
async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("list the attached policies");
    attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

/// One plain HTTP/1.1 request; the status and body.
fn http_call(url: &str, method: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("a plain HTTP URL");
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let head = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\
         Content-Type: application/json\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let status_line = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, answer[split + 4..].to_vec())
}

/// What the echo function answered to an invocation: the body of its URL response.
fn echoed(payload: &[u8]) -> Value {
    let response: Value = serde_json::from_slice(payload).expect("a JSON response");
    assert_eq!(response["statusCode"], 200, "{response}");
    serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_deploys_converges_and_is_destroyed_on_ministack() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let (iam, lambda, s3) = (iam(&emulator), lambda(&emulator), emulator.s3_client());
    let dir = scratch("deploy");
    let exe = bootstrap_in(&dir, b"");
    let platform = platform(&emulator, &dir, &exe);
    let providers = platform.providers();
    let backend = MemoryBackend::new();
    let app = "control";
    let writer = alchemy::app(app).service::<Writer>("api");

    // 1. The first deploy creates the bucket, the role, the function and its URL.
    let stack = writer.stack(STAGE, &platform).await.expect("the stack");
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        all(&["photos", "api-role", "api", "api-url"], Action::Create)
    );

    let bucket: alchemy_aws::S3BucketOutput = output(&backend, "photos").await;
    let role: IamRoleOutput = output(&backend, "api-role").await;
    let function: LambdaFunctionOutput = output(&backend, "api").await;
    let url: FunctionUrlOutput = output(&backend, "api-url").await;
    assert_eq!(role.name, role_name(&physical(app, "api-role")));
    assert_eq!(function.name, function_name(&physical(app, "api")));

    // The role, as IAM has it: trusted by Lambda, logs attached, the bindings' statements.
    let live = iam.get_role().role_name(&role.name).send().await.unwrap();
    assert_eq!(live.role().unwrap().arn(), role.arn);
    assert_eq!(attached(&iam, &role.name).await, [BASIC_EXECUTION_POLICY]);
    let read_write = policy_document(&bucket_permissions(&json!(bucket.arn), Access::ReadWrite));
    assert_eq!(inline_policy(&emulator, &role.name).await, read_write);
    assert_eq!(
        read_write["Statement"],
        json!([
            { "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket.arn },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:GetObject",
                    "s3:PutObject",
                ],
                "Resource": bucket.objects_arn,
            },
        ])
    );

    // The function, as Lambda has it.
    let package = platform.package().expect("the package");
    let config = configuration(&lambda, &function.name).await;
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(config.role(), Some(role.arn.as_str()));
    assert_eq!(config.memory_size(), Some(128));
    assert_eq!(config.timeout(), Some(30));
    assert_eq!(config.code_sha256(), Some(package.code_sha256.as_str()));
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env.len(), 2, "{env:?}");
    assert_eq!(env["ALCHEMY_BUCKET_PHOTOS"], bucket.name);
    assert_eq!(env["ALCHEMY_SERVICE"], "api");

    // It runs: once invoked directly, once through its URL.
    let invoked = lambda
        .invoke()
        .function_name(&function.name)
        .payload(Blob::new(r#"{"rawPath":"/direct"}"#))
        .send()
        .await
        .expect("invoke");
    assert_eq!(invoked.function_error(), None);
    let body = echoed(invoked.payload().expect("a payload").as_ref());
    assert_eq!(
        body,
        json!({ "service": "api", "bucket": bucket.name, "path": "/direct" })
    );
    // MiniStack serves function URLs under `/_aws/lambda-url/<url id>/` of its endpoint.
    assert_eq!(url.function_name, function.name);
    let url_id = url
        .url
        .strip_prefix("https://")
        .and_then(|u| u.split('.').next())
        .expect("an AWS-shaped function URL");
    assert!(url.url.contains(".lambda-url."), "{}", url.url);
    let served = format!("{}/_aws/lambda-url/{url_id}/hello", emulator.endpoint());
    let (status, body) = tokio::task::spawn_blocking(move || http_call(&served, "GET", b""))
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    assert_eq!(
        body,
        json!({ "service": "api", "bucket": bucket.name, "path": "/hello" })
    );

    // 2. Nothing changed: nothing to do.
    let stack = writer.stack(STAGE, &platform).await.unwrap();
    let (plan, _) = run(&stack, &providers, &backend, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));

    // 3. A new bootstrap: the function's code alone is updated; the role is untouched.
    let exe = bootstrap_in(&dir, b"version 2");
    assert_eq!(exe, platform.options().bootstrap.clone().unwrap());
    let stack = writer.stack(STAGE, &platform).await.unwrap();
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("api".to_string(), Action::Update)]
    );
    let package2 = platform.package().unwrap();
    assert_ne!(package2.code_sha256, package.code_sha256);
    let config = configuration(&lambda, &function.name).await;
    assert_eq!(config.code_sha256(), Some(package2.code_sha256.as_str()));
    assert_eq!(config.role(), Some(role.arn.as_str()));
    assert_eq!(inline_policy(&emulator, &role.name).await, read_write);
    let invoked = lambda
        .invoke()
        .function_name(&function.name)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(invoked.function_error(), None);
    assert_eq!(
        echoed(invoked.payload().unwrap().as_ref())["service"],
        "api"
    );

    // 4. The binding becomes read-only: only the role's policy changes.
    let reader = alchemy::app(app).service::<Reader>("api");
    let stack = reader.stack(STAGE, &platform).await.unwrap();
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("api-role".to_string(), Action::Update)]
    );
    let read_only = policy_document(&bucket_permissions(&json!(bucket.arn), Access::ReadOnly));
    assert_eq!(inline_policy(&emulator, &role.name).await, read_only);
    let config = configuration(&lambda, &function.name).await;
    assert_eq!(
        config.code_sha256(),
        Some(package2.code_sha256.as_str()),
        "the function was left alone"
    );

    // 5. Destroy removes everything.
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, true).await),
        all(&["photos", "api-role", "api", "api-url"], Action::Delete)
    );
    let role_gone = iam.get_role().role_name(&role.name).send().await;
    assert!(role_gone.is_err(), "the role outlived the destroy");
    let function_gone = lambda
        .get_function()
        .function_name(&function.name)
        .send()
        .await;
    assert!(function_gone.is_err(), "the function outlived the destroy");
    let url_gone = lambda
        .get_function_url_config()
        .function_name(&function.name)
        .send()
        .await;
    assert!(url_gone.is_err(), "the URL outlived the destroy");
    assert!(
        s3.head_bucket().bucket(&bucket.name).send().await.is_err(),
        "the bucket outlived the destroy"
    );
    let state = backend.load().await.unwrap().unwrap();
    assert!(state.resources.is_empty(), "{:?}", state.resources.keys());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_made_before_it_was_recorded_is_adopted_on_ministack() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let (iam, lambda) = (iam(&emulator), lambda(&emulator));
    let dir = scratch("adopt");
    let exe = bootstrap_in(&dir, b"");
    let platform = platform(&emulator, &dir, &exe);
    let providers = platform.providers();
    let app = "adopt";
    let name = function_name(&physical(app, "api"));

    // A create that happened but was never recorded: the function exists, with other
    // settings and an older code; the state is empty.
    let role_arn = lambda_role(&iam, "made-by-hand").await;
    let old_dir = dir.join("old");
    std::fs::create_dir_all(&old_dir).unwrap();
    let old = bootstrap::package(&bootstrap_in(&old_dir, b"old"), &old_dir).unwrap();
    lambda
        .create_function()
        .function_name(&name)
        .role(role_arn)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .memory_size(256)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(std::fs::read(&old.zip_path).unwrap()))
                .build(),
        )
        .send()
        .await
        .expect("create the function by hand");

    let backend = MemoryBackend::new();
    let stack = alchemy::app(app)
        .service::<Writer>("api")
        .stack(STAGE, &platform)
        .await
        .unwrap();
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        all(&["photos", "api-role", "api", "api-url"], Action::Create)
    );

    let listed = lambda.list_functions().send().await.unwrap();
    let same: Vec<_> = listed
        .functions()
        .iter()
        .filter(|f| f.function_name() == Some(name.as_str()))
        .collect();
    assert_eq!(same.len(), 1, "one function named {name}");
    let role: IamRoleOutput = output(&backend, "api-role").await;
    let config = same[0];
    assert_eq!(
        config.role(),
        Some(role.arn.as_str()),
        "the adopted function got its role"
    );
    assert_eq!(config.memory_size(), Some(128));
    let package = platform.package().unwrap();
    assert_eq!(config.code_sha256(), Some(package.code_sha256.as_str()));
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["ALCHEMY_SERVICE"], "api");
    let function: LambdaFunctionOutput = output(&backend, "api").await;
    assert_eq!(function.name, name);

    let (plan, _) = run(&stack, &providers, &backend, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    run_ok(&stack, &providers, &backend, true).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// moto runs no code without Docker; told so before any function exists, it still keeps
/// functions and answers their control-plane calls.
async fn moto_without_docker(emulator: &Emulator) {
    let url = format!("{}/moto-api/config", emulator.endpoint());
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_call(&url, "POST", br#"{"lambda":{"use_docker":false}}"#)
    })
    .await
    .unwrap();
    assert!(
        (200..300).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_function_and_url_providers_on_moto() {
    let emulator = Emulator::moto().await.expect("start moto");
    moto_without_docker(&emulator).await;
    let config = emulator.sdk_config();
    let (iam, lambda) = (iam(&emulator), lambda(&emulator));
    let dir = scratch("moto");
    let ctx = |id: &str| context("moto", STAGE, id);

    // The role, with the statements of a read-write binding of a bucket. moto has no AWS
    // managed policies unless told to load them, so a policy of the account stands in for
    // the basic execution policy.
    let logs = iam
        .create_policy()
        .policy_name("logs")
        .policy_document(
            json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Action": "logs:*", "Resource": "*" }],
            })
            .to_string(),
        )
        .send()
        .await
        .expect("create a managed policy");
    let logs = logs.policy().unwrap().arn().unwrap().to_owned();
    let roles = IamRoleProvider::from_sdk_config(&config);
    let arn = "arn:aws:s3:::moto-test-photos";
    let props = IamRoleProps {
        permissions: bucket_permissions(&json!(arn), Access::ReadWrite)
            .iter()
            .map(RolePermission::from)
            .collect(),
        managed_policies: vec![logs.clone()],
    };
    let role_ctx = ctx("api-role");
    assert_eq!(roles.read(&role_ctx, &props, None).await.unwrap(), None);
    let role = roles
        .create(&role_ctx, &props)
        .await
        .expect("create the role");
    assert_eq!(role.name, role_name(&role_ctx.physical_name()));
    assert_eq!(
        roles.read(&role_ctx, &props, None).await.unwrap(),
        Some(role.clone())
    );
    let expected = policy_document(&bucket_permissions(&json!(arn), Access::ReadWrite));
    assert_eq!(inline_policy(&emulator, &role.name).await, expected);
    let trust = iam.get_role().role_name(&role.name).send().await.unwrap();
    let trust = alchemy_aws::control::decode_policy_document(
        trust.role().unwrap().assume_role_policy_document().unwrap(),
    )
    .unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert_eq!(
        attached(&iam, &role.name).await,
        std::slice::from_ref(&logs)
    );
    // Narrowed, and no managed policy: the inline policy is rewritten, the policy detached.
    let narrowed = IamRoleProps {
        permissions: bucket_permissions(&json!(arn), Access::ReadOnly)
            .iter()
            .map(RolePermission::from)
            .collect(),
        managed_policies: Vec::new(),
    };
    roles
        .update(&role_ctx, &props, &narrowed, &role)
        .await
        .expect("update the role");
    assert_eq!(
        inline_policy(&emulator, &role.name).await,
        policy_document(&bucket_permissions(&json!(arn), Access::ReadOnly))
    );
    assert!(attached(&iam, &role.name).await.is_empty());

    // The function, running as the role.
    let functions = LambdaFunctionProvider::from_sdk_config(&config);
    let code = bootstrap::package(&bootstrap_in(&dir, b""), &dir.join("v1")).unwrap();
    let mut function_props = LambdaFunctionProps::new(role.arn.clone(), &code);
    function_props
        .environment
        .insert("ALCHEMY_SERVICE".into(), "api".into());
    let function_ctx = ctx("api");
    let function = functions
        .create(&function_ctx, &function_props)
        .await
        .expect("create the function");
    assert_eq!(function.name, function_name(&function_ctx.physical_name()));
    assert_eq!(
        functions
            .read(&function_ctx, &function_props, None)
            .await
            .unwrap(),
        Some(function.clone())
    );
    let live = configuration(&lambda, &function.name).await;
    assert_eq!(live.code_sha256(), Some(code.code_sha256.as_str()));
    assert_eq!(live.role(), Some(role.arn.as_str()));
    assert_eq!(live.handler(), Some("bootstrap"));
    assert_eq!(live.runtime().map(|r| r.as_str()), Some("provided.al2023"));

    // New code and more memory: both reach Lambda.
    let code2 = bootstrap::package(&bootstrap_in(&dir, b"v2"), &dir.join("v2")).unwrap();
    let updated = LambdaFunctionProps {
        memory_mb: 512,
        ..LambdaFunctionProps::new(role.arn.clone(), &code2)
    };
    functions
        .update(&function_ctx, &function_props, &updated, &function)
        .await
        .expect("update the function");
    let live = configuration(&lambda, &function.name).await;
    assert_eq!(live.code_sha256(), Some(code2.code_sha256.as_str()));
    assert_eq!(live.memory_size(), Some(512));

    // Its URL.
    let urls = FunctionUrlProvider::from_sdk_config(&config);
    let url_props = FunctionUrlProps {
        function_name: function.name.clone().into(),
        auth: Default::default(),
    };
    let url_ctx = ctx("api-url");
    let url = urls
        .create(&url_ctx, &url_props)
        .await
        .expect("create the URL");
    assert!(url.url.starts_with("https://"), "{}", url.url);
    assert_eq!(
        urls.read(&url_ctx, &url_props, None).await.unwrap(),
        Some(url.clone())
    );
    urls.delete(&url_ctx, &url_props, &url)
        .await
        .expect("delete the URL");
    assert_eq!(urls.read(&url_ctx, &url_props, None).await.unwrap(), None);

    // Deletes, twice: the second finds nothing and succeeds.
    for _ in 0..2 {
        functions
            .delete(&function_ctx, &updated, &function)
            .await
            .expect("delete the function");
        roles
            .delete(&role_ctx, &narrowed, &role)
            .await
            .expect("delete the role");
    }
    assert_eq!(
        functions.read(&function_ctx, &updated, None).await.unwrap(),
        None
    );
    assert_eq!(roles.read(&role_ctx, &narrowed, None).await.unwrap(), None);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A package is what the platform deploys: the same for every service of the stage.
#[test]
fn the_platform_packages_the_configured_bootstrap() {
    let dir = scratch("package");
    let exe = bootstrap_in(&dir, b"");
    let options = AwsPlatformOptions {
        bootstrap: Some(exe.clone()),
        ..AwsPlatformOptions::default()
    };
    let platform = AwsPlatform::new(options, dir.join("state"));
    let package: Package = platform.package().unwrap();
    assert_eq!(
        package,
        bootstrap::package(&exe, &dir.join("state/aws")).unwrap()
    );
    assert_eq!(platform.name(), "aws");
    std::fs::remove_dir_all(dir).unwrap();
}

/// moto, like IAM on AWS right after a role is made, refuses a function whose role Lambda
/// cannot assume: the create waits for the role, and fails saying what to check when the
/// role never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_waits_for_its_role_on_moto() {
    let emulator = Emulator::moto().await.expect("start moto");
    moto_without_docker(&emulator).await;
    let iam = iam(&emulator);
    let dir = scratch("late-role");
    let code = bootstrap::package(&bootstrap_in(&dir, b""), &dir.join("out")).unwrap();
    let ctx = |id: &str| context("late", STAGE, id);
    // moto's account.
    let role_arn = |name: &str| format!("arn:aws:iam::123456789012:role/{name}");

    let impatient = LambdaFunctionProvider::from_sdk_config(&emulator.sdk_config())
        .with_role_propagation(Duration::from_secs(2));
    let props = LambdaFunctionProps::new(role_arn("never-made"), &code);
    let err = impatient
        .create(&ctx("never"), &props)
        .await
        .expect_err("no role, no function")
        .to_string();
    assert!(err.contains("cannot assume the role"), "{err}");
    assert!(err.contains("never-made"), "names the role: {err}");
    assert!(err.contains("trust policy"), "says what to check: {err}");

    // The role appears while the create is retrying.
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lambda_role(&iam, "made-late").await
    });
    let patient = LambdaFunctionProvider::from_sdk_config(&emulator.sdk_config());
    let props = LambdaFunctionProps::new(role_arn("made-late"), &code);
    let function = patient
        .create(&ctx("api"), &props)
        .await
        .expect("the create outlasts the role's delay");
    late.await.unwrap();
    assert_eq!(
        patient.read(&ctx("api"), &props, None).await.unwrap(),
        Some(function)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
