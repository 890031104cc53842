//! Keys that XML cannot carry as they are (control characters, `\r`) list as they were
//! written, in MiniStack and in moto.

use alchemy::bucket::{BucketClient, ListOptions};
use alchemy_aws::testing::Emulator;
use futures::TryStreamExt;

const KEYS: &[&str] = &[
    "ctl/\u{1}start",
    "ctl/tab\there",
    "ctl/carriage\rreturn",
    "ctl/line\nfeed",
    "ctl/plus+and space",
    "ctl/percent%41",
    "ctl/dir\r/inside",
];

async fn keys_list_as_written(emulator: Emulator, keys: &[&str]) {
    let client = BucketClient::new(emulator.create_bucket("listing").await.expect("bucket"));
    for key in keys {
        client.put(key, key.to_string()).await.expect("put");
    }
    let mut listed: Vec<String> = client
        .list_all("ctl/")
        .map_ok(|meta| meta.key)
        .try_collect()
        .await
        .expect("list");
    let mut expected: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected, "{}", emulator.name());

    let page = client
        .list(ListOptions {
            prefix: Some("ctl/".into()),
            delimiter: Some("/".into()),
            ..ListOptions::default()
        })
        .await
        .expect("list with a delimiter");
    assert_eq!(page.common_prefixes, ["ctl/dir\r/"], "{}", emulator.name());
    for key in keys {
        assert_eq!(client.get_bytes(key, 64).await.expect("get"), *key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_lists_keys_as_written() {
    keys_list_as_written(Emulator::ministack().await.expect("start MiniStack"), KEYS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_lists_keys_as_written() {
    // moto's router answers 404 to any request whose path holds a line feed (`%0A`), so a
    // key with one cannot be written there at all.
    let keys: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|key| !key.contains('\n'))
        .collect();
    keys_list_as_written(Emulator::moto().await.expect("start moto"), &keys).await;
}
