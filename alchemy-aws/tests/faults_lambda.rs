//! Deploys of roles, functions and function URLs through a fault-injecting proxy between the
//! SDK and MiniStack: throttling, 500s, connections dropped before and after the emulator
//! acted, and latency, on IAM and Lambda requests alike. Deploys converge to exactly the
//! declared resources with the declared settings, stop with an error that names the function
//! while Lambda keeps failing, and destroys converge to nothing.
//!
//! The functions' code is the `lambda_echo` example of this crate, which `cargo test` builds.

use alchemy::apply::Outcome;
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::MemoryBackend;
use alchemy::Access;
use alchemy_aws::control::bootstrap::{self, Package};
use alchemy_aws::control::{
    bucket_permissions, function_name, policy_document, role_name, FunctionUrlProps,
    FunctionUrlProvider, IamRoleProps, IamRoleProvider, LambdaFunctionProps,
    LambdaFunctionProvider, RolePermission,
};
use alchemy_aws::faults::{Fault, FaultProxy, Faults};
use alchemy_aws::testing::Emulator;
use serde_json::{json, Value};

mod lambda;
mod support;
use lambda::{bootstrap_in, scratch};
use support::{
    assert_every_kind, assert_no_changes, converge, converge_destroy, deploy, run_ok,
    sdk_config_via,
};

const APP: &str = "faultsfn";
const STAGE: &str = "test";
const FUNCTIONS: usize = 3;
/// What every function's role may do: read and write the objects of one bucket.
const BUCKET_ARN: &str = "arn:aws:s3:::faultsfn-test-photos";

fn physical(id: &str) -> String {
    support::physical(APP, STAGE, id)
}

/// The role policy every role must end up with.
fn expected_policy() -> Value {
    policy_document(&bucket_permissions(&json!(BUCKET_ARN), Access::ReadWrite))
}

/// `functions` services, each a role, a function running `code` as that role, and a public
/// URL.
fn stack(functions: usize, code: &Package) -> Stack {
    let mut stack = Stack::new(APP, STAGE);
    let permissions: Vec<RolePermission> =
        bucket_permissions(&json!(BUCKET_ARN), Access::ReadWrite)
            .iter()
            .map(RolePermission::from)
            .collect();
    for i in 0..functions {
        let role = stack
            .add(
                &format!("fn{i}-role"),
                IamRoleProps {
                    permissions: permissions.clone(),
                    ..IamRoleProps::default()
                },
            )
            .expect("add the role");
        let mut props = LambdaFunctionProps::new(role.output::<String>("arn"), code);
        props
            .environment
            .insert("ALCHEMY_SERVICE".into(), format!("fn{i}").into());
        let function = stack
            .add(&format!("fn{i}"), props)
            .expect("add the function");
        stack
            .add(
                &format!("fn{i}-url"),
                FunctionUrlProps {
                    function_name: function.output("name"),
                    auth: Default::default(),
                },
            )
            .expect("add the URL");
    }
    stack
}

/// Providers whose IAM and Lambda clients go through `endpoint`, with the providers' own
/// retry settings.
fn providers_via(emulator: &Emulator, endpoint: String) -> Providers {
    let config = sdk_config_via(emulator, endpoint);
    let mut providers = Providers::new();
    providers.register::<IamRoleProps>("aws", IamRoleProvider::from_sdk_config(&config));
    providers
        .register::<LambdaFunctionProps>("aws", LambdaFunctionProvider::from_sdk_config(&config));
    providers.register::<FunctionUrlProps>("aws", FunctionUrlProvider::from_sdk_config(&config));
    providers
}

/// What exists of this app, asked of the emulator directly (not through the proxy).
#[derive(Debug, PartialEq, Eq)]
struct Live {
    roles: Vec<String>,
    functions: Vec<String>,
    urls: Vec<String>,
}

impl Live {
    fn empty() -> Self {
        Live {
            roles: Vec::new(),
            functions: Vec::new(),
            urls: Vec::new(),
        }
    }

    /// The names the first `functions` services of [`stack`] must have.
    fn expected(functions: usize) -> Self {
        Live {
            roles: (0..functions)
                .map(|i| role_name(&physical(&format!("fn{i}-role"))))
                .collect(),
            functions: (0..functions)
                .map(|i| function_name(&physical(&format!("fn{i}"))))
                .collect(),
            urls: (0..functions)
                .map(|i| function_name(&physical(&format!("fn{i}"))))
                .collect(),
        }
    }
}

/// Every role, function and URL (named by its function) of this app, sorted, duplicates kept.
async fn live(iam: &aws_sdk_iam::Client, lambda: &aws_sdk_lambda::Client) -> Live {
    let prefix = format!("{APP}-{STAGE}-");
    let mut roles = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .list_roles()
            .set_marker(marker.take())
            .send()
            .await
            .expect("list the roles");
        roles.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_owned())
                .filter(|n| n.starts_with(&prefix)),
        );
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    let mut functions = Vec::new();
    let mut marker = None;
    loop {
        let page = lambda
            .list_functions()
            .set_marker(marker.take())
            .send()
            .await
            .expect("list the functions");
        functions.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name().map(str::to_owned))
                .filter(|n| n.starts_with(&prefix)),
        );
        match page.next_marker() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    let mut urls = Vec::new();
    for function in &functions {
        let listed = lambda
            .list_function_url_configs()
            .function_name(function)
            .send()
            .await
            .expect("list the function's URLs");
        urls.extend(
            listed
                .function_url_configs()
                .iter()
                .map(|_| function.clone()),
        );
    }
    roles.sort();
    functions.sort();
    urls.sort();
    Live {
        roles,
        functions,
        urls,
    }
}

/// Checks that every role has the expected inline policy and every function runs `code` as
/// its role.
async fn assert_settings(
    iam: &aws_sdk_iam::Client,
    lambda: &aws_sdk_lambda::Client,
    functions: usize,
    code: &Package,
) {
    let roles = IamRoleProvider::new(iam.clone());
    for i in 0..functions {
        let role = role_name(&physical(&format!("fn{i}-role")));
        let policy = roles
            .inline_policy(&role)
            .await
            .expect("read the role policy")
            .unwrap_or_else(|| panic!("the role {role} has no inline policy"));
        assert_eq!(policy, expected_policy(), "the policy of {role}");
        let arn = iam
            .get_role()
            .role_name(&role)
            .send()
            .await
            .expect("get the role")
            .role()
            .expect("a role")
            .arn()
            .to_owned();
        let name = function_name(&physical(&format!("fn{i}")));
        let live = lambda
            .get_function()
            .function_name(&name)
            .send()
            .await
            .expect("get the function");
        let config = live.configuration().expect("a configuration");
        assert_eq!(
            config.code_sha256(),
            Some(code.code_sha256.as_str()),
            "the code of {name}"
        );
        assert_eq!(config.role(), Some(arn.as_str()), "the role of {name}");
        let env = config.environment().and_then(|e| e.variables()).unwrap();
        assert_eq!(env["ALCHEMY_SERVICE"], format!("fn{i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_functions_and_urls_converge_through_faults() {
    let emulator = Emulator::ministack().await.expect("MiniStack");
    let config = emulator.sdk_config();
    let (iam, lambda) = (
        aws_sdk_iam::Client::new(&config),
        aws_sdk_lambda::Client::new(&config),
    );
    let dir = scratch("faults");
    let code = bootstrap::package(&bootstrap_in(&dir, b""), &dir.join("out")).expect("package");
    let proxy = FaultProxy::start(emulator.endpoint(), Faults::mixed(0.6).seed(779))
        .await
        .expect("proxy");
    let providers = providers_via(&emulator, proxy.endpoint());
    let backend = MemoryBackend::new();
    let stack = stack(FUNCTIONS, &code);

    let (runs, failed_runs) = converge(&stack, &providers, &backend, &proxy).await;
    let (iam_stats, lambda_stats) = (proxy.service_stats("iam"), proxy.service_stats("lambda"));
    eprintln!("converged after {runs} deploys ({failed_runs} failed)");
    eprintln!("IAM: {iam_stats}");
    eprintln!("Lambda: {lambda_stats}");
    assert_every_kind("IAM requests", &iam_stats);
    assert_every_kind("Lambda requests", &lambda_stats);

    assert_eq!(
        live(&iam, &lambda).await,
        Live::expected(FUNCTIONS),
        "exactly the declared roles, functions and URLs exist, once each"
    );
    assert_settings(&iam, &lambda, FUNCTIONS, &code).await;
    assert_no_changes(&stack, &providers, &backend).await;

    // Lambda fails every request from now on (IAM does not): the deploy of one more service
    // makes its role, stops at its function with an error naming it and what Lambda
    // answered, and touches nothing else.
    proxy.set_faults(Faults::always(Fault::ServerError).only("lambda"));
    let grown = self::stack(FUNCTIONS + 1, &code);
    let new_id = format!("fn{FUNCTIONS}");
    let new_name = function_name(&physical(&new_id));
    let (_, report) = deploy(&grown, &providers, &backend, false)
        .await
        .expect("the plan reads nothing for a new service");
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 2, "{report:?}");
    assert_eq!(failures[0].id, new_id, "{report:?}");
    let Outcome::Failed { error } = &failures[0].outcome else {
        panic!("the new function failed: {:?}", failures[0].outcome)
    };
    assert!(
        error.contains(&new_name) && error.contains("InternalFailure"),
        "the error names the function and what Lambda answered: {error}"
    );
    assert_eq!(failures[1].id, format!("{new_id}-url"));
    assert!(
        matches!(&failures[1].outcome, Outcome::Skipped { because } if *because == new_id),
        "the URL waits for its function: {:?}",
        failures[1].outcome
    );
    let mut partial = Live::expected(FUNCTIONS);
    partial.roles = Live::expected(FUNCTIONS + 1).roles;
    assert_eq!(live(&iam, &lambda).await, partial, "only the role was made");

    // Faults gone: the next deploy completes what the failed one could not.
    proxy.set_faults(Faults::none());
    run_ok(&grown, &providers, &backend, false).await;
    assert_eq!(live(&iam, &lambda).await, Live::expected(FUNCTIONS + 1));
    assert_settings(&iam, &lambda, FUNCTIONS + 1, &code).await;
    assert_no_changes(&grown, &providers, &backend).await;

    // Destroy through faults converges too, and leaves nothing.
    proxy.set_faults(Faults::mixed(0.35).seed(11));
    let runs = converge_destroy(&grown, &providers, &backend, &proxy, || async {
        live(&iam, &lambda).await == Live::empty()
    })
    .await;
    eprintln!("destroyed after {runs} runs: {}", proxy.stats());
    std::fs::remove_dir_all(dir).unwrap();
}
