//! The S3 bucket provider driven through the real planner and apply engine against MiniStack
//! and moto,
//! checked through the SDK directly rather than through the project's state.

use std::time::Duration;

use alchemy::apply::{Engine, Outcome};
use alchemy::plan::{plan, Action, Plan, PlanOptions};
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::{LeaseOwner, MemoryBackend, StateBackend};
use alchemy_aws::control::bucket_name;
use alchemy_aws::testing::Emulator;
use alchemy_aws::{CorsRule, LifecycleRule, S3BucketOutput, S3BucketProps, S3BucketProvider};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;

mod support;
use support::{context, physical, run, run_ok};

const APP: &str = "control";
const STAGE: &str = "test";

/// MiniStack: the provider as users build it, with its retry configuration. moto: over the
/// harness's client, which renames the root elements of moto answers the SDK cannot parse.
fn provider(emulator: &Emulator) -> S3BucketProvider {
    match emulator.name() {
        "moto" => S3BucketProvider::new(emulator.s3_client()),
        _ => S3BucketProvider::from_sdk_config(&emulator.sdk_config()),
    }
}

fn providers(emulator: &Emulator) -> Providers {
    let mut providers = Providers::new();
    providers.register::<S3BucketProps>("aws", provider(emulator));
    providers
}

fn stack_of(id: &str, props: S3BucketProps) -> Stack {
    let mut stack = Stack::new(APP, STAGE);
    stack.add(id, props).expect("add the bucket");
    stack
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.id.clone(), c.action))
        .collect()
}

fn name_of(id: &str) -> String {
    bucket_name(&physical(APP, STAGE, id))
}

fn settings() -> S3BucketProps {
    S3BucketProps {
        versioning: true,
        lifecycle: vec![LifecycleRule {
            id: "expire-tmp".into(),
            prefix: "tmp/".into(),
            expire_after_days: Some(7),
            abort_incomplete_multipart_days: Some(2),
        }],
        cors: vec![CorsRule {
            allowed_origins: vec!["https://example.com".into()],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec!["content-type".into()],
            max_age_seconds: Some(600),
        }],
        ..S3BucketProps::default()
    }
}

/// The versioning status of bucket `name`, asked of S3 directly.
async fn versioning(s3: &aws_sdk_s3::Client, name: &str) -> Option<BucketVersioningStatus> {
    let answer = s3.get_bucket_versioning().bucket(name).send().await;
    answer.expect("read the versioning").status().cloned()
}

async fn exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.head_bucket().bucket(name).send().await.is_ok()
}

async fn deploy_sets_every_setting_and_a_second_plan_is_a_noop(emulator: Emulator) {
    let s3 = emulator.s3_client();
    let providers = providers(&emulator);
    let backend = MemoryBackend::new();
    let stack = stack_of("photos", settings());
    let name = name_of("photos");

    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("photos".to_string(), Action::Create)]
    );

    let state = backend.load().await.unwrap().unwrap();
    let output: S3BucketOutput =
        serde_json::from_value(state.resources["photos"].output.clone().unwrap()).unwrap();
    assert_eq!(output.name, name);
    assert_eq!(output.arn, format!("arn:aws:s3:::{name}"));
    assert_eq!(output.objects_arn, format!("arn:aws:s3:::{name}/*"));
    assert_eq!(output.region, alchemy_aws::testing::REGION);

    assert_eq!(
        versioning(&s3, &name).await,
        Some(BucketVersioningStatus::Enabled)
    );

    let block = s3
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().expect("a block");
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.ignore_public_acls(), Some(true));
    assert_eq!(block.block_public_policy(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));

    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let [rule] = lifecycle.rules() else {
        panic!("one lifecycle rule expected: {lifecycle:?}");
    };
    assert_eq!(rule.id(), Some("expire-tmp"));
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("tmp/"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(7));
    assert_eq!(
        rule.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(2)
    );

    let cors = s3.get_bucket_cors().bucket(&name).send().await.unwrap();
    let [rule] = cors.cors_rules() else {
        panic!("one CORS rule expected: {cors:?}");
    };
    assert_eq!(rule.allowed_origins(), ["https://example.com"]);
    assert_eq!(rule.allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rule.allowed_headers(), ["content-type"]);
    assert_eq!(rule.max_age_seconds(), Some(600));

    let (plan, _) = run(&stack, &providers, &backend, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));

    // Versioning off: an update in place that suspends it; the other settings stay.
    let stack = stack_of(
        "photos",
        S3BucketProps {
            versioning: false,
            ..settings()
        },
    );
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("photos".to_string(), Action::Update)]
    );
    assert_eq!(
        versioning(&s3, &name).await,
        Some(BucketVersioningStatus::Suspended)
    );
    let cors = s3.get_bucket_cors().bucket(&name).send().await.unwrap();
    assert_eq!(cors.cors_rules().len(), 1);

    // CORS and lifecycle removed: set to exactly nothing.
    let stack = stack_of(
        "photos",
        S3BucketProps {
            lifecycle: Vec::new(),
            cors: Vec::new(),
            ..S3BucketProps::default()
        },
    );
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("photos".to_string(), Action::Update)]
    );
    assert!(
        s3.get_bucket_cors().bucket(&name).send().await.is_err(),
        "the CORS rules outlived the update"
    );
    assert!(
        s3.get_bucket_lifecycle_configuration()
            .bucket(&name)
            .send()
            .await
            .is_err(),
        "the lifecycle rules outlived the update"
    );
}

async fn an_interrupted_create_is_adopted(emulator: Emulator) {
    let s3 = emulator.s3_client();
    let providers = providers(&emulator);
    let name = name_of("adopted");
    // A create that happened but was never recorded: the bucket exists, the state is empty.
    s3.create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create by hand");

    let backend = MemoryBackend::new();
    let stack = stack_of("adopted", settings());
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("adopted".to_string(), Action::Create)]
    );

    let buckets = s3.list_buckets().send().await.unwrap();
    let same: Vec<_> = buckets
        .buckets()
        .iter()
        .filter(|b| b.name() == Some(name.as_str()))
        .collect();
    assert_eq!(same.len(), 1, "one bucket named {name}: {buckets:?}");
    assert_eq!(
        versioning(&s3, &name).await,
        Some(BucketVersioningStatus::Enabled),
        "the adopted bucket got the settings"
    );
    let state = backend.load().await.unwrap().unwrap();
    assert!(state.resources.contains_key("adopted"));
}

async fn destroy_of_a_non_empty_bucket_needs_force_destroy(emulator: Emulator) {
    let s3 = emulator.s3_client();
    let providers = providers(&emulator);
    let backend = MemoryBackend::new();
    let name = name_of("full");
    let stack = stack_of("full", settings());
    run_ok(&stack, &providers, &backend, false).await;

    // Two versions of one key (versioning is on), and a second key.
    for (key, body) in [("a.txt", "one"), ("a.txt", "two"), ("b.txt", "three")] {
        s3.put_object()
            .bucket(&name)
            .key(key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .expect("put");
    }

    let (plan, report) = run(&stack, &providers, &backend, true).await;
    assert_eq!(actions(&plan), [("full".to_string(), Action::Delete)]);
    let failure = report.failures().next().expect("the delete fails");
    let Outcome::Failed { error } = &failure.outcome else {
        panic!("a failure expected: {failure:?}");
    };
    assert!(error.contains(&name), "names the bucket: {error}");
    assert!(error.contains("not empty"), "says why: {error}");
    assert!(
        error.contains("force_destroy"),
        "says how to fix it: {error}"
    );
    assert!(exists(&s3, &name).await, "the bucket was kept");

    let stack = stack_of(
        "full",
        S3BucketProps {
            force_destroy: true,
            ..settings()
        },
    );
    // The failed delete is recorded as interrupted, so the engine looks the bucket up again
    // (a read, which finds it) and records the new props.
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, false).await),
        [("full".to_string(), Action::Create)]
    );
    assert_eq!(
        actions(&run_ok(&stack, &providers, &backend, true).await),
        [("full".to_string(), Action::Delete)]
    );
    assert!(!exists(&s3, &name).await, "the bucket is gone");
    let state = backend.load().await.unwrap().unwrap();
    assert!(state.resources.is_empty(), "{:?}", state.resources.keys());
}

/// The provider contract the engine relies on, called directly: `read` finds a bucket from the
/// context alone and answers `None` once it is gone; `delete` of a gone bucket succeeds.
async fn read_finds_from_the_context_and_delete_is_idempotent(emulator: Emulator) {
    use alchemy::provider::Provider;

    let s3 = emulator.s3_client();
    let provider = provider(&emulator);
    let ctx = context(APP, STAGE, "contract");
    let props = S3BucketProps::default();
    assert_eq!(provider.read(&ctx, &props, None).await.unwrap(), None);

    let created = provider.create(&ctx, &props).await.expect("create");
    assert_eq!(created.name, name_of("contract"));
    assert!(exists(&s3, &created.name).await);
    assert_eq!(
        provider.read(&ctx, &props, None).await.unwrap(),
        Some(created.clone()),
        "found from the context alone"
    );
    // Creating again (a retried create) adopts the bucket.
    assert_eq!(
        provider.create(&ctx, &props).await.expect("create again"),
        created
    );

    provider
        .delete(&ctx, &props, &created)
        .await
        .expect("delete");
    assert!(!exists(&s3, &created.name).await);
    provider
        .delete(&ctx, &props, &created)
        .await
        .expect("a delete of a gone bucket succeeds");
    assert_eq!(
        provider.read(&ctx, &props, Some(created)).await.unwrap(),
        None
    );
}

/// Refreshes the recorded state and plans against it.
async fn refreshed(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
) -> (Vec<alchemy::plan::Drift>, Plan) {
    let mut state = backend.load().await.unwrap().unwrap();
    let drift = alchemy::plan::refresh(stack, &mut state, providers, &PlanOptions::default())
        .await
        .expect("refresh");
    let plan = plan(stack, &state, providers, &PlanOptions::default())
        .await
        .expect("plan");
    (drift, plan)
}

/// Settings changed behind the project's back show as drift on a refresh, and the next
/// deploy sets them back; a bucket deleted outside is made again.
async fn refresh_shows_drift_and_a_deploy_sets_it_back(emulator: Emulator) {
    let s3 = emulator.s3_client();
    let providers = providers(&emulator);
    let backend = MemoryBackend::new();
    let stack = stack_of("photos", settings());
    let name = name_of("photos");
    run_ok(&stack, &providers, &backend, false).await;

    let (drift, plan) = refreshed(&stack, &providers, &backend).await;
    assert!(drift.is_empty(), "settings read back as written: {drift:?}");
    assert!(!plan.has_changes());

    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_bucket_cors().bucket(&name).send().await.unwrap();
    let (drift, plan) = refreshed(&stack, &providers, &backend).await;
    assert_eq!(drift.len(), 1, "{drift:?}");
    let alchemy::plan::DriftChange::Changed { diffs } = &drift[0].change else {
        panic!("changed, not gone: {drift:?}")
    };
    let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
    assert!(paths.contains(&"versioning"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("cors")), "{paths:?}");
    assert_eq!(actions(&plan), [("photos".to_string(), Action::Update)]);

    // A deploy after the refresh puts the settings back.
    let mut state = backend.load().await.unwrap().unwrap();
    alchemy::plan::refresh(&stack, &mut state, &providers, &PlanOptions::default())
        .await
        .unwrap();
    let fix = alchemy::plan::plan(&stack, &state, &providers, &PlanOptions::default())
        .await
        .unwrap();
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await
        .unwrap();
    let engine = Engine::new(&providers, &backend, lease.clone(), Duration::from_secs(60));
    let report = engine.apply(&stack, &fix, &mut state).await.unwrap();
    backend.unlock(&lease).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        versioning(&s3, &name).await,
        Some(BucketVersioningStatus::Enabled)
    );
    let cors = s3.get_bucket_cors().bucket(&name).send().await.unwrap();
    assert_eq!(cors.cors_rules().len(), 1);
    let (drift, plan) = refreshed(&stack, &providers, &backend).await;
    assert!(drift.is_empty() && !plan.has_changes(), "{drift:?}");

    // Deleted outside: gone on refresh, made again by the deploy.
    s3.delete_bucket().bucket(&name).send().await.unwrap();
    let (drift, plan) = refreshed(&stack, &providers, &backend).await;
    assert_eq!(drift[0].change, alchemy::plan::DriftChange::Gone);
    assert_eq!(actions(&plan), [("photos".to_string(), Action::Create)]);
}

/// Runs each check against MiniStack and against moto.
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {
        mod ministack {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Emulator::ministack().await.expect("start MiniStack"))
                        .await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Emulator::moto().await.expect("start moto")).await;
                }
            )*
        }
    };
}

on_both!(
    deploy_sets_every_setting_and_a_second_plan_is_a_noop,
    an_interrupted_create_is_adopted,
    destroy_of_a_non_empty_bucket_needs_force_destroy,
    read_finds_from_the_context_and_delete_is_idempotent,
    refresh_shows_drift_and_a_deploy_sets_it_back,
);
