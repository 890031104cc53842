//! Conditional reads and writes, and their behaviour under concurrency.

use futures::future::join_all;

use super::{assert_err, read, Scratch};
use crate::bucket::{BucketClient, BucketError, GetOptions, PutResult};

/// `if_match` and `if_none_match` reads.
pub async fn conditional_get(client: &BucketClient) {
    let scratch = Scratch::new(client, "conditional_get");
    let provider = scratch.provider();
    let key = scratch.key("object");
    let old = client.put(&key, "one").await.expect("put");
    let current = client.put(&key, "two").await.expect("put");
    let with = |if_match: Option<&str>, if_none_match: Option<&str>| GetOptions {
        if_match: if_match.map(str::to_owned),
        if_none_match: if_none_match.map(str::to_owned),
        ..GetOptions::default()
    };

    let got = client
        .get_with(&key, with(Some(&current.etag), None))
        .await
        .expect("if_match with the current etag");
    assert_eq!(got.body.collect(64).await.expect("read"), "two");
    assert_err!(
        provider,
        client.get_with(&key, with(Some(&old.etag), None)).await,
        BucketError::Precondition { .. },
        "if_match with a stale etag"
    );
    assert_err!(
        provider,
        client.get_with(&key, with(None, Some(&current.etag))).await,
        BucketError::NotModified { .. },
        "if_none_match with the current etag"
    );
    let got = client
        .get_with(&key, with(None, Some(&old.etag)))
        .await
        .expect("if_none_match with a stale etag");
    assert_eq!(got.meta.etag, current.etag);
    assert_err!(
        provider,
        client
            .get_with(&scratch.key("missing"), with(Some(&current.etag), None))
            .await,
        BucketError::NotFound { .. },
        "if_match on a missing object"
    );
    scratch.cleanup().await;
}

/// `put_if_absent` writes once and then fails with `AlreadyExists`, leaving the object alone.
pub async fn conditional_put_create(client: &BucketClient) {
    let scratch = Scratch::new(client, "conditional_put_create");
    let provider = scratch.provider();
    let key = scratch.key("object");
    let created = client.put_if_absent(&key, "first").await.expect("create");
    assert_err!(
        provider,
        client.put_if_absent(&key, "second").await,
        BucketError::AlreadyExists { key: ref k } if *k == key,
        "a second create"
    );
    assert_eq!(
        read(client, &key).await,
        "first",
        "{provider}: a failed create wrote"
    );
    assert_eq!(client.head(&key).await.expect("head").etag, created.etag);
    client.delete(&key).await.expect("delete");
    client
        .put_if_absent(&key, "again")
        .await
        .expect("create after delete");
    scratch.cleanup().await;
}

/// `put_if_match` replaces only the version it names.
pub async fn conditional_put_update(client: &BucketClient) {
    let scratch = Scratch::new(client, "conditional_put_update");
    let provider = scratch.provider();
    let key = scratch.key("counter");
    let v1 = client.put(&key, "1").await.expect("put");
    let v2 = client
        .put_if_match(&key, "2", &v1.etag)
        .await
        .expect("update with the current etag");
    assert_ne!(v1.etag, v2.etag);
    assert_err!(
        provider,
        client.put_if_match(&key, "lost update", &v1.etag).await,
        BucketError::Precondition { .. },
        "an update with a stale etag"
    );
    assert_eq!(
        read(client, &key).await,
        "2",
        "{provider}: a stale update wrote"
    );
    assert_err!(
        provider,
        client
            .put_if_match(&scratch.key("missing"), "x", &v2.etag)
            .await,
        BucketError::Precondition { .. },
        "an update of a missing object"
    );
    assert!(!client
        .exists(&scratch.key("missing"))
        .await
        .expect("exists"));
    scratch.cleanup().await;
}

/// 32 concurrent `put_if_absent` of one key: exactly one wins, the others get
/// `AlreadyExists`, and the object holds the winner's bytes.
pub async fn concurrent_put_if_absent(client: &BucketClient) {
    const WRITERS: usize = 32;
    let scratch = Scratch::new(client, "concurrent_put_if_absent");
    let provider = scratch.provider();
    let key = scratch.key("contended");
    let attempts = (0..WRITERS).map(|i| {
        let key = key.clone();
        async move { (i, client.put_if_absent(&key, format!("writer {i}")).await) }
    });
    let outcomes: Vec<(usize, Result<PutResult, BucketError>)> = join_all(attempts).await;
    let mut winners = Vec::new();
    for (i, outcome) in outcomes {
        match outcome {
            Ok(put) => winners.push((i, put)),
            Err(BucketError::AlreadyExists { .. }) => {}
            Err(other) => panic!("{provider}: writer {i} failed with {other:?} ({other})"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{provider}: {} of {WRITERS} concurrent creates succeeded",
        winners.len()
    );
    let (winner, put) = &winners[0];
    assert_eq!(read(client, &key).await, format!("writer {winner}"));
    assert_eq!(client.head(&key).await.expect("head").etag, put.etag);
    scratch.cleanup().await;
}
