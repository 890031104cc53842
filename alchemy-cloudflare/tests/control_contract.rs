//! The provider contract the engine relies on, called directly, and the errors users see
//! when something is missing.

mod control_support;

use alchemy::provider::{Context, Provider};
use alchemy_cloudflare::api::{Config, ACCOUNT_ID_VAR, API_TOKEN_VAR};
use alchemy_cloudflare::control::{
    bucket_name, CloudflarePlatformOptions, DurableObjectClass, R2BucketProps, R2BucketProvider,
    WorkerBundle, WorkerProps, WorkerProvider,
};
use control_support::*;
use serde_json::json;

fn context(id: &str) -> Context {
    Context {
        app: APP.into(),
        stage: STAGE.into(),
        id: id.into(),
        generation: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_is_found_from_the_context_and_delete_is_idempotent() {
    let target = Target::new().await;
    let provider = R2BucketProvider::new(target.server.client());
    let (ctx, props) = (context("contract"), R2BucketProps::default());
    assert_eq!(provider.read(&ctx, &props, None).await.unwrap(), None);
    let created = provider.create(&ctx, &props).await.unwrap();
    assert_eq!(created.name, bucket_name("control-test-contract"));
    assert_eq!(
        provider.read(&ctx, &props, None).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        provider.create(&ctx, &props).await.unwrap(),
        created,
        "a retried create adopts"
    );

    target.server.fill_bucket(&created.name);
    let full = provider
        .delete(&ctx, &props, &created)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        full.contains("not empty") && full.contains(&created.name),
        "{full}"
    );

    assert!(
        target.server.cloud().buckets.contains_key(&created.name),
        "it was kept"
    );

    let empty = context("contract-empty");
    let made = provider.create(&empty, &props).await.unwrap();
    provider.delete(&empty, &props, &made).await.unwrap();
    provider
        .delete(&empty, &props, &made)
        .await
        .expect("deleting a gone bucket succeeds");
    assert_eq!(
        provider.read(&empty, &props, Some(made)).await.unwrap(),
        None
    );
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_worker_create_is_found_and_not_migrated_twice() {
    let target = Target::new().await;
    let provider = WorkerProvider::new(target.server.client());
    let ctx = context("api");
    let props = WorkerProps {
        content_hash: target.bundle.content_hash().unwrap(),
        bundle: target.bundle.clone(),
        compatibility_date: "2025-01-01".into(),
        compatibility_flags: vec!["nodejs_compat".into()],
        bindings: Vec::new(),
        durable_objects: vec![DurableObjectClass {
            class_name: "Rooms".into(),
            renamed_from: None,
        }],
        workers_dev: true,
    };
    assert_eq!(provider.read(&ctx, &props, None).await.unwrap(), None);
    let created = provider.create(&ctx, &props).await.unwrap();
    // Found from the context alone: the same output, rebuilt from the API.
    assert_eq!(
        provider.read(&ctx, &props, None).await.unwrap(),
        Some(created.clone())
    );
    // A create retried after it was lost converges instead of applying the migration again.
    assert_eq!(provider.create(&ctx, &props).await.unwrap(), created);
    let cloud = target.server.cloud();
    assert_eq!(cloud.namespaces.len(), 1);
    assert_eq!(
        cloud.scripts[&created.script_name].metadata["compatibility_flags"],
        json!(["nodejs_compat"])
    );

    provider.delete(&ctx, &props, &created).await.unwrap();
    provider
        .delete(&ctx, &props, &created)
        .await
        .expect("deleting a gone script succeeds");
    assert_eq!(provider.read(&ctx, &props, None).await.unwrap(), None);
    assert!(target.server.cloud().namespaces.is_empty());
    target.assert_no_violations();
}

#[test]
fn missing_credentials_name_the_variable() {
    let none = Config::from_lookup(|_| None).unwrap_err().to_string();
    assert!(none.contains(ACCOUNT_ID_VAR), "{none}");
    let no_token = Config::from_lookup(|k| (k == ACCOUNT_ID_VAR).then(|| "abc".to_string()))
        .unwrap_err()
        .to_string();
    assert!(
        no_token.contains(API_TOKEN_VAR) && no_token.contains("API Tokens"),
        "{no_token}"
    );
    let config = Config::from_lookup(|k| match k {
        "CLOUDFLARE_ACCOUNT_ID" => Some("abc".into()),
        "CLOUDFLARE_API_TOKEN" => Some("secret-token".into()),
        "CLOUDFLARE_API_BASE_URL" => Some("http://127.0.0.1:9/client/v4/".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.base_url, "http://127.0.0.1:9/client/v4");
    assert!(
        !format!("{config:?}").contains("secret-token"),
        "the token is never printed"
    );
}

#[test]
fn unknown_settings_are_refused_with_the_known_ones() {
    let e = CloudflarePlatformOptions::from_settings(&json!({
        "bundle": { "dir": "b", "main_module": "shim.mjs" },
        "worker_dev": false,
    }))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown field `worker_dev`") && e.contains("`workers_dev`"),
        "{e}"
    );
    let missing = CloudflarePlatformOptions::from_settings(&json!({}))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing field `bundle`"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bundle_or_workers_dev_subdomain_is_explained() {
    let target = Target::new().await;
    let gone = CloudflarePlatformOptions::new(WorkerBundle {
        dir: target.dir.path().join("not-built"),
        main_module: "shim.mjs".into(),
        modules: vec![],
    });
    let e = app()
        .stack(STAGE, &target.platform(gone))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not-built") && e.contains("build the Worker bundle"),
        "{e}"
    );

    target.server.set_subdomain(None);
    let (_, report) = target.deploy(&app()).await;
    let failed = failures(&report).join("\n");
    assert!(
        failed.contains("no workers.dev subdomain") && failed.contains("workers_dev: false"),
        "{failed}"
    );
    let mut options = target.options();
    options.workers_dev = false;
    let (_, report) = target
        .deploy_with(&app(), &target.platform(options), false)
        .await;
    assert_ok(&report);
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_whose_answer_was_lost_does_not_migrate_twice() {
    let target = Target::new().await;
    let provider = WorkerProvider::new(target.server.client());
    let ctx = context("api");
    let class = |name: &str| DurableObjectClass {
        class_name: name.into(),
        renamed_from: None,
    };
    let old = WorkerProps {
        content_hash: target.bundle.content_hash().unwrap(),
        bundle: target.bundle.clone(),
        compatibility_date: "2025-01-01".into(),
        compatibility_flags: Vec::new(),
        bindings: Vec::new(),
        durable_objects: vec![class("Rooms")],
        workers_dev: false,
    };
    let recorded = provider.create(&ctx, &old).await.unwrap();
    let new = WorkerProps {
        durable_objects: vec![class("Rooms"), class("Counters")],
        ..old.clone()
    };
    let first = provider.update(&ctx, &old, &new, &recorded).await.unwrap();
    assert_eq!(first.migration_tag.as_deref(), Some("v2"));
    // The same update again from the same record, as after an answer that never arrived.
    let again = provider.update(&ctx, &old, &new, &recorded).await.unwrap();
    assert_eq!(again, first);
    let script = &target.server.cloud().scripts[&recorded.script_name];
    assert_eq!(script.migration_tag.as_deref(), Some("v2"));
    assert_eq!(
        script.uploads, 2,
        "the retry found the migration applied and uploaded nothing"
    );
    assert_eq!(target.server.cloud().namespaces.len(), 2);

    // A code-only upload keeps the migration tag readable.
    write_bundle(target.dir.path(), b"v2");
    let newer = WorkerProps {
        content_hash: target.bundle.content_hash().unwrap(),
        ..new.clone()
    };
    let updated = provider.update(&ctx, &new, &newer, &again).await.unwrap();
    assert_eq!(
        provider.read(&ctx, &newer, None).await.unwrap(),
        Some(updated)
    );
    target.assert_no_violations();
}
