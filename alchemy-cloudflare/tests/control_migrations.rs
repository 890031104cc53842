//! Durable Object migrations derived from the app's actor namespaces: a new class, a rename
//! that keeps the namespace, a delete, each deployed once and then a no-op.

mod control_support;

use alchemy::plan::Action;
use alchemy_cloudflare::control::{script_name, WorkerOutput};
use control_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_renamed_and_deleted_classes_become_migrations_once() {
    let target = Target::new().await;
    let script = script_name(&format!("{APP}-{STAGE}-api"));
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    let rooms_id = target.server.cloud().namespaces[0].id.clone();

    // A new namespace: a new SQLite class, migration v1 -> v2.
    let two = alchemy::app(APP)
        .service::<Api>("api")
        .actors(&ROOMS)
        .actors(&COUNTERS);
    let (plan, report) = target.deploy(&two).await;
    assert_eq!(
        changed(&plan),
        [
            ("api".to_string(), Action::Update),
            ("counters".to_string(), Action::Create)
        ]
    );
    assert_ok(&report);
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script];
    assert_eq!(
        worker.metadata["migrations"],
        json!({ "old_tag": "v1", "new_tag": "v2", "new_sqlite_classes": ["Counters"] })
    );
    assert_eq!(worker.migration_tag.as_deref(), Some("v2"));
    let mut classes: Vec<_> = cloud.namespaces.iter().map(|n| n.class.clone()).collect();
    classes.sort();
    assert_eq!(classes, ["Counters", "Rooms"]);
    let mark = target.server.requests().len();
    let (plan, _) = target.deploy(&two).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_eq!(target.writes_since(mark), []);

    // `rooms` renamed to `chats`: the namespace, and its objects, carry over.
    let renamed = alchemy::app(APP)
        .service::<Plain>("api")
        .actors(&CHATS)
        .actors(&COUNTERS);
    let mut options = target.options();
    options
        .renamed_actors
        .insert("chats".into(), "rooms".into());
    let platform = target.platform(options);
    let (plan, report) = target.deploy_with(&renamed, &platform, false).await;
    assert_eq!(
        changed(&plan),
        [
            ("api".to_string(), Action::Update),
            ("chats".to_string(), Action::Create),
            ("rooms".to_string(), Action::Delete),
        ]
    );
    assert_ok(&report);
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script];
    assert_eq!(
        worker.metadata["migrations"],
        json!({ "old_tag": "v2", "new_tag": "v3", "renamed_classes": [{ "from": "Rooms", "to": "Chats" }] })
    );
    let chats = cloud
        .namespaces
        .iter()
        .find(|n| n.class == "Chats")
        .expect("the renamed namespace");
    assert_eq!(chats.id, rooms_id, "the rename kept the namespace");
    assert!(cloud.namespaces.iter().all(|n| n.class != "Rooms"));
    let mark = target.server.requests().len();
    let (plan, _) = target.deploy_with(&renamed, &platform, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_eq!(
        target.writes_since(mark),
        [],
        "the rename is not applied twice"
    );

    // `counters` removed from the app: a delete migration.
    let one = alchemy::app(APP).service::<Plain>("api").actors(&CHATS);
    let (plan, report) = target.deploy_with(&one, &platform, false).await;
    assert_eq!(
        changed(&plan),
        [
            ("api".to_string(), Action::Update),
            ("counters".to_string(), Action::Delete)
        ]
    );
    assert_ok(&report);
    let cloud = target.server.cloud();
    let worker = &cloud.scripts[&script];
    assert_eq!(
        worker.metadata["migrations"],
        json!({ "old_tag": "v3", "new_tag": "v4", "deleted_classes": ["Counters"] })
    );
    let classes: Vec<_> = cloud.namespaces.iter().map(|n| n.class.as_str()).collect();
    assert_eq!(classes, ["Chats"]);
    let output: WorkerOutput = serde_json::from_value(target.output("api").await).unwrap();
    assert_eq!(output.classes, ["Chats"]);
    assert_eq!(output.migration_tag.as_deref(), Some("v4"));
    let mark = target.server.requests().len();
    let (plan, _) = target.deploy_with(&one, &platform, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
    assert_eq!(target.writes_since(mark), []);
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_binds_the_actors_through_the_hosting_worker() {
    let target = Target::new().await;
    let app = alchemy::app(APP)
        .service::<Plain>("web")
        .service::<Api>("api")
        .actors(&ROOMS);
    // The bundle exports the class under a name of its own (`durable_object!(RoomObject, ROOMS)`).
    let mut options = target.options();
    options
        .actor_classes
        .insert("rooms".into(), "RoomObject".into());
    let platform = target.platform(options);
    let (_, report) = target.deploy_with(&app, &platform, false).await;
    assert_ok(&report);
    let cloud = target.server.cloud();
    let host = script_name(&format!("{APP}-{STAGE}-web"));
    let api = &cloud.scripts[&script_name(&format!("{APP}-{STAGE}-api"))];
    assert_eq!(
        api.binding("ROOMS"),
        Some(
            &json!({ "type": "durable_object_namespace", "name": "ROOMS", "class_name": "RoomObject", "script_name": host })
        )
    );
    assert!(api.metadata.get("migrations").is_none());
    assert_eq!(
        cloud.scripts[&host].metadata["migrations"]["new_sqlite_classes"],
        json!(["RoomObject"])
    );
    let hosts: Vec<_> = cloud.namespaces.iter().map(|n| n.script.as_str()).collect();
    assert_eq!(hosts, [host.as_str()]);
    target.assert_no_violations();

    let (_, report) = target.deploy_with(&app, &platform, true).await;
    assert_ok(&report);
    assert!(target.server.cloud().scripts.is_empty());
}
