//! Range reads.

use super::{assert_err, pattern, Scratch};
use crate::bucket::{BucketClient, BucketError, ByteRange};

/// Ranges select the bytes an HTTP `Range` header would: bounded, open-ended and suffix
/// ranges, a range ending exactly at the end, one running past it (cut short), and ranges that
/// start past the end (refused).
pub async fn range_reads(client: &BucketClient) {
    let scratch = Scratch::new(client, "range_reads");
    let provider = scratch.provider();
    let key = scratch.key("object");
    let data = pattern(10_000, 4);
    let size = data.len() as u64;
    client.put(&key, data.clone()).await.expect("put");

    let cases: [(ByteRange, std::ops::Range<u64>); 9] = [
        ((0..1).into(), 0..1),
        ((100..200).into(), 100..200),
        ((100..=199).into(), 100..200),
        ((9_990..size).into(), 9_990..size),
        ((size - 1..size).into(), size - 1..size),
        ((9_000..20_000).into(), 9_000..size),
        ((9_999..).into(), 9_999..size),
        (ByteRange::Suffix(10), size - 10..size),
        (ByteRange::Suffix(size * 2), 0..size),
    ];
    for (range, expected) in cases {
        let got = client
            .get_range(&key, range)
            .await
            .unwrap_or_else(|error| panic!("{provider}: get {range}: {error}"));
        assert_eq!(
            got.range, expected,
            "{provider}: the range served for {range}"
        );
        assert_eq!(
            got.meta.size, size,
            "{provider}: meta.size is the whole object's for {range}"
        );
        assert_eq!(
            got.body.len(),
            Some(expected.end - expected.start),
            "{provider}: the body of {range} has an exact length"
        );
        let body = got.body.collect(usize::MAX).await.expect("read the range");
        let want = data.slice(expected.start as usize..expected.end as usize);
        assert!(body == want, "{provider}: wrong bytes for {range}");
    }

    for range in [
        ByteRange::from(size..),
        (size..size + 10).into(),
        (size + 100..).into(),
    ] {
        assert_err!(
            provider,
            client.get_range(&key, range).await,
            BucketError::InvalidRange { size: s, .. } if s == size,
            "get {range} of a {size}-byte object"
        );
    }
    assert_err!(
        provider,
        client.get_range(&scratch.key("missing"), 0..1).await,
        BucketError::NotFound { .. },
        "a range of a missing object"
    );
    scratch.cleanup().await;
}
