//! The IAM user and access key of a service outside AWS, driven through the real planner and
//! apply engine against MiniStack with file state and a secrets key, and checked through the
//! SDK: created with the bindings' policy, the policy changed in place, drift found and set
//! back, a lost key made again, a lost create answer cleaned up, and nothing left after a
//! destroy. The key's halves never appear in plan output or in the state files unsealed.

use std::path::Path;
use std::time::Duration;

use alchemy::apply::{Engine, Keyring, Report};
use alchemy::plan::{plan, refresh, render_human, Action, DriftChange, Plan, PlanOptions};
use alchemy::provider::{Context, Provider, Providers};
use alchemy::secret::Cipher;
use alchemy::stack::{Permission, Stack};
use alchemy::state::{FileBackend, LeaseOwner, Snapshot, StateBackend};
use alchemy::{Access, Input};
use alchemy_aws::control::{
    bucket_permissions, policy_document, user_name, AwsPlatform, AwsPlatformOptions,
    IamAccessKeyOutput, IamAccessKeyProps, IamAccessKeyProvider, IamUserOutput, IamUserProps,
    IamUserProvider, RolePermission, S3BucketOutput, S3BucketProps, INLINE_POLICY_NAME,
};
use alchemy_aws::testing::Emulator;
use serde_json::{json, Value};

const APP: &str = "iam";
const STAGE: &str = "test";
const KEY: [u8; 32] = [42; 32];

/// A bucket, and a user allowed `access` to it with its access key.
fn stack(access: Access) -> Stack {
    let mut stack = Stack::new(APP, STAGE);
    let photos = stack.add("photos", S3BucketProps::default()).unwrap();
    let arn: Input<String> = photos.output("arn");
    let permissions = bucket_permissions(&serde_json::to_value(&arn).unwrap(), access)
        .iter()
        .map(RolePermission::from)
        .collect();
    let user = stack.add("api-user", IamUserProps { permissions }).unwrap();
    stack
        .add(
            "api-key",
            IamAccessKeyProps {
                user: user.output("name"),
            },
        )
        .unwrap();
    stack
}

/// The state in `dir`, its secrets opened, and the key that opens them.
async fn load(backend: &FileBackend) -> (Snapshot, Keyring) {
    let mut state = backend
        .load()
        .await
        .expect("load state")
        .unwrap_or_else(|| Snapshot::new(APP, STAGE));
    let (cipher, header) = Cipher::from_key(KEY, state.secrets.as_ref()).expect("the key");
    for rec in state.resources.values_mut() {
        rec.props = cipher.open(&rec.props).unwrap();
        rec.output = rec.output.as_ref().map(|o| cipher.open(o).unwrap());
    }
    (state, Keyring { cipher, header })
}

/// Plans `stack` (refreshing first when asked) and applies the plan.
async fn run(
    stack: &Stack,
    providers: &Providers,
    backend: &FileBackend,
    destroy: bool,
    refreshed: bool,
) -> (Plan, Report) {
    let (mut state, keyring) = load(backend).await;
    let options = PlanOptions {
        destroy,
        ..PlanOptions::default()
    };
    let drift = if refreshed {
        refresh(stack, &mut state, providers, &options)
            .await
            .expect("refresh")
    } else {
        Vec::new()
    };
    let mut plan = plan(stack, &state, providers, &options)
        .await
        .expect("plan");
    plan.drift = drift;
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await
        .expect("lock");
    let engine = Engine::new(providers, backend, lease.clone(), Duration::from_secs(60))
        .keyring(Some(&keyring));
    let report = engine.apply(stack, &plan, &mut state).await.expect("apply");
    backend.unlock(&lease).await.expect("unlock");
    assert!(report.succeeded(), "{report:?}");
    (plan, report)
}

fn actions(plan: &Plan) -> Vec<(&str, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .map(|c| (c.id.as_str(), c.action))
        .collect()
}

async fn output<T: serde::de::DeserializeOwned>(backend: &FileBackend, id: &str) -> T {
    let (state, _) = load(backend).await;
    serde_json::from_value(state.resources[id].output.clone().expect("an output")).unwrap()
}

/// The inline policy of `user` as IAM holds it.
async fn policy(iam: &aws_sdk_iam::Client, user: &str) -> Option<Value> {
    IamUserProvider::new(iam.clone())
        .inline_policy(user)
        .await
        .expect("read the policy")
}

/// The bucket statements of `access` on the bucket's real ARN.
fn expected(bucket: &S3BucketOutput, access: Access) -> Value {
    let permissions: Vec<Permission> = bucket_permissions(&json!(bucket.arn), access);
    policy_document(&permissions)
}

/// Every file of the state directory, as text.
fn state_files(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("the state directory") {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    all
}

fn context(id: &str) -> Context {
    Context {
        app: APP.into(),
        stage: STAGE.into(),
        id: id.into(),
        generation: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_its_key_follow_the_bindings_and_leave_nothing_behind() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config());
    let platform = AwsPlatform::new(AwsPlatformOptions::default(), std::env::temp_dir())
        .with_sdk_config(emulator.sdk_config());
    let providers = alchemy::platform::Platform::providers(&platform);
    let dir = tempfile::tempdir().unwrap();
    let backend = FileBackend::new(dir.path(), APP, STAGE);

    // 1. Created: the user with exactly the bucket's statements, and one key of it.
    let (first, _) = run(
        &stack(Access::ReadWrite),
        &providers,
        &backend,
        false,
        false,
    )
    .await;
    assert_eq!(
        actions(&first),
        [
            ("photos", Action::Create),
            ("api-user", Action::Create),
            ("api-key", Action::Create)
        ]
    );
    let bucket: S3BucketOutput = output(&backend, "photos").await;
    let user: IamUserOutput = output(&backend, "api-user").await;
    let key: IamAccessKeyOutput = output(&backend, "api-key").await;
    assert_eq!(user.name, user_name(&context("api-user").physical_name()));
    assert_eq!(
        policy(&iam, &user.name).await,
        Some(expected(&bucket, Access::ReadWrite))
    );
    let keys = IamUserProvider::new(iam.clone())
        .access_keys(&user.name)
        .await
        .unwrap();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [key.access_key_id.expose()]
    );
    assert_eq!(key.user, user.name);

    // The key's halves are sealed in the state files and never shown by a plan.
    let (id, secret) = (key.access_key_id.expose(), key.secret_access_key.expose());
    assert!(!id.is_empty() && !secret.is_empty());
    let files = state_files(dir.path());
    assert!(files.contains("$sealed"), "the key's output is sealed");
    assert!(!files.contains(id) && !files.contains(secret));
    let (state, _) = load(&backend).await;
    let again = plan(
        &stack(Access::ReadWrite),
        &state,
        &providers,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    assert!(actions(&again).is_empty(), "{:?}", actions(&again));
    let shown = format!("{}{}", render_human(&again), again.to_json());
    assert!(!shown.contains(id) && !shown.contains(secret));

    // 2. Narrower bindings: the policy changes in place, the key stays.
    let (narrowed, _) = run(&stack(Access::ReadOnly), &providers, &backend, false, false).await;
    assert_eq!(actions(&narrowed), [("api-user", Action::Update)]);
    assert_eq!(
        policy(&iam, &user.name).await,
        Some(expected(&bucket, Access::ReadOnly))
    );
    let same: IamAccessKeyOutput = output(&backend, "api-key").await;
    assert_eq!(same, key);

    // 3. The policy widened outside Alchemy: a refresh finds the drift, the deploy sets it back.
    iam.put_user_policy()
        .user_name(&user.name)
        .policy_name(INLINE_POLICY_NAME)
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}).to_string())
        .send()
        .await
        .unwrap();
    let (repaired, _) = run(&stack(Access::ReadOnly), &providers, &backend, false, true).await;
    assert_eq!(repaired.drift.len(), 1, "{:?}", repaired.drift);
    assert_eq!(repaired.drift[0].id, "api-user");
    assert!(matches!(
        repaired.drift[0].change,
        DriftChange::Changed { .. }
    ));
    assert_eq!(actions(&repaired), [("api-user", Action::Update)]);
    assert_eq!(
        policy(&iam, &user.name).await,
        Some(expected(&bucket, Access::ReadOnly))
    );

    // 4. The key deleted outside Alchemy: a refresh finds it gone, the deploy makes another.
    iam.delete_access_key()
        .user_name(&user.name)
        .access_key_id(id)
        .send()
        .await
        .unwrap();
    let (remade, _) = run(&stack(Access::ReadOnly), &providers, &backend, false, true).await;
    assert_eq!(remade.drift.len(), 1, "{:?}", remade.drift);
    assert_eq!(remade.drift[0].change, DriftChange::Gone);
    assert_eq!(actions(&remade), [("api-key", Action::Create)]);
    let new_key: IamAccessKeyOutput = output(&backend, "api-key").await;
    assert_ne!(new_key.access_key_id, key.access_key_id);
    let keys = IamUserProvider::new(iam.clone())
        .access_keys(&user.name)
        .await
        .unwrap();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [new_key.access_key_id.expose()]
    );

    // 5. A create whose answer was lost left a key nobody knows the secret of: with no
    // output, nothing is found, and the create deletes it before making the new one.
    let keys_provider = IamAccessKeyProvider::new(iam.clone());
    let props = IamAccessKeyProps {
        user: Input::Value(user.name.clone()),
    };
    assert_eq!(
        keys_provider
            .read(&context("api-key"), &props, None)
            .await
            .unwrap(),
        None
    );
    let lost = keys_provider
        .create(&context("api-key"), &props)
        .await
        .unwrap();
    let keys = IamUserProvider::new(iam.clone())
        .access_keys(&user.name)
        .await
        .unwrap();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [lost.access_key_id.expose()]
    );

    // 6. Destroy: no key, no user, no bucket.
    let (destroyed, _) = run(&stack(Access::ReadOnly), &providers, &backend, true, false).await;
    assert_eq!(destroyed.summary.delete, 3, "{:?}", actions(&destroyed));
    let gone = iam.get_user().user_name(&user.name).send().await;
    assert!(gone.is_err(), "the user is deleted");
    let listed = iam.list_access_keys().user_name(&user.name).send().await;
    assert!(
        listed.map_or(true, |l| l.access_key_metadata().is_empty()),
        "no key is left"
    );
    let bucket_gone = emulator
        .s3_client()
        .head_bucket()
        .bucket(&bucket.name)
        .send()
        .await;
    assert!(bucket_gone.is_err(), "the bucket is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_found_after_an_interrupted_create_counts_only_when_set_up() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config());
    let provider = IamUserProvider::from_sdk_config(&emulator.sdk_config());
    let ctx = context("half-user");
    let name = user_name(&ctx.physical_name());
    let props = IamUserProps {
        permissions: bucket_permissions(&json!("arn:aws:s3:::photos"), Access::ReadOnly)
            .iter()
            .map(RolePermission::from)
            .collect(),
    };

    // Made, but stopped before its policy was set: not counted, and the create finishes it.
    iam.create_user().user_name(&name).send().await.unwrap();
    assert_eq!(provider.read(&ctx, &props, None).await.unwrap(), None);
    let made = provider
        .create(&ctx, &props)
        .await
        .expect("create adopts the user");
    assert_eq!(made.name, name);
    assert_eq!(
        provider.read(&ctx, &props, None).await.unwrap(),
        Some(made.clone())
    );
    let permissions: Vec<Permission> = props.permissions.iter().map(Into::into).collect();
    assert_eq!(
        policy(&iam, &name).await,
        Some(policy_document(&permissions))
    );

    // A user with keys and policies is deleted with them, and deleting again is fine.
    let key = IamAccessKeyProvider::new(iam.clone())
        .create(
            &context("half-key"),
            &IamAccessKeyProps {
                user: Input::Value(name.clone()),
            },
        )
        .await
        .unwrap();
    provider.delete(&ctx, &props, &made).await.expect("delete");
    provider
        .delete(&ctx, &props, &made)
        .await
        .expect("delete again");
    assert!(iam.get_user().user_name(&name).send().await.is_err());
    IamAccessKeyProvider::new(iam.clone())
        .delete(
            &context("half-key"),
            &IamAccessKeyProps {
                user: Input::Value(name.clone()),
            },
            &key,
        )
        .await
        .expect("a key deleted with its user is fine");
}
