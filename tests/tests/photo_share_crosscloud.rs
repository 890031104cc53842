//! photo-share across two clouds: `--stage crosscloud` (the stage its `alchemy.toml` ships)
//! puts the API and the chat rooms on Cloudflare and the photos in S3 on AWS. One plan shows
//! both providers, with the IAM user and access key the Worker signs with; one deploy applies
//! both against MiniStack and a `LocalCloudflare` (the checking v4 API server joined with real
//! workerd); one destroy removes both. The user's policy, the Worker's bindings and the bucket
//! are checked through the AWS SDK and the Cloudflare API's records, not the project's state. A
//! photo uploaded through the Worker's URL is read back from S3 with the SDK, the shared photo
//! checks (`common::photos`) pass through the Worker with its photos in S3, and chat stays on
//! Durable Objects.
//!
//! Needs the wasm toolchain: `bash scripts/wasm-toolchain.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use alchemy::http::client::Client;
use alchemy::http::ByteStream;
use alchemy::Access;
use alchemy_aws::testing::Emulator;
use alchemy_cloudflare::testing::LocalCloudflare;
use common::{photos, text};
use serde_json::{json, Value};

const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");
const STAGE: &str = "crosscloud";

/// base64 of 32 bytes: the key that seals the access key in state.
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// photo-share's directory: its `alchemy.toml` names the crate as `.`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share")
}

/// Both clouds on this machine.
struct Clouds {
    aws: Emulator,
    cloudflare: LocalCloudflare,
    state: PathBuf,
}

impl Clouds {
    /// Runs photo-share with `args` against both clouds.
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(PHOTO_SHARE);
        command
            .current_dir(example_dir())
            .env("ALCHEMY_STATE_DIR", &self.state)
            .env("ALCHEMY_SECRET_KEY", SECRET_KEY)
            .env("AWS_ENDPOINT_URL", self.aws.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", alchemy_aws::testing::REGION)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("ALCHEMY_CONFIG")
            .env_remove("ALCHEMY_STAGE")
            .env_remove("ALCHEMY_PASSPHRASE")
            .args(args)
            .stdin(Stdio::null());
        for (name, value) in self.cloudflare.env() {
            command.env(name, value);
        }
        command.output().expect("photo-share runs")
    }

    /// [`Clouds::run`], which must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed with {}:\n{}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// The binding named `name` of the script's upload metadata.
fn binding<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["bindings"]
        .as_array()
        .and_then(|all| all.iter().find(|b| b["name"] == name))
        .unwrap_or_else(|| panic!("no binding `{name}` in {metadata}"))
}

/// Every file under `dir`, as text.
fn files_under(dir: &Path) -> String {
    let mut all = String::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a state directory") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_share_deploys_across_cloudflare_and_aws_in_one_plan() {
    let dir = tempfile::tempdir().unwrap();
    let clouds = Clouds {
        aws: Emulator::ministack().await.expect("MiniStack starts"),
        cloudflare: LocalCloudflare::start(dir.path().join("cloudflare"))
            .await
            .expect("the local Cloudflare target starts"),
        state: dir.path().join("state"),
    };
    let sdk = clouds.aws.sdk_config();
    let (s3, iam) = (clouds.aws.s3_client(), aws_sdk_iam::Client::new(&sdk));

    // One plan, both providers: the bucket, the IAM user and its key on AWS; the Worker and
    // its Durable Object namespaces on Cloudflare, and no R2 bucket.
    let plan: Value = serde_json::from_str(&clouds.ok(&["plan", "--stage", STAGE, "--json"]))
        .expect("the plan is JSON");
    let mut changes: Vec<(String, String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["action"], "create", "{c}");
            let field = |k: &str| c[k].as_str().unwrap().to_owned();
            (field("provider"), field("kind"), field("id"))
        })
        .collect();
    changes.sort();
    let expected = [
        ("aws", "aws.iam.access_key", "api-aws-key"),
        ("aws", "aws.iam.user", "api-aws-user"),
        ("aws", "aws.s3.bucket", "photos"),
        (
            "cloudflare",
            "cloudflare.durable_object_namespace",
            "counters",
        ),
        ("cloudflare", "cloudflare.durable_object_namespace", "rooms"),
        ("cloudflare", "cloudflare.worker", "api"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(p, k, i)| (p.to_string(), k.to_string(), i.to_string()))
        .collect();
    assert_eq!(changes, expected, "{plan:#}");
    let credentials = plan["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "credentials")
        .unwrap_or_else(|| panic!("no credentials binding in {plan:#}"));
    assert_eq!(credentials["service"], "api");
    assert_eq!(credentials["resource"], "api-aws-key");
    assert_eq!(credentials["contribution"]["metadata"]["provider"], "aws");
    assert_eq!(
        credentials["contribution"]["secrets"],
        json!({ "AWS_ACCESS_KEY_ID": "[secret]", "AWS_SECRET_ACCESS_KEY": "[secret]" })
    );
    assert_eq!(
        credentials["contribution"]["env"]["AWS_ENDPOINT_URL"],
        clouds.aws.endpoint()
    );
    let human = clouds.ok(&["plan", "--stage", STAGE]);
    assert!(
        human.contains("api-aws-key (credentials, read-write)")
            && human
                .contains("secrets AWS_ACCESS_KEY_ID = [secret], AWS_SECRET_ACCESS_KEY = [secret]"),
        "{human}"
    );
    let worker = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "api")
        .unwrap();
    assert!(
        worker["depends_on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "api-aws-key"),
        "the Worker comes after its key: {worker}"
    );

    // One deploy: both clouds.
    let deployed: Value =
        serde_json::from_str(&clouds.ok(&["deploy", "--yes", "--stage", STAGE, "--json"]))
            .expect("the deploy report is JSON");
    let outputs = &deployed["outputs"];
    let bucket = outputs["photos"]["name"].as_str().unwrap().to_owned();
    let user = outputs["api-aws-user"]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        outputs["api-aws-key"]["secret_access_key"], "[secret]",
        "the key's secret is never shown: {outputs}"
    );
    s3.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket exists");

    // The user may do exactly what the binding needs: the bucket's statements on its ARN.
    let policies = iam
        .list_user_policies()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names().len(), 1, "{policies:?}");
    let policy = iam
        .get_user_policy()
        .user_name(&user)
        .policy_name(&policies.policy_names()[0])
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:s3:::{bucket}");
    assert_eq!(
        alchemy_aws::control::decode_policy_document(policy.policy_document()).unwrap(),
        alchemy_aws::control::policy_document(&alchemy_aws::control::bucket_permissions(
            &json!(arn),
            Access::ReadWrite
        ))
    );
    let keys = iam
        .list_access_keys()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let [key] = keys.access_key_metadata() else {
        panic!("one access key: {keys:?}");
    };
    let key_id = key.access_key_id().unwrap().to_owned();

    // The Worker holds what the contract says: the bucket's name, the region and endpoint as
    // plain text, the key as secret text, and no R2 binding.
    let cloud = clouds.cloudflare.api().cloud();
    let [script] = cloud.scripts.values().collect::<Vec<_>>()[..] else {
        panic!("one script: {:?}", cloud.scripts.keys());
    };
    let metadata = &script.metadata;
    let plain = |name: &str| {
        let b = binding(metadata, name);
        assert_eq!(b["type"], "plain_text", "{b}");
        b["text"].as_str().unwrap().to_owned()
    };
    assert_eq!(plain("ALCHEMY_BUCKET_PHOTOS"), bucket);
    assert_eq!(plain("AWS_REGION"), alchemy_aws::testing::REGION);
    assert_eq!(plain("AWS_ENDPOINT_URL"), clouds.aws.endpoint());
    let secret = binding(metadata, "AWS_ACCESS_KEY_ID");
    assert_eq!(secret["type"], "secret_text");
    assert_eq!(secret["text"], key_id.as_str());
    assert_eq!(
        binding(metadata, "AWS_SECRET_ACCESS_KEY")["type"],
        "secret_text"
    );
    assert!(
        !metadata["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["type"] == "r2_bucket"),
        "{metadata}"
    );
    assert!(
        cloud.buckets.is_empty(),
        "no R2 bucket: {:?}",
        cloud.buckets
    );

    // The key is sealed in the state files.
    let files = files_under(&clouds.state);
    assert!(!files.contains(&key_id), "the key id is sealed in state");

    // A photo up through the Worker lands in the S3 bucket, the same bytes.
    let url = outputs["api"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no workers.dev URL in {outputs}"));
    let base = clouds
        .cloudflare
        .resolve(url)
        .unwrap_or_else(|| panic!("{url} does not resolve to a running Worker"));
    let base = base.trim_end_matches('/').to_owned();
    let client = Client::new(&base).expect("client");
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let (status, answer) = photos::text(
        &client,
        http::Request::put("/photos/cat.jpg")
            .body(ByteStream::from(photo.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, http::StatusCode::CREATED, "{answer}");
    let stored = s3
        .get_object()
        .bucket(&bucket)
        .key("photos/cat.jpg")
        .send()
        .await
        .expect("the photo is in the S3 bucket");
    let stored = stored.body.collect().await.unwrap().into_bytes();
    assert!(stored[..] == photo[..], "the same bytes are in S3");

    // The shared photo checks through the Worker, its photos in S3; chat stays on Durable
    // Objects.
    photos::upload_and_download(&client, "big.bin", 6 << 20).await;
    photos::ranges_list_delete_and_bad_names(&client, "set-").await;
    photos::concurrent_views(&client, "dog.jpg", 8, 10).await;
    photos::chat_with_history(&client, &base, "lobby").await;

    // The same sources again: nothing to change on either cloud.
    let again = clouds.run(&["plan", "--stage", STAGE, "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        text(&again.stdout),
        text(&again.stderr)
    );

    // A bucket with photos is kept by a destroy (it is not `force_destroy`): empty it first.
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(!listed.contents().is_empty(), "the photos are in S3");
    for object in listed.contents() {
        s3.delete_object()
            .bucket(&bucket)
            .key(object.key().unwrap())
            .send()
            .await
            .unwrap();
    }

    // One destroy: both clouds.
    clouds.ok(&["destroy", "--yes", "--stage", STAGE]);
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "no bucket"
    );
    assert!(
        iam.get_user().user_name(&user).send().await.is_err(),
        "no user"
    );
    let left = iam.list_access_keys().user_name(&user).send().await;
    assert!(
        left.map_or(true, |l| l.access_key_metadata().is_empty()),
        "no key"
    );
    assert!(clouds.cloudflare.running().is_empty());
    assert!(
        clouds.cloudflare.api().cloud().scripts.is_empty(),
        "no Worker"
    );
    let violations = clouds.cloudflare.api().violations();
    assert!(violations.is_empty(), "{violations:#?}");
}
