//! Server-side copies.

use std::collections::BTreeMap;

use super::{assert_err, pattern, read, Scratch};
use crate::bucket::{BucketClient, BucketError, PutMode, PutOptions};

/// A copy has the source's bytes, content type and metadata, and leaves the source alone; a
/// copy onto an existing key replaces it; copying a missing source fails with `NotFound`.
pub async fn copy_object(client: &BucketClient) {
    let scratch = Scratch::new(client, "copy_object");
    let provider = scratch.provider();
    let capabilities = client.capabilities();
    let source = scratch.key("source");
    let target = scratch.key("deeper/target");
    let data = pattern(300_000, 5);
    let options = PutOptions {
        content_type: Some("application/x-test".into()),
        metadata: BTreeMap::from([("origin".to_string(), "copy test".to_string())]),
        ..PutOptions::default()
    };
    let put = client
        .put_with(&source, data.clone(), options.clone())
        .await
        .expect("put");

    let copied = client.copy(&source, &target).await.expect("copy");
    assert!(
        !copied.etag.is_empty(),
        "{provider}: copy returned an empty etag"
    );
    assert!(
        read(client, &target).await == data,
        "{provider}: the copy's bytes differ"
    );
    let head = client.head(&target).await.expect("head");
    assert_eq!(head.size, data.len() as u64);
    if capabilities.content_type {
        assert_eq!(
            head.content_type, options.content_type,
            "{provider}: copied content type"
        );
    }
    if capabilities.user_metadata {
        assert_eq!(
            head.metadata, options.metadata,
            "{provider}: copied metadata"
        );
    }
    assert_eq!(
        client.head(&source).await.expect("head").etag,
        put.etag,
        "{provider}: the source changed"
    );

    client.put(&target, "something else").await.expect("put");
    client
        .copy(&source, &target)
        .await
        .expect("copy onto an existing key");
    assert!(
        read(client, &target).await == data,
        "{provider}: copy did not replace the target"
    );

    assert_err!(
        provider,
        client.copy(&scratch.key("missing"), &target).await,
        BucketError::NotFound { key: ref k } if *k == scratch.key("missing"),
        "copy of a missing source"
    );
    scratch.cleanup().await;
}

/// A copy with `PutMode::Create` does not replace an existing target; with `Update` it
/// replaces only the named version.
pub async fn copy_conditional(client: &BucketClient) {
    let scratch = Scratch::new(client, "copy_conditional");
    let provider = scratch.provider();
    let source = scratch.key("source");
    let target = scratch.key("target");
    client.put(&source, "source bytes").await.expect("put");
    let existing = client.put(&target, "target bytes").await.expect("put");

    assert_err!(
        provider,
        client.copy_with(&source, &target, PutMode::Create).await,
        BucketError::AlreadyExists { .. },
        "a create-only copy onto an existing key"
    );
    assert_eq!(read(client, &target).await, "target bytes");
    client
        .copy_with(&source, &scratch.key("fresh"), PutMode::Create)
        .await
        .expect("a create-only copy to a new key");

    assert_err!(
        provider,
        client
            .copy_with(&source, &target, PutMode::Update("\"stale\"".into()))
            .await,
        BucketError::Precondition { .. },
        "a copy with a stale etag"
    );
    client
        .copy_with(&source, &target, PutMode::Update(existing.etag))
        .await
        .expect("a copy with the current etag");
    assert_eq!(read(client, &target).await, "source bytes");
    scratch.cleanup().await;
}
