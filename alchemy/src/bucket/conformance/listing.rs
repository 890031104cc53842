//! Listing: order, prefixes, pagination, delimiters and `start_after`.

use futures::TryStreamExt;

use super::Scratch;
use crate::bucket::{BucketClient, ListOptions, ListPage};

/// Every page of a listing, following continuation tokens.
async fn all_pages(client: &BucketClient, options: ListOptions) -> Vec<ListPage> {
    let provider = client.provider();
    let mut pages = Vec::new();
    let mut next = options.clone();
    loop {
        let page = client
            .list(next.clone())
            .await
            .unwrap_or_else(|error| panic!("{provider}: list {next:?}: {error}"));
        let token = page.next.clone();
        pages.push(page);
        assert!(pages.len() <= 1000, "{provider}: a listing never ends");
        match token {
            Some(token) => next.continuation = Some(token),
            None => return pages,
        }
    }
}

/// The keys and common prefixes of all pages, each joined in order.
fn flatten(pages: &[ListPage]) -> (Vec<String>, Vec<String>) {
    let keys = pages
        .iter()
        .flat_map(|page| page.objects.iter().map(|meta| meta.key.clone()))
        .collect();
    let prefixes = pages
        .iter()
        .flat_map(|page| page.common_prefixes.iter().cloned())
        .collect();
    (keys, prefixes)
}

/// Listing returns objects in key order with their size and etag, filtered by prefix.
pub async fn list_basics(client: &BucketClient) {
    let scratch = Scratch::new(client, "list_basics");
    let provider = scratch.provider();
    let names = ["c", "a", "b/d", "bz", "b/c"];
    for (i, name) in names.iter().enumerate() {
        client
            .put(&scratch.key(name), "x".repeat(i + 1))
            .await
            .expect("put");
    }
    let all = client
        .list(ListOptions {
            prefix: Some(scratch.prefix.clone()),
            ..ListOptions::default()
        })
        .await
        .expect("list");
    let keys: Vec<&str> = all.objects.iter().map(|meta| meta.key.as_str()).collect();
    let expected: Vec<String> = ["a", "b/c", "b/d", "bz", "c"]
        .iter()
        .map(|n| scratch.key(n))
        .collect();
    assert_eq!(keys, expected, "{provider}: listing order");
    assert!(
        all.common_prefixes.is_empty(),
        "{provider}: prefixes without a delimiter"
    );
    assert_eq!(all.next, None, "{provider}: a short listing has one page");
    for meta in &all.objects {
        let head = client.head(&meta.key).await.expect("head");
        assert_eq!(
            (meta.size, &meta.etag),
            (head.size, &head.etag),
            "{provider}: listed meta of {:?}",
            meta.key
        );
        assert!(meta.last_modified > 0, "{provider}: listed last_modified");
    }

    let narrowed = |prefix: &str| {
        let prefix = scratch.key(prefix);
        async move {
            let options = ListOptions {
                prefix: Some(prefix),
                ..ListOptions::default()
            };
            let (keys, _) = flatten(&all_pages(client, options).await);
            keys
        }
    };
    let b: Vec<String> = ["b/c", "b/d", "bz"]
        .iter()
        .map(|n| scratch.key(n))
        .collect();
    assert_eq!(narrowed("b").await, b, "{provider}: prefix `b`");
    assert_eq!(narrowed("b/").await, &b[..2], "{provider}: prefix `b/`");
    assert!(
        narrowed("nothing-here").await.is_empty(),
        "{provider}: a prefix without keys"
    );

    let streamed: Vec<String> = client
        .list_all(scratch.prefix.clone())
        .map_ok(|meta| meta.key)
        .try_collect()
        .await
        .expect("list_all");
    assert_eq!(streamed, expected, "{provider}: list_all");
    scratch.cleanup().await;
}

/// Small pages (`max_keys` 1 and 2) join up to the full listing, without repeats or gaps.
pub async fn list_pagination(client: &BucketClient) {
    let scratch = Scratch::new(client, "list_pagination");
    let provider = scratch.provider();
    let mut expected: Vec<String> = (0..7).map(|i| scratch.key(&format!("item-{i}"))).collect();
    expected.push(scratch.key("nested/deeper/item"));
    for key in &expected {
        client.put(key, "x").await.expect("put");
    }
    expected.sort();
    for max_keys in [1, 2, 3] {
        let options = ListOptions {
            prefix: Some(scratch.prefix.clone()),
            max_keys: Some(max_keys),
            ..ListOptions::default()
        };
        let pages = all_pages(client, options).await;
        for page in &pages {
            assert!(
                page.objects.len() <= max_keys as usize,
                "{provider}: a page of {} objects with max_keys {max_keys}",
                page.objects.len()
            );
        }
        assert!(
            pages.len() >= expected.len().div_ceil(max_keys as usize),
            "{provider}: max_keys {max_keys} was ignored"
        );
        let (keys, _) = flatten(&pages);
        assert_eq!(keys, expected, "{provider}: pages of {max_keys} joined");
    }
    let streamed: Vec<String> = client
        .list_all(scratch.prefix.clone())
        .map_ok(|meta| meta.key)
        .try_collect()
        .await
        .expect("list_all");
    assert_eq!(streamed, expected, "{provider}: list_all");
    scratch.cleanup().await;
}

/// A `/` delimiter rolls deeper keys up into common prefixes, page by page too.
pub async fn list_delimiter(client: &BucketClient) {
    let scratch = Scratch::new(client, "list_delimiter");
    let provider = scratch.provider();
    for name in ["a", "b/1", "b/2", "c/x/y", "d", "e/", "f/g/"] {
        client.put(&scratch.key(name), "x").await.expect("put");
    }
    let listing = |prefix: String, max_keys: Option<u32>| async move {
        let options = ListOptions {
            prefix: Some(prefix),
            delimiter: Some("/".into()),
            max_keys,
            ..ListOptions::default()
        };
        let pages = all_pages(client, options).await;
        if let Some(max) = max_keys {
            for page in &pages {
                let entries = page.objects.len() + page.common_prefixes.len();
                assert!(
                    entries <= max as usize,
                    "{provider}: {entries} entries with max_keys {max}"
                );
            }
        }
        flatten(&pages)
    };
    let keys = |names: &[&str]| names.iter().map(|n| scratch.key(n)).collect::<Vec<_>>();

    let top = listing(scratch.prefix.clone(), None).await;
    assert_eq!(
        top,
        (keys(&["a", "d"]), keys(&["b/", "c/", "e/", "f/"])),
        "{provider}: top level"
    );
    for max_keys in [1, 2] {
        let paged = listing(scratch.prefix.clone(), Some(max_keys)).await;
        assert_eq!(paged, top, "{provider}: top level in pages of {max_keys}");
    }
    assert_eq!(
        listing(scratch.key("b/"), None).await,
        (keys(&["b/1", "b/2"]), vec![]),
        "{provider}: inside b/"
    );
    assert_eq!(
        listing(scratch.key("c/"), None).await,
        (vec![], keys(&["c/x/"])),
        "{provider}: inside c/"
    );
    assert_eq!(
        listing(scratch.key("e/"), None).await,
        (keys(&["e/"]), vec![]),
        "{provider}: a folder marker"
    );
    assert_eq!(
        listing(scratch.key("f/"), None).await,
        (vec![], keys(&["f/g/"])),
        "{provider}: inside f/"
    );
    assert_eq!(
        listing(scratch.key("b"), None).await,
        (vec![], keys(&["b/"])),
        "{provider}: prefix `b` without its slash"
    );
    scratch.cleanup().await;
}

/// `start_after` skips every key up to and including the one it names.
pub async fn list_start_after(client: &BucketClient) {
    let scratch = Scratch::new(client, "list_start_after");
    let provider = scratch.provider();
    let keys: Vec<String> = (1..=5).map(|i| scratch.key(&format!("k{i}"))).collect();
    for key in &keys {
        client.put(key, "x").await.expect("put");
    }
    for (start_after, expected) in [
        (scratch.key("k2"), &keys[2..]),
        (scratch.key("k2-between"), &keys[2..]),
        (scratch.key("k5"), &keys[5..]),
        (scratch.prefix.clone(), &keys[..]),
    ] {
        for max_keys in [None, Some(2)] {
            let options = ListOptions {
                prefix: Some(scratch.prefix.clone()),
                start_after: Some(start_after.clone()),
                max_keys,
                ..ListOptions::default()
            };
            let (listed, _) = flatten(&all_pages(client, options).await);
            assert_eq!(
                listed, expected,
                "{provider}: start_after {start_after:?}, max_keys {max_keys:?}"
            );
        }
    }
    scratch.cleanup().await;
}
