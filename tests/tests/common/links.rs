//! The links example's behaviour, checked the same way on every stage it is deployed to.

use alchemy::http::client::Client;
use alchemy_stream::ByteStream;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

/// Where the links API answers: a client and the path prefix of its routes.
#[derive(Clone)]
pub struct Target {
    /// The client of the server.
    pub client: Client,
    /// Put before every route (the emulator's function URL path, or nothing).
    pub prefix: String,
}

impl Target {
    /// Sends `method path` with an optional JSON body; status, headers and the decoded body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix));
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                ByteStream::from(v.to_string())
            }
            None => ByteStream::empty(),
        };
        let res = self.client.send(req.body(body).unwrap()).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect(1 << 20).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        (status, headers, value)
    }
}

/// Makes, follows (`clicks` concurrent clicks, each counted), lists and deletes links.
pub async fn make_follow_count_list_and_delete(target: &Target, clicks: u64) {
    let (status, headers, made) = target
        .call(
            Method::POST,
            "/links",
            Some(json!({ "url": "https://example.com/a?b=c" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let code = made["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), links::CODE_LEN);
    assert_eq!(headers["location"], format!("/r/{code}"));

    let (status, _, named) = target
        .call(
            Method::POST,
            "/links",
            Some(json!({ "url": "http://example.org", "code": "home" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    let (status, _, taken) = target
        .call(
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

    // Concurrent clicks: each redirects, and every one is counted.
    let clicking: Vec<_> = (0..clicks)
        .map(|_| {
            let target = target.clone();
            let path = format!("/r/{code}");
            tokio::spawn(async move { target.call(Method::GET, &path, None).await })
        })
        .collect();
    for click in clicking {
        let (status, headers, _) = click.await.unwrap();
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(headers["location"], "https://example.com/a?b=c");
    }
    let (status, _, shown) = target
        .call(Method::GET, &format!("/links/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["clicks"], clicks, "{shown}");
    assert_eq!(shown["url"], "https://example.com/a?b=c");
    assert!(shown["last_click_ms"].as_u64().unwrap() > 0);

    let (_, _, listed) = target.call(Method::GET, "/links", None).await;
    let mut expected = vec![code.clone(), "home".to_owned()];
    expected.sort();
    assert_eq!(listed["codes"], json!(expected));
    let (_, _, first) = target.call(Method::GET, "/links?limit=1", None).await;
    assert_eq!(first["codes"], json!([expected[0]]));
    let after = first["next"].as_str().unwrap();
    let (_, _, second) = target
        .call(Method::GET, &format!("/links?after={after}"), None)
        .await;
    assert_eq!(second["codes"], json!([expected[1]]));
    assert!(second.get("next").is_none(), "{second}");

    let (status, _, _) = target
        .call(Method::DELETE, &format!("/links/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, gone) = target.call(Method::GET, &format!("/r/{code}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(gone["error"]
        .as_str()
        .unwrap()
        .contains("no link has the code"));
    let (status, _, _) = target
        .call(Method::DELETE, &format!("/links/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Bad input is refused with the reason, and nothing is stored (the stage must be empty).
pub async fn refuse_bad_input(target: &Target) {
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
        let (got, _, answer) = target
            .call(Method::POST, "/links", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    let (status, _, _) = target.call(Method::GET, "/r/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, listed) = target.call(Method::GET, "/links", None).await;
    assert_eq!(listed["codes"], json!([]), "nothing was stored");
}
