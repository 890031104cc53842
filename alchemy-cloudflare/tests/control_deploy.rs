//! Deploys through the real planner and engine against the checking API server: a first
//! deploy, a no-op redeploy, a code-only update, a binding change, and destroy.

mod control_support;

use alchemy::plan::Action;
use alchemy_cloudflare::control::{bucket_name, script_name, WorkerOutput};
use alchemy_cloudflare::testing::{ACCOUNT_ID, SUBDOMAIN};
use alchemy_cloudflare::{binding_name, names};
use control_support::*;
use serde_json::json;

fn physical(id: &str) -> String {
    format!("{APP}-{STAGE}-{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_makes_the_bucket_and_a_worker_with_its_bindings_and_workers_dev() {
    let target = Target::new().await;
    let mut options = target.options();
    options.vars.insert("GREETING".into(), "hello".into());
    let (plan, report) = target
        .deploy_with(&app(), &target.platform(options), false)
        .await;
    assert_eq!(
        actions(&plan),
        [
            ("api".to_string(), Action::Create),
            ("photos".to_string(), Action::Create),
            ("rooms".to_string(), Action::Create),
        ]
    );
    assert_ok(&report);
    target.assert_no_violations();

    let cloud = target.server.cloud();
    let bucket = bucket_name(&physical("photos"));
    assert_eq!(cloud.buckets.keys().collect::<Vec<_>>(), [&bucket]);
    let script = script_name(&physical("api"));
    let worker = &cloud.scripts[&script];
    assert_eq!(worker.uploads, 1);
    assert!(worker.workers_dev);
    assert_eq!(worker.metadata["main_module"], "shim.mjs");
    assert_eq!(
        worker.metadata["compatibility_date"],
        alchemy_cloudflare::control::DEFAULT_COMPATIBILITY_DATE
    );
    assert_eq!(
        worker.binding(&binding_name("photos")),
        Some(&json!({ "type": "r2_bucket", "name": "PHOTOS", "bucket_name": bucket }))
    );
    assert_eq!(
        worker.binding(&binding_name("rooms")),
        Some(
            &json!({ "type": "durable_object_namespace", "name": "ROOMS", "class_name": "Rooms" })
        )
    );
    assert_eq!(
        worker.binding(names::SERVICE_BINDING),
        Some(&json!({ "type": "plain_text", "name": "ALCHEMY_SERVICE", "text": "api" }))
    );
    assert_eq!(
        worker.binding("GREETING"),
        Some(&json!({ "type": "plain_text", "name": "GREETING", "text": "hello" }))
    );
    assert_eq!(
        worker.metadata["migrations"]["new_sqlite_classes"],
        json!(["Rooms"])
    );
    assert_eq!(worker.migration_tag.as_deref(), Some("v1"));
    assert_eq!(
        worker.modules.keys().collect::<Vec<_>>(),
        ["index_bg.wasm", "shim.mjs"]
    );
    assert_eq!(
        worker.modules["shim.mjs"].content_type,
        "application/javascript+module"
    );
    assert_eq!(
        worker.modules["index_bg.wasm"].content_type,
        "application/wasm"
    );
    assert_eq!(
        worker.modules["index_bg.wasm"].bytes,
        std::fs::read(target.dir.path().join("index_bg.wasm")).unwrap()
    );
    let classes: Vec<_> = cloud
        .namespaces
        .iter()
        .map(|n| (n.script.as_str(), n.class.as_str()))
        .collect();
    assert_eq!(classes, [(script.as_str(), "Rooms")]);

    let output: WorkerOutput = serde_json::from_value(target.output("api").await).unwrap();
    assert_eq!(output.script_name, script);
    assert_eq!(
        output.url.as_deref(),
        Some(format!("https://{script}.{SUBDOMAIN}.workers.dev").as_str())
    );
    assert_eq!(output.classes, ["Rooms"]);
    assert_eq!(output.migration_tag.as_deref(), Some("v1"));
    assert_eq!(output.content_hash, target.bundle.content_hash().unwrap());

    // Every request went to the one account, with the token.
    assert!(target
        .server
        .requests()
        .iter()
        .all(|r| r.path.starts_with(&format!("/accounts/{ACCOUNT_ID}/"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeploy_without_changes_writes_nothing() {
    let target = Target::new().await;
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    let mark = target.server.requests().len();
    let (plan, report) = target.deploy(&app()).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_ok(&report);
    assert_eq!(target.writes_since(mark), [], "a no-op redeploy wrote");
    assert_eq!(
        target.server.cloud().scripts[&script_name(&physical("api"))].uploads,
        1
    );
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_only_change_is_one_upload_and_nothing_else() {
    let target = Target::new().await;
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    let before = target.server.cloud();

    write_bundle(target.dir.path(), b"v2: new code");
    let mark = target.server.requests().len();
    let (plan, report) = target.deploy(&app()).await;
    assert_eq!(changed(&plan), [("api".to_string(), Action::Update)]);
    assert_ok(&report);
    let writes = target.writes_since(mark);
    let ops: Vec<_> = writes
        .iter()
        .map(|w| w.operation.clone().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["worker-script-upload-worker-module"], "{writes:#?}");
    assert_eq!(
        target.since(mark).len(),
        1,
        "nothing but the upload: {:#?}",
        target.since(mark)
    );

    let after = target.server.cloud();
    let script = script_name(&physical("api"));
    let worker = &after.scripts[&script];
    assert_eq!(worker.uploads, 2);
    assert!(worker.modules["index_bg.wasm"]
        .bytes
        .ends_with(b"v2: new code"));
    assert!(
        worker.metadata.get("migrations").is_none(),
        "no migration for unchanged classes"
    );
    assert_eq!(worker.migration_tag.as_deref(), Some("v1"));
    assert_eq!(
        after.namespaces, before.namespaces,
        "the namespaces are untouched"
    );
    assert!(worker.workers_dev);
    let output: WorkerOutput = serde_json::from_value(target.output("api").await).unwrap();
    assert_eq!(output.content_hash, target.bundle.content_hash().unwrap());
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binding_change_makes_the_bucket_and_uploads_the_new_bindings() {
    let target = Target::new().await;
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);

    let with_thumbs = alchemy::app(APP)
        .service::<ApiWithThumbs>("api")
        .actors(&ROOMS);
    let mark = target.server.requests().len();
    let (plan, report) = target.deploy(&with_thumbs).await;
    assert_eq!(
        changed(&plan),
        [
            ("api".to_string(), Action::Update),
            ("thumbs".to_string(), Action::Create)
        ]
    );
    assert_ok(&report);
    let ops: Vec<_> = target
        .writes_since(mark)
        .iter()
        .map(|w| w.operation.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        ops,
        ["r2-create-bucket", "worker-script-upload-worker-module"]
    );
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script_name(&physical("api"))];
    assert_eq!(
        worker.binding("THUMBS"),
        Some(
            &json!({ "type": "r2_bucket", "name": "THUMBS", "bucket_name": bucket_name(&physical("thumbs")) })
        )
    );

    // Unbinding the rooms while the app still hosts them keeps the class and its namespace.
    let plain = alchemy::app(APP).service::<Plain>("api").actors(&ROOMS);
    let (plan, report) = target.deploy(&plain).await;
    assert_ok(&report);
    assert!(changed(&plan).contains(&("api".to_string(), Action::Update)));
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script_name(&physical("api"))];
    assert_eq!(worker.binding("ROOMS"), None);
    assert_eq!(worker.binding("THUMBS"), None);
    assert_eq!(cloud.namespaces.len(), 1);
    assert!(
        !cloud
            .buckets
            .contains_key(&bucket_name(&physical("thumbs"))),
        "the unbound, undeclared bucket is deleted"
    );
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_removes_everything() {
    let target = Target::new().await;
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    assert!(!target.server.cloud().scripts.is_empty());

    let (plan, report) = target
        .deploy_with(&app(), &target.platform(target.options()), true)
        .await;
    assert_eq!(
        actions(&plan),
        [
            ("api".to_string(), Action::Delete),
            ("photos".to_string(), Action::Delete),
            ("rooms".to_string(), Action::Delete),
        ]
    );
    assert_ok(&report);
    let cloud = target.server.cloud();
    assert!(cloud.buckets.is_empty(), "{:?}", cloud.buckets);
    assert!(cloud.scripts.is_empty(), "{:?}", cloud.scripts.keys());
    assert!(cloud.namespaces.is_empty(), "{:?}", cloud.namespaces);
    let state = alchemy::state::StateBackend::load(&target.backend)
        .await
        .unwrap()
        .unwrap();
    assert!(state.resources.is_empty(), "{:?}", state.resources.keys());
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_uploaded_as_secret_text_and_sealed_in_state() {
    const VAR: &str = "ALCHEMY_CLOUDFLARE_CONTROL_TEST_API_KEY";
    // A variable no other test reads.
    std::env::set_var(VAR, "s3cr3t-value");
    let target = Target::new().await;
    let mut options = target.options();
    options.secrets.insert("API_KEY".into(), VAR.into());
    let platform = target.platform(options);
    let key = Some([7; 32]);
    let (_, report) = target.deploy_sealed(&app(), &platform, false, key).await;
    assert_ok(&report);
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script_name(&physical("api"))];
    assert_eq!(
        worker.binding("API_KEY"),
        Some(&json!({ "type": "secret_text", "name": "API_KEY", "text": "s3cr3t-value" }))
    );
    let state = alchemy::state::StateBackend::load(&target.backend)
        .await
        .unwrap()
        .unwrap();
    let recorded = serde_json::to_string(&state.resources["api"]).unwrap();
    assert!(
        !recorded.contains("s3cr3t-value"),
        "the secret is sealed in state: {recorded}"
    );
    assert!(recorded.contains("$sealed"));

    let mark = target.server.requests().len();
    let (plan, _) = target.deploy_sealed(&app(), &platform, false, key).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_eq!(target.writes_since(mark), []);

    // A variable that is not set is named, before anything changes.
    let mut options = target.options();
    options.secrets.insert(
        "OTHER".into(),
        "ALCHEMY_CLOUDFLARE_CONTROL_TEST_UNSET".into(),
    );
    let e = app()
        .stack(STAGE, &target.platform(options))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ALCHEMY_CLOUDFLARE_CONTROL_TEST_UNSET") && e.contains("not set"),
        "{e}"
    );
    target.assert_no_violations();
}
