//! Multipart uploads, step by step and through `BucketClient::upload`.

use std::collections::BTreeMap;

use alchemy_stream::{ByteStream, Bytes};

use super::{assert_err, chunked, pattern, read, test_part_size, Scratch};
use crate::bucket::{BucketClient, BucketError, PartInfo, PutMode, PutOptions, UploadOptions};

/// Writes part `number` with `data`, panicking with the provider's name on failure.
async fn put_part(
    client: &BucketClient,
    key: &str,
    upload_id: &str,
    number: u32,
    data: &Bytes,
) -> PartInfo {
    client
        .store()
        .put_part(key, upload_id, number, ByteStream::from(data.clone()))
        .await
        .unwrap_or_else(|error| panic!("{}: put part {number}: {error}", client.provider()))
}

/// Three parts, written out of order (one of them twice), join into one object with the
/// upload's content type and metadata; nothing is visible before `complete_multipart`.
pub async fn multipart_three_parts(client: &BucketClient) {
    let scratch = Scratch::new(client, "multipart_three_parts");
    let provider = scratch.provider();
    let capabilities = client.capabilities();
    let store = client.store();
    let key = scratch.key("assembled");
    let size = test_part_size(&capabilities);
    let parts = [
        pattern(size, 11),
        pattern(size, 12),
        pattern(size / 3 + 1, 13),
    ];
    let options = PutOptions {
        content_type: Some("application/x-parts".into()),
        metadata: BTreeMap::from([("parts".to_string(), "3".to_string())]),
        ..PutOptions::default()
    };
    let upload_id = store
        .create_multipart(&key, options.clone())
        .await
        .expect("create_multipart");
    assert!(!upload_id.is_empty(), "{provider}: an empty upload id");

    let third = put_part(client, &key, &upload_id, 3, &parts[2]).await;
    let _replaced = put_part(client, &key, &upload_id, 1, &pattern(size, 99)).await;
    let first = put_part(client, &key, &upload_id, 1, &parts[0]).await;
    let second = put_part(client, &key, &upload_id, 2, &parts[1]).await;
    for (info, number, data) in [
        (&first, 1, &parts[0]),
        (&second, 2, &parts[1]),
        (&third, 3, &parts[2]),
    ] {
        assert_eq!(info.part_number, number, "{provider}: part number");
        assert_eq!(
            info.size,
            data.len() as u64,
            "{provider}: size of part {number}"
        );
        assert!(
            !info.etag.is_empty(),
            "{provider}: empty etag of part {number}"
        );
    }
    assert!(
        !client.exists(&key).await.expect("exists"),
        "{provider}: visible before completion"
    );

    let done = store
        .complete_multipart(&key, &upload_id, vec![first, second, third])
        .await
        .expect("complete_multipart");
    assert!(
        !done.etag.is_empty(),
        "{provider}: empty etag of the assembled object"
    );
    let expected: Vec<u8> = parts.iter().flat_map(|part| part.to_vec()).collect();
    assert!(
        read(client, &key).await == expected,
        "{provider}: the assembled bytes differ"
    );
    let head = client.head(&key).await.expect("head");
    assert_eq!(head.size, expected.len() as u64);
    assert_eq!(
        head.etag, done.etag,
        "{provider}: head's etag is not complete's"
    );
    if capabilities.content_type {
        assert_eq!(
            head.content_type, options.content_type,
            "{provider}: content type"
        );
    }
    if capabilities.user_metadata {
        assert_eq!(head.metadata, options.metadata, "{provider}: metadata");
    }
    assert_err!(
        provider,
        store
            .put_part(&key, &upload_id, 4, ByteStream::from("late"))
            .await,
        BucketError::NoSuchUpload { .. },
        "a part for a completed upload"
    );
    scratch.cleanup().await;
}

/// An aborted upload leaves no object and no upload behind; aborting twice succeeds.
pub async fn multipart_abort(client: &BucketClient) {
    let scratch = Scratch::new(client, "multipart_abort");
    let provider = scratch.provider();
    let store = client.store();
    let key = scratch.key("abandoned");
    let upload_id = store
        .create_multipart(&key, PutOptions::default())
        .await
        .expect("create_multipart");
    let part = put_part(client, &key, &upload_id, 1, &pattern(1000, 21)).await;
    store
        .abort_multipart(&key, &upload_id)
        .await
        .expect("abort");
    assert!(
        !client.exists(&key).await.expect("exists"),
        "{provider}: an aborted upload left an object"
    );
    assert_err!(
        provider,
        store.complete_multipart(&key, &upload_id, vec![part]).await,
        BucketError::NoSuchUpload { .. },
        "completing an aborted upload"
    );
    assert_err!(
        provider,
        store
            .put_part(&key, &upload_id, 2, ByteStream::from("x"))
            .await,
        BucketError::NoSuchUpload { .. },
        "a part for an aborted upload"
    );
    store
        .abort_multipart(&key, &upload_id)
        .await
        .expect("a second abort succeeds");
    assert_err!(
        provider,
        store
            .put_part(&key, "no-such-upload", 1, ByteStream::from("x"))
            .await,
        BucketError::NoSuchUpload { .. },
        "a part for an unknown upload id"
    );
    scratch.cleanup().await;
}

/// Parts that cannot be joined are refused with `InvalidPart`: a stale etag, the wrong order,
/// part number 0, and (where the provider has a minimum) a small part before the last.
pub async fn multipart_invalid_parts(client: &BucketClient) {
    let scratch = Scratch::new(client, "multipart_invalid_parts");
    let provider = scratch.provider();
    let capabilities = client.capabilities();
    let store = client.store();
    let key = scratch.key("refused");
    let size = test_part_size(&capabilities);
    let upload_id = store
        .create_multipart(&key, PutOptions::default())
        .await
        .expect("create_multipart");
    let first = put_part(client, &key, &upload_id, 1, &pattern(size, 31)).await;
    let second = put_part(client, &key, &upload_id, 2, &pattern(size, 32)).await;

    assert_err!(
        provider,
        store
            .put_part(&key, &upload_id, 0, ByteStream::from("x"))
            .await,
        BucketError::InvalidPart { part_number: 0, .. },
        "part number 0"
    );
    let stale = PartInfo {
        etag: "\"0123456789abcdef0123456789abcdef\"".into(),
        ..second.clone()
    };
    assert_err!(
        provider,
        store
            .complete_multipart(&key, &upload_id, vec![first.clone(), stale])
            .await,
        BucketError::InvalidPart { .. },
        "completing with a wrong etag"
    );
    assert_err!(
        provider,
        store
            .complete_multipart(&key, &upload_id, vec![second.clone(), first.clone()])
            .await,
        BucketError::InvalidPart { .. },
        "completing with parts out of order"
    );
    if capabilities.min_part_size > 1 {
        let small = put_part(client, &key, &upload_id, 1, &pattern(1, 33)).await;
        assert_err!(
            provider,
            store
                .complete_multipart(&key, &upload_id, vec![small, second])
                .await,
            BucketError::InvalidPart { .. },
            "completing with a first part below min_part_size"
        );
    }
    assert!(
        !client.exists(&key).await.expect("exists"),
        "{provider}: a refused upload wrote"
    );
    store
        .abort_multipart(&key, &upload_id)
        .await
        .expect("abort");
    scratch.cleanup().await;
}

/// The upload's `PutMode` is checked when it completes.
pub async fn multipart_conditional(client: &BucketClient) {
    let scratch = Scratch::new(client, "multipart_conditional");
    let provider = scratch.provider();
    let store = client.store();
    let key = scratch.key("taken");
    let existing = client.put(&key, "already here").await.expect("put");

    let upload_id = store
        .create_multipart(&key, PutMode::Create.into())
        .await
        .expect("create_multipart");
    let part = put_part(client, &key, &upload_id, 1, &pattern(100, 41)).await;
    assert_err!(
        provider,
        store.complete_multipart(&key, &upload_id, vec![part]).await,
        BucketError::AlreadyExists { .. },
        "a create-only upload of an existing key"
    );
    assert_eq!(read(client, &key).await, "already here");
    store
        .abort_multipart(&key, &upload_id)
        .await
        .expect("abort");

    let upload_id = store
        .create_multipart(&key, PutMode::Update(existing.etag).into())
        .await
        .expect("create_multipart");
    let part = put_part(client, &key, &upload_id, 1, &pattern(100, 42)).await;
    store
        .complete_multipart(&key, &upload_id, vec![part])
        .await
        .expect("an update-if-match upload with the current etag");
    assert!(
        read(client, &key).await == pattern(100, 42),
        "{provider}: the update was not written"
    );
    scratch.cleanup().await;
}

/// `BucketClient::upload` stores a body of unknown length spanning several parts, a body
/// of known length, and one smaller than a part, each byte for byte.
pub async fn upload_helper(client: &BucketClient) {
    let scratch = Scratch::new(client, "upload_helper");
    let provider = scratch.provider();
    let size = test_part_size(&client.capabilities());
    let data = pattern(size * 2 + size / 2, 51);
    let options = UploadOptions {
        part_size: size,
        put: PutOptions {
            content_type: Some("application/x-upload".into()),
            ..PutOptions::default()
        },
        ..UploadOptions::default()
    };

    let key = scratch.key("streamed");
    let put = client
        .upload_with(&key, chunked(&data, 100_000), options.clone())
        .await
        .expect("upload of unknown length");
    assert!(
        read(client, &key).await == data,
        "{provider}: uploaded bytes differ"
    );
    assert_eq!(client.head(&key).await.expect("head").etag, put.etag);
    if client.capabilities().content_type {
        assert_eq!(
            client
                .head(&key)
                .await
                .expect("head")
                .content_type
                .as_deref(),
            Some("application/x-upload"),
            "{provider}: content type of an upload"
        );
    }

    let sized = scratch.key("sized");
    client
        .upload(&sized, data.clone(), size)
        .await
        .expect("upload of known length");
    assert!(
        read(client, &sized).await == data,
        "{provider}: uploaded bytes differ"
    );

    let small = scratch.key("small");
    client
        .upload(&small, chunked(&data.slice(..1000), 7), size)
        .await
        .expect("small upload");
    assert!(
        read(client, &small).await == data.slice(..1000),
        "{provider}: small upload differs"
    );
    scratch.cleanup().await;
}
