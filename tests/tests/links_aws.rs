//! The links example on AWS, in MiniStack, with the same checks as under `dev`: its bucket, its
//! click-counter table, the function and its URL deployed from `alchemy.toml` by the app's own
//! command line; the links API served inside Lambda by the same program; a second deploy that
//! changes nothing; destroy that leaves nothing (checked through the AWS SDK).

mod common;

use std::path::Path;

use common::aws::{environment, url_prefix, AwsApp};
use common::links::{make_follow_count_list_and_delete, refuse_bad_input, Target};
use common::text;

const LINKS: &str = env!("CARGO_BIN_EXE_links-app");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_deploys_serves_every_click_and_is_destroyed_on_aws() {
    // The configuration links ships: stage `aws` on AWS.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/links/alchemy.toml");
    let app = AwsApp::start(LINKS, &config).await;

    let out = app.deploy();
    let bucket = out.name("links");
    let table = out.name("clicks");
    let function = out.name("api");
    let url = out.get("api-url", "url");
    assert!(app.bucket_exists(&bucket).await, "the bucket exists");
    assert!(
        app.table_exists(&table).await,
        "the click counters' table exists"
    );
    let config = app.function_config(&function).await;
    let env = environment(&config);
    assert_eq!(env["ALCHEMY_BUCKET_LINKS"], bucket);
    assert_eq!(env["ALCHEMY_ACTORS_CLICKS"], table);

    // The same checks as under `dev`, through the function URL.
    let target = Target {
        client: app.client(),
        prefix: url_prefix(&url),
    };
    refuse_bad_input(&target).await;
    make_follow_count_list_and_delete(&target, 32).await;

    // The same build again: nothing to do.
    app.assert_no_changes();

    // A bucket that still holds links is not deleted behind the user's back: the destroy stops
    // and says so, and once the bucket is empty the next destroy finishes.
    let refused = app.try_destroy();
    let said = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert_eq!(refused.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&format!("bucket `{bucket}` is not empty")),
        "{said}"
    );
    app.s3
        .delete_object()
        .bucket(&bucket)
        .key("links/home")
        .send()
        .await
        .unwrap();
    app.destroy();
    assert!(!app.bucket_exists(&bucket).await, "bucket gone");
    assert!(!app.table_exists(&table).await, "table gone");
    assert!(!app.function_exists(&function).await, "function gone");
}
