//! Key-value storage, batches, transactions and SQL.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{call, call_json, Target};

/// Bytes and JSON values go in and come back; deletes say whether the key was there; keys
/// that break the rules are refused.
pub async fn storage_bytes_and_json(target: &Target) {
    let stub = target.fresh("storage");
    let (status, _) = call(&stub, Method::GET, "/storage/bytes?key=missing", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let binary: Vec<u8> = (0..=255u8).collect();
    call(
        &stub,
        Method::PUT,
        "/storage/bytes?key=blob",
        binary.clone(),
    )
    .await;
    let req = http::Request::get("/storage/bytes?key=blob")
        .body(crate::actor::ByteStream::empty())
        .expect("request");
    let body = stub
        .fetch(req)
        .await
        .expect("get")
        .into_body()
        .collect(1024)
        .await
        .expect("body");
    assert_eq!(
        body.as_ref(),
        binary.as_slice(),
        "{}: bytes changed",
        target.provider()
    );

    let value = json!({"name": "ada", "tags": ["a", "b"], "n": 1.5, "none": null});
    call(
        &stub,
        Method::PUT,
        "/storage/json?key=doc",
        value.to_string(),
    )
    .await;
    let read: Value = call_json(&stub, Method::GET, "/storage/json?key=doc", "").await;
    assert_eq!(read, value);

    call(&stub, Method::PUT, "/storage/bytes?key=blob", "replaced").await;
    let (_, replaced) = call(&stub, Method::GET, "/storage/bytes?key=blob", "").await;
    assert_eq!(replaced, "replaced");

    assert!(call_json::<bool>(&stub, Method::DELETE, "/storage/key?key=doc", "").await);
    assert!(!call_json::<bool>(&stub, Method::DELETE, "/storage/key?key=doc", "").await);
    let gone: Value = call_json(&stub, Method::GET, "/storage/json?key=doc", "").await;
    assert_eq!(gone, Value::Null);

    // A value that is not JSON does not decode as one: a clear error, not a panic.
    call(&stub, Method::PUT, "/storage/bytes?key=raw", "not json").await;
    let req = http::Request::get("/storage/json?key=raw")
        .body(crate::actor::ByteStream::empty())
        .expect("request");
    let error = stub
        .fetch(req)
        .await
        .expect_err("decoding non-JSON must fail");
    assert!(error.to_string().contains("`raw`"), "{error}");

    // The empty key is refused.
    let req = http::Request::put("/storage/bytes?key=")
        .body(crate::actor::ByteStream::from("x"))
        .expect("request");
    let error = stub
        .fetch(req)
        .await
        .expect_err("the empty key must be refused");
    assert!(error.to_string().contains("empty"), "{error}");

    call(&stub, Method::POST, "/storage/delete-all", "").await;
    let left: Vec<(String, String)> =
        call_json(&stub, Method::GET, "/storage/list?prefix=", "").await;
    assert!(left.is_empty(), "delete_all left {left:?}");
}

/// Listing by prefix, in key order, after a key, in reverse and with a limit.
pub async fn storage_list(target: &Target) {
    let stub = target.fresh("list");
    for key in ["b/2", "a/1", "b/1", "b/3", "c", "b/10", "b~"] {
        call(
            &stub,
            Method::PUT,
            &format!("/storage/bytes?key={key}"),
            key.to_string(),
        )
        .await;
    }
    let keys = |entries: Vec<(String, String)>| -> Vec<String> {
        entries.into_iter().map(|(key, _)| key).collect()
    };
    let all: Vec<(String, String)> =
        call_json(&stub, Method::GET, "/storage/list?prefix=b/", "").await;
    assert_eq!(
        keys(all),
        ["b/1", "b/10", "b/2", "b/3"],
        "{}",
        target.provider()
    );
    let after: Vec<(String, String)> = call_json(
        &stub,
        Method::GET,
        "/storage/list?prefix=b/&start_after=b/10&limit=1",
        "",
    )
    .await;
    assert_eq!(keys(after), ["b/2"]);
    let reverse: Vec<(String, String)> = call_json(
        &stub,
        Method::GET,
        "/storage/list?prefix=b/&reverse&limit=2",
        "",
    )
    .await;
    assert_eq!(keys(reverse), ["b/3", "b/2"]);
    let prefixed: Vec<(String, String)> =
        call_json(&stub, Method::GET, "/storage/list?prefix=b", "").await;
    assert_eq!(prefixed.len(), 5, "{prefixed:?}");
    assert_eq!(prefixed[4].0, "b~");

    call(&stub, Method::PUT, "/storage/json?key=n/1", "1").await;
    call(&stub, Method::PUT, "/storage/json?key=n/2", "{\"x\":2}").await;
    let typed: Value = call_json(&stub, Method::GET, "/storage/typed-list?prefix=n/", "").await;
    assert_eq!(typed, json!({"n/1": 1, "n/2": {"x": 2}}));
}

/// A batch applies all of its writes, in order; one bad write and none are applied.
pub async fn batch_is_atomic(target: &Target) {
    let stub = target.fresh("batch");
    call(&stub, Method::PUT, "/storage/bytes?key=old", "old").await;
    let ops = json!([["a", "1"], ["b", "2"], ["old", null], ["a", "3"]]);
    call(&stub, Method::POST, "/storage/batch", ops.to_string()).await;
    let entries: Vec<(String, String)> =
        call_json(&stub, Method::GET, "/storage/list?prefix=", "").await;
    let data: Vec<(String, String)> = entries
        .into_iter()
        .filter(|(key, _)| key.len() == 1)
        .collect();
    assert_eq!(
        data,
        [
            ("a".to_string(), "3".to_string()),
            ("b".to_string(), "2".to_string())
        ]
    );

    let bad = json!([["c", "1"], ["", "empty key"]]);
    let req = http::Request::post("/storage/batch")
        .body(crate::actor::ByteStream::from(bad.to_string()))
        .expect("request");
    stub.fetch(req)
        .await
        .expect_err("a batch with a bad key must fail");
    let (status, _) = call(&stub, Method::GET, "/storage/bytes?key=c", "").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}: a failed batch was partly applied",
        target.provider()
    );
}

/// A transaction commits all of its writes, or none of them when it fails or rolls back;
/// its reads see its own writes.
pub async fn transactions(target: &Target) {
    let stub = target.fresh("transactions");
    call(&stub, Method::PUT, "/storage/json?key=alice", "10").await;
    let left: i64 = call_json(
        &stub,
        Method::POST,
        "/transfer?from=alice&to=bob&amount=4",
        "",
    )
    .await;
    assert_eq!(left, 6);
    let balance = |key: &'static str| {
        let stub = stub.clone();
        async move {
            call_json::<Value>(&stub, Method::GET, &format!("/storage/json?key={key}"), "").await
        }
    };
    assert_eq!(balance("alice").await, json!(6));
    assert_eq!(balance("bob").await, json!(4));

    let (status, body) = call(
        &stub,
        Method::POST,
        "/transfer?from=alice&to=bob&amount=7",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = call(
        &stub,
        Method::POST,
        "/transfer?from=alice&to=bob&amount=1&fail_after",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = call(
        &stub,
        Method::POST,
        "/transfer?from=alice&to=bob&amount=1&rollback",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (balance("alice").await, balance("bob").await),
        (json!(6), json!(4)),
        "{}: a failed or rolled back transaction wrote something",
        target.provider()
    );
}

/// SQL: a table, inserts with parameters of every type, typed rows, clear errors.
pub async fn sql(target: &Target) {
    let stub = target.fresh("sql");
    call(&stub, Method::POST, "/sql/setup", "").await;
    let written: u64 = call_json(&stub, Method::POST, "/sql/insert", "first").await;
    assert_eq!(written, 1);
    call_json::<u64>(&stub, Method::POST, "/sql/insert", "second note").await;
    let notes: Value = call_json(&stub, Method::GET, "/sql/select", "").await;
    assert_eq!(
        notes,
        json!([
            {"id": 1, "body": "first", "size": 5.0, "data": b"first".to_vec()},
            {"id": 2, "body": "second note", "size": 11.0, "data": b"second note".to_vec()},
        ]),
        "{}",
        target.provider()
    );
    let (status, error) = call(&stub, Method::GET, "/sql/bad", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.contains("SQL failed"), "{error}");
}
