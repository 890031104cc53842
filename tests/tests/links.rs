//! The links example under `dev`, over real sockets: make, follow, count, list and delete
//! links, with concurrent clicks counted exactly and bad input refused.

mod common;

use alchemy::http::client::Client;
use alchemy_stream::ByteStream;
use common::dev::Dev;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

fn dev(dir: &std::path::Path) -> Dev {
    Dev::start_program(env!("CARGO_BIN_EXE_links-app"), dir, &[], &[])
}

async fn call(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            ByteStream::from(v.to_string())
        }
        None => ByteStream::empty(),
    };
    let res = client.send(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect(1 << 20).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    (status, headers, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_are_made_followed_counted_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dev(dir.path());
    let client = Client::new(&dev.url).unwrap();

    let (status, headers, made) = call(
        &client,
        Method::POST,
        "/links",
        Some(json!({ "url": "https://example.com/a?b=c" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let code = made["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), links::CODE_LEN);
    assert_eq!(headers["location"], format!("/r/{code}"));

    let (status, _, named) = call(
        &client,
        Method::POST,
        "/links",
        Some(json!({ "url": "http://example.org", "code": "home" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    let (status, _, taken) = call(
        &client,
        Method::POST,
        "/links",
        Some(json!({ "url": "http://example.net", "code": "home" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        taken["error"].as_str().unwrap().contains("`home` is taken"),
        "{taken}"
    );

    // 50 concurrent clicks: each redirects, and every one is counted.
    let clicks: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            let path = format!("/r/{code}");
            tokio::spawn(async move { call(&client, Method::GET, &path, None).await })
        })
        .collect();
    for click in clicks {
        let (status, headers, _) = click.await.unwrap();
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(headers["location"], "https://example.com/a?b=c");
    }
    let (status, _, shown) = call(&client, Method::GET, &format!("/links/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["clicks"], 50, "{shown}");
    assert_eq!(shown["url"], "https://example.com/a?b=c");
    assert!(shown["last_click_ms"].as_u64().unwrap() > 0);

    let (_, _, listed) = call(&client, Method::GET, "/links", None).await;
    let mut expected = vec![code.clone(), "home".to_owned()];
    expected.sort();
    assert_eq!(listed["codes"], json!(expected));
    let (_, _, first) = call(&client, Method::GET, "/links?limit=1", None).await;
    assert_eq!(first["codes"], json!([expected[0]]));
    let after = first["next"].as_str().unwrap();
    let (_, _, second) = call(&client, Method::GET, &format!("/links?after={after}"), None).await;
    assert_eq!(second["codes"], json!([expected[1]]));
    assert!(second.get("next").is_none(), "{second}");

    let (status, _, _) = call(&client, Method::DELETE, &format!("/links/{code}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, gone) = call(&client, Method::GET, &format!("/r/{code}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(gone["error"]
        .as_str()
        .unwrap()
        .contains("no link has the code"));
    let (status, _, _) = call(&client, Method::DELETE, &format!("/links/{code}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dev(dir.path());
    let client = Client::new(&dev.url).unwrap();
    for (body, status, says) in [
        (
            json!({ "url": "ftp://x" }),
            StatusCode::BAD_REQUEST,
            "must start with http:// or https://",
        ),
        (
            json!({ "url": "https://x", "code": "a/b" }),
            StatusCode::BAD_REQUEST,
            "invalid code `a/b`",
        ),
        (
            json!({ "link": "https://x" }),
            StatusCode::BAD_REQUEST,
            "send a JSON object with `url`",
        ),
    ] {
        let (got, _, answer) = call(&client, Method::POST, "/links", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    let (status, _, _) = call(&client, Method::GET, "/r/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, listed) = call(&client, Method::GET, "/links", None).await;
    assert_eq!(listed["codes"], json!([]), "nothing was stored");
    dev.stop();
}
