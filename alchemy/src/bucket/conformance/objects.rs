//! Whole-object reads and writes, keys and metadata.

use std::collections::BTreeMap;

use alchemy_stream::{ByteStream, Bytes, StreamError};
use futures::stream;

use super::{assert_err, chunked, pattern, read, Scratch};
use crate::bucket::{
    BucketClient, BucketError, GetOptions, ListOptions, PutMode, PutOptions, MAX_KEY_LEN,
};

/// A put followed by a get returns the same bytes, size and etag.
pub async fn put_get_roundtrip(client: &BucketClient) {
    let scratch = Scratch::new(client, "put_get_roundtrip");
    let provider = scratch.provider();
    let key = scratch.key("object.bin");
    let data = pattern(100_000, 1);

    let put = client.put(&key, data.clone()).await.expect("put");
    assert!(
        !put.etag.is_empty(),
        "{provider}: put returned an empty etag"
    );

    let got = client.get(&key).await.expect("get");
    assert_eq!(got.meta.key, key, "{provider}: get returned another key");
    assert_eq!(got.meta.size, data.len() as u64, "{provider}: size");
    assert_eq!(
        got.meta.etag, put.etag,
        "{provider}: get's etag is not put's"
    );
    assert!(
        got.meta.last_modified > 1_577_836_800_000,
        "{provider}: last_modified {} is not in milliseconds since 1970",
        got.meta.last_modified
    );
    assert_eq!(
        got.range,
        0..data.len() as u64,
        "{provider}: range of a whole get"
    );
    assert_eq!(
        got.body.len(),
        Some(data.len() as u64),
        "{provider}: a whole get's body has the object's exact length"
    );
    let body = got.body.collect(usize::MAX).await.expect("read the body");
    assert!(
        body == data,
        "{provider}: the bytes read differ from the bytes written"
    );
    scratch.cleanup().await;
}

/// A body of many odd-sized chunks and unknown length is stored whole, and so is one with a
/// declared length; a body that lies about its length is refused.
pub async fn streamed_put(client: &BucketClient) {
    let scratch = Scratch::new(client, "streamed_put");
    let provider = scratch.provider();
    let data = pattern(3 * 1024 * 1024 + 17, 2);

    let unknown = scratch.key("unknown-length");
    client
        .put(&unknown, chunked(&data, 65_537))
        .await
        .expect("put a chunked stream");
    assert!(
        read(client, &unknown).await == data,
        "{provider}: chunked body corrupted"
    );
    assert_eq!(
        client.head(&unknown).await.expect("head").size,
        data.len() as u64
    );

    let known = scratch.key("known-length");
    let body = chunked(&data, 1000).with_exact_len(data.len() as u64);
    client
        .put(&known, body)
        .await
        .expect("put a stream of known length");
    assert!(
        read(client, &known).await == data,
        "{provider}: sized body corrupted"
    );

    let short = scratch.key("short");
    let lying = chunked(&data.slice(..10), 3).with_exact_len(20);
    assert_err!(
        provider,
        client.put(&short, lying).await,
        BucketError::Stream(_),
        "a body shorter than its declared length"
    );
    assert!(
        !client.exists(&short).await.expect("head"),
        "{provider}: a short body was stored"
    );
    scratch.cleanup().await;
}

/// An empty object can be written, read and listed.
pub async fn empty_object(client: &BucketClient) {
    let scratch = Scratch::new(client, "empty_object");
    let provider = scratch.provider();
    let key = scratch.key("empty");
    client
        .put(&key, ByteStream::empty())
        .await
        .expect("put an empty body");
    let got = client.get(&key).await.expect("get");
    assert_eq!(got.meta.size, 0, "{provider}: size of an empty object");
    assert_eq!(got.range, 0..0, "{provider}: range of an empty object");
    assert_eq!(got.body.collect(0).await.expect("read"), Bytes::new());
    let page = client
        .list(ListOptions {
            prefix: Some(scratch.prefix.clone()),
            ..ListOptions::default()
        })
        .await
        .expect("list");
    assert_eq!(
        page.objects.len(),
        1,
        "{provider}: the empty object is listed"
    );
    assert_eq!(page.objects[0].size, 0);
    scratch.cleanup().await;
}

/// A second put replaces the object and changes its etag.
pub async fn overwrite(client: &BucketClient) {
    let scratch = Scratch::new(client, "overwrite");
    let provider = scratch.provider();
    let key = scratch.key("object");
    let first = client.put(&key, "first version").await.expect("put");
    let second = client.put(&key, "second").await.expect("overwrite");
    assert_ne!(
        first.etag, second.etag,
        "{provider}: new contents kept the old etag"
    );
    assert_eq!(read(client, &key).await, "second");
    let head = client.head(&key).await.expect("head");
    assert_eq!(
        (head.size, head.etag),
        (6, second.etag),
        "{provider}: head after overwrite"
    );
    scratch.cleanup().await;
}

/// `head` agrees with `get`; `exists` tells present from missing.
pub async fn head_and_exists(client: &BucketClient) {
    let scratch = Scratch::new(client, "head_and_exists");
    let provider = scratch.provider();
    let key = scratch.key("object");
    client.put(&key, "twelve bytes").await.expect("put");
    let head = client.head(&key).await.expect("head");
    let got = client.get(&key).await.expect("get");
    assert_eq!(head, got.meta, "{provider}: head and get disagree");
    assert_eq!(head.size, 12);
    assert!(client.exists(&key).await.expect("exists"));
    assert!(!client.exists(&scratch.key("absent")).await.expect("exists"));
    scratch.cleanup().await;
}

/// Reading a missing object fails with `NotFound` naming it; deleting it succeeds.
pub async fn missing_object(client: &BucketClient) {
    let scratch = Scratch::new(client, "missing_object");
    let provider = scratch.provider();
    let key = scratch.key("never-written");
    assert_err!(
        provider,
        client.get(&key).await,
        BucketError::NotFound { key: ref k } if *k == key,
        "get of a missing object"
    );
    assert_err!(
        provider,
        client.head(&key).await,
        BucketError::NotFound { key: ref k } if *k == key,
        "head of a missing object"
    );
    client
        .delete(&key)
        .await
        .expect("deleting a missing object succeeds");
    // A key that is a prefix of an existing key is not an object.
    client
        .put(&scratch.key("dir/file"), "x")
        .await
        .expect("put");
    assert_err!(
        provider,
        client.head(&scratch.key("dir")).await,
        BucketError::NotFound { .. },
        "head of a key that is only a prefix"
    );
    assert_err!(
        provider,
        client.get(&scratch.key("dir/")).await,
        BucketError::NotFound { .. },
        "get of a prefix with its delimiter"
    );
    scratch.cleanup().await;
}

/// A deleted object is gone, and deleting it again succeeds.
pub async fn delete_object(client: &BucketClient) {
    let scratch = Scratch::new(client, "delete_object");
    let provider = scratch.provider();
    let key = scratch.key("doomed");
    let sibling = scratch.key("doomed-not");
    client.put(&key, "bye").await.expect("put");
    client.put(&sibling, "stays").await.expect("put");
    client.delete(&key).await.expect("delete");
    assert_err!(
        provider,
        client.get(&key).await,
        BucketError::NotFound { .. },
        "get after delete"
    );
    assert!(!client.exists(&key).await.expect("exists"));
    client.delete(&key).await.expect("a second delete succeeds");
    assert_eq!(
        read(client, &sibling).await,
        "stays",
        "{provider}: delete hit a sibling"
    );
    scratch.cleanup().await;
}

/// Content type and user metadata are stored, returned by head and get, and replaced (not
/// merged) by an overwrite.
pub async fn content_type_and_metadata(client: &BucketClient) {
    let scratch = Scratch::new(client, "content_type_and_metadata");
    let provider = scratch.provider();
    let key = scratch.key("photo.png");
    let metadata = BTreeMap::from([
        ("owner".to_string(), "ada".to_string()),
        (
            "camera-model".to_string(),
            "Analytical Engine 1".to_string(),
        ),
    ]);
    let options = PutOptions {
        content_type: Some("image/png".into()),
        metadata: metadata.clone(),
        ..PutOptions::default()
    };
    client
        .put_with(&key, "png bytes", options)
        .await
        .expect("put");
    let head = client.head(&key).await.expect("head");
    assert_eq!(
        head.content_type.as_deref(),
        Some("image/png"),
        "{provider}: content type"
    );
    assert_eq!(head.metadata, metadata, "{provider}: metadata from head");
    let got = client.get(&key).await.expect("get");
    assert_eq!(got.meta.metadata, metadata, "{provider}: metadata from get");

    let replaced = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: BTreeMap::from([("owner".to_string(), "bob".to_string())]),
        ..PutOptions::default()
    };
    client
        .put_with(&key, "text", replaced.clone())
        .await
        .expect("overwrite");
    let head = client.head(&key).await.expect("head");
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        head.metadata, replaced.metadata,
        "{provider}: metadata was merged, not replaced"
    );
    scratch.cleanup().await;
}

/// A body that fails midway stores nothing and leaves the previous object intact.
pub async fn failed_body_keeps_old_object(client: &BucketClient) {
    let scratch = Scratch::new(client, "failed_body_keeps_old_object");
    let provider = scratch.provider();
    let key = scratch.key("object");
    let before = client.put(&key, "the original").await.expect("put");

    let failing = ByteStream::from_stream(stream::iter([
        Ok(pattern(256 * 1024, 3)),
        Err(StreamError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the client went away",
        ))),
    ]));
    assert_err!(
        provider,
        client.put(&key, failing).await,
        BucketError::Stream(_),
        "a failing body"
    );
    let head = client.head(&key).await.expect("head");
    assert_eq!(
        head.etag, before.etag,
        "{provider}: a failed put replaced the object"
    );
    assert_eq!(read(client, &key).await, "the original");

    let fresh = scratch.key("fresh");
    let failing = ByteStream::from_error(std::io::Error::other("no bytes at all"));
    assert_err!(
        provider,
        client.put(&fresh, failing).await,
        BucketError::Stream(_),
        "a failing body"
    );
    assert!(
        !client.exists(&fresh).await.expect("exists"),
        "{provider}: a failed put stored an object"
    );
    scratch.cleanup().await;
}

/// The keys every provider refuses, refused by the store itself (not only by the client).
pub async fn invalid_keys(client: &BucketClient) {
    let scratch = Scratch::new(client, "invalid_keys");
    let provider = scratch.provider();
    let store = client.store();
    let valid = scratch.key("valid");
    store
        .put(&valid, ByteStream::from("ok"), PutOptions::default())
        .await
        .expect("put");
    let too_long = "k".repeat(MAX_KEY_LEN + 1);
    let keys = [
        "",
        "/leading-slash",
        ".",
        "..",
        "../escape",
        "a/../../escape",
        "a/./b",
        "trailing/..",
        "nul\0byte",
        too_long.as_str(),
    ];
    for key in keys {
        let what = format!("key {:?}", key.escape_debug().to_string());
        assert_err!(
            provider,
            store.get(key, GetOptions::default()).await,
            BucketError::InvalidKey { .. },
            "get of {what}"
        );
        assert_err!(
            provider,
            store.head(key).await,
            BucketError::InvalidKey { .. },
            "head of {what}"
        );
        assert_err!(
            provider,
            store
                .put(key, ByteStream::from("x"), PutOptions::default())
                .await,
            BucketError::InvalidKey { .. },
            "put of {what}"
        );
        assert_err!(
            provider,
            store.delete(key).await,
            BucketError::InvalidKey { .. },
            "delete of {what}"
        );
        if client.capabilities().copy {
            assert_err!(
                provider,
                store.copy(&valid, key, PutMode::Overwrite).await,
                BucketError::InvalidKey { .. },
                "copy to {what}"
            );
            assert_err!(
                provider,
                store.copy(key, &valid, PutMode::Overwrite).await,
                BucketError::InvalidKey { .. },
                "copy from {what}"
            );
        }
        if client.capabilities().multipart {
            assert_err!(
                provider,
                store.create_multipart(key, PutOptions::default()).await,
                BucketError::InvalidKey { .. },
                "create_multipart of {what}"
            );
        }
        // The client refuses them too, before the store sees them.
        assert_err!(
            provider,
            client.put(key, "x").await,
            BucketError::InvalidKey { .. },
            "client put of {what}"
        );
    }
    assert_eq!(
        read(client, &valid).await,
        "ok",
        "{provider}: an invalid key reached another object"
    );
    scratch.cleanup().await;
}

/// Metadata that breaks the rules is refused by the store itself.
pub async fn invalid_metadata(client: &BucketClient) {
    let scratch = Scratch::new(client, "invalid_metadata");
    let provider = scratch.provider();
    let key = scratch.key("object");
    for (name, value) in [
        ("Upper", "v"),
        ("sp ace", "v"),
        ("ok", "line\nbreak"),
        ("ok", "naïve"),
    ] {
        let options = PutOptions {
            metadata: BTreeMap::from([(name.to_string(), value.to_string())]),
            ..PutOptions::default()
        };
        assert_err!(
            provider,
            client
                .store()
                .put(&key, ByteStream::from("x"), options)
                .await,
            BucketError::InvalidMetadata { .. },
            "metadata {name:?}: {value:?}"
        );
    }
    assert!(
        !client.exists(&key).await.expect("exists"),
        "{provider}: stored despite bad metadata"
    );
    scratch.cleanup().await;
}

/// Keys that are legal but awkward for a file system or a URL: each is its own object,
/// listed under its exact name.
pub async fn unusual_keys(client: &BucketClient) {
    let scratch = Scratch::new(client, "unusual_keys");
    let provider = scratch.provider();
    let longest = {
        let stem = scratch.key("long-");
        format!("{stem}{}", "L".repeat(MAX_KEY_LEN - stem.len()))
    };
    let deep = scratch.key(&["d"; 100].join("/"));
    let names = [
        "a",
        "a/b",
        "a/b/c",
        "folder/",
        "double//slash",
        "...",
        ".hidden",
        "with space",
        "percent%2Fescaped",
        "plus+sign&query?#hash",
        "Case",
        "case",
        "CASE",
        "unicodé/日本語/🦀",
        "tilde~name~",
        "colon:semicolon;comma,",
        "back\\slash",
        "quote\"and'apostrophe",
        "!bang",
    ];
    let mut keys: Vec<String> = names.iter().map(|name| scratch.key(name)).collect();
    keys.push(longest);
    keys.push(deep);
    for (i, key) in keys.iter().enumerate() {
        client
            .put(key, format!("object {i}"))
            .await
            .unwrap_or_else(|error| panic!("{provider}: put {key:?}: {error}"));
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            read(client, key).await,
            format!("object {i}"),
            "{provider}: {key:?} holds another object's bytes"
        );
    }
    let mut listed: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(
        futures::TryStreamExt::map_ok(client.list_all(scratch.prefix.clone()), |meta| meta.key),
    )
    .await
    .expect("list");
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed, expected, "{provider}: listing of unusual keys");
    listed.dedup();
    assert_eq!(
        listed.len(),
        keys.len(),
        "{provider}: a key was listed twice"
    );
    scratch.cleanup().await;
}
