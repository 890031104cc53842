//! `AwsPlatform` built from a stage's settings, as `alchemy.toml` gives them, with credentials
//! and the endpoint from the standard AWS environment (`AWS_ENDPOINT_URL` included): it loads
//! its SDK configuration itself, on the first provider call.
//!
//! The one test of this binary sets process-wide environment variables, so it lives alone.

use alchemy::plan::Action;
use alchemy::platform::Platform;
use alchemy::state::MemoryBackend;
use alchemy_aws::control::{AwsPlatform, AwsPlatformOptions, LambdaFunctionOutput};
use alchemy_aws::testing::Emulator;
use serde_json::json;

mod lambda;
mod support;
use lambda::{actions, all, bootstrap_in, output, scratch, Writer, STAGE};
use support::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_from_stage_settings_deploys_through_the_standard_environment() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let missing = std::env::temp_dir().join("alchemy-no-such-aws-config");
    for (name, value) in [
        ("AWS_ENDPOINT_URL", emulator.endpoint().to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_CONFIG_FILE", missing.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", missing.display().to_string()),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("AWS_PROFILE");

    let dir = scratch("settings");
    let exe = bootstrap_in(&dir, b"");
    // The region of the settings wins over the environment's.
    let options = AwsPlatformOptions::from_settings(&json!({
        "region": alchemy_aws::testing::REGION,
        "bootstrap": exe,
        "memory_mb": 256,
        "timeout_s": 10,
        "environment": { "GREETING": "hello" },
    }))
    .expect("valid settings");
    let platform = AwsPlatform::new(options, dir.join("state"));
    let providers = platform.providers();
    let backend = MemoryBackend::new();
    let app = alchemy::app("settings").service::<Writer>("api");

    let stack = app.stack(STAGE, &platform).await.expect("the stack");
    let (plan, report) = run(&stack, &providers, &backend, false).await;
    assert_eq!(
        actions(&plan),
        all(&["photos", "api-role", "api", "api-url"], Action::Create)
    );
    assert!(report.succeeded(), "{report:?}");

    // Checked with the harness's own client: the function is in the emulator, in the region
    // of the settings, with the memory and timeout they gave.
    let function: LambdaFunctionOutput = output(&backend, "api").await;
    assert!(
        function
            .arn
            .starts_with(&format!("arn:aws:lambda:{}:", alchemy_aws::testing::REGION)),
        "{}",
        function.arn
    );
    let lambda = aws_sdk_lambda::Client::new(&emulator.sdk_config());
    let live = lambda
        .get_function()
        .function_name(&function.name)
        .send()
        .await
        .expect("the function is in the emulator");
    let config = live.configuration().unwrap();
    assert_eq!(config.memory_size(), Some(256));
    assert_eq!(config.timeout(), Some(10));
    // The settings' variables are in the function's environment beside the bindings'.
    let variables = config
        .environment()
        .and_then(|e| e.variables())
        .expect("the function has an environment");
    assert_eq!(variables.get("GREETING").map(String::as_str), Some("hello"));
    assert!(
        variables.contains_key("ALCHEMY_BUCKET_PHOTOS"),
        "{variables:?}"
    );

    let (plan, report) = run(&stack, &providers, &backend, true).await;
    assert_eq!(
        actions(&plan),
        all(&["photos", "api-role", "api", "api-url"], Action::Delete)
    );
    assert!(report.succeeded(), "{report:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
