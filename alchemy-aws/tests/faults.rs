//! Deploys through a fault-injecting proxy: throttling, 500s, connections dropped before and
//! after the emulator acted, and latency, between the SDK and MiniStack. Deploys converge with
//! no duplicate resources, and stop with a clear error while faults persist.

use std::collections::BTreeSet;

use alchemy::apply::Outcome;
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::MemoryBackend;
use alchemy_aws::control::bucket_name;
use alchemy_aws::faults::{Fault, FaultProxy, Faults};
use alchemy_aws::testing::Emulator;
use alchemy_aws::{CorsRule, LifecycleRule, S3BucketProps, S3BucketProvider};
use aws_sdk_s3::types::BucketVersioningStatus;

mod support;
use support::{
    assert_every_kind, assert_no_changes, converge, converge_destroy, deploy, physical, run_ok,
    sdk_config_via,
};

const APP: &str = "faults";
const STAGE: &str = "test";
const BUCKETS: usize = 8;

fn props(i: usize) -> S3BucketProps {
    S3BucketProps {
        versioning: i % 2 == 0,
        lifecycle: vec![LifecycleRule {
            id: "expire-tmp".into(),
            prefix: "tmp/".into(),
            expire_after_days: Some(7),
            abort_incomplete_multipart_days: Some(1),
        }],
        cors: vec![CorsRule {
            allowed_origins: vec!["https://example.com".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec![],
            max_age_seconds: Some(60),
        }],
        force_destroy: true,
        ..S3BucketProps::default()
    }
}

fn stack(buckets: usize) -> Stack {
    let mut stack = Stack::new(APP, STAGE);
    for i in 0..buckets {
        stack.add(&format!("bucket{i}"), props(i)).expect("add");
    }
    stack
}

fn name_of(id: &str) -> String {
    bucket_name(&physical(APP, STAGE, id))
}

/// Providers whose S3 client goes through `endpoint`, with the provider's own retry settings.
fn providers_via(emulator: &Emulator, endpoint: String) -> Providers {
    let config = sdk_config_via(emulator, endpoint);
    let mut providers = Providers::new();
    providers.register::<S3BucketProps>("aws", S3BucketProvider::from_sdk_config(&config));
    providers
}

/// The buckets of this app that exist, asked of the emulator directly (not through the proxy).
async fn buckets(s3: &aws_sdk_s3::Client) -> BTreeSet<String> {
    s3.list_buckets()
        .send()
        .await
        .expect("list buckets")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .filter(|n| n.starts_with(APP))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploys_converge_through_faults_without_duplicates() {
    let emulator = Emulator::ministack().await.expect("MiniStack");
    let direct = emulator.s3_client();
    let proxy = FaultProxy::start(emulator.endpoint(), Faults::mixed(0.35).seed(7))
        .await
        .expect("proxy");
    let providers = providers_via(&emulator, proxy.endpoint());
    let backend = MemoryBackend::new();
    let stack = stack(BUCKETS);

    let (runs, failed_runs) = converge(&stack, &providers, &backend, &proxy).await;
    let stats = proxy.stats();
    eprintln!("converged after {runs} deploys ({failed_runs} failed): {stats}");
    assert_every_kind("any requests", &stats);

    let expected: BTreeSet<String> = (0..BUCKETS)
        .map(|i| name_of(&format!("bucket{i}")))
        .collect();
    assert_eq!(
        buckets(&direct).await,
        expected,
        "exactly the declared buckets exist"
    );
    for i in 0..BUCKETS {
        let name = name_of(&format!("bucket{i}"));
        let versioning = direct
            .get_bucket_versioning()
            .bucket(&name)
            .send()
            .await
            .expect("versioning");
        assert_eq!(
            versioning.status() == Some(&BucketVersioningStatus::Enabled),
            i % 2 == 0,
            "versioning of {name}"
        );
        let cors = direct
            .get_bucket_cors()
            .bucket(&name)
            .send()
            .await
            .expect("cors");
        assert_eq!(cors.cors_rules().len(), 1, "CORS of {name}");
    }

    // Faults that persist: every request answered 500. The deploy stops with the error of the
    // step that could not be done, named, and nothing else is touched.
    proxy.set_faults(Faults::always(Fault::ServerError));
    let grown = self::stack(BUCKETS + 1);
    let new_name = name_of(&format!("bucket{BUCKETS}"));
    let before = proxy.stats().requests;
    let (_, report) = deploy(&grown, &providers, &backend, false)
        .await
        .expect("the plan reads nothing for a new bucket");
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    assert_eq!(failures[0].id, format!("bucket{BUCKETS}"));
    let Outcome::Failed { error } = &failures[0].outcome else {
        panic!("the new bucket failed: {:?}", failures[0].outcome)
    };
    assert!(
        error.contains(&new_name) && error.contains("InternalError"),
        "the error names the bucket and what S3 answered: {error}"
    );
    let attempts = proxy.stats().requests - before;
    assert_eq!(
        attempts,
        5,
        "the SDK tried five times before giving up ({})",
        proxy.stats()
    );
    assert_eq!(buckets(&direct).await, expected, "nothing was created");

    // Faults gone: the next deploy completes what the failed one could not.
    proxy.set_faults(Faults::none());
    run_ok(&grown, &providers, &backend, false).await;
    let mut grown_names = expected.clone();
    grown_names.insert(new_name);
    assert_eq!(buckets(&direct).await, grown_names);
    assert_no_changes(&grown, &providers, &backend).await;

    // Destroy through faults converges too.
    proxy.set_faults(Faults::mixed(0.3).seed(11));
    converge_destroy(&grown, &providers, &backend, &proxy, || async {
        buckets(&direct).await.is_empty()
    })
    .await;
}
