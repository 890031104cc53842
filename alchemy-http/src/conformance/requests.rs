//! Checks of the request and response heads: methods, headers, status codes, paths and query
//! strings.

use alchemy_stream::{BoxError, ByteStream};
use http::{Method, Request, Response, StatusCode};

use super::support::{expect_status, get, header_items, request, send_ok, text_of};

/// Every common method reaches the handler as itself, and `HEAD` gets the head without a body.
pub async fn methods(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ] {
        let case = format!("methods, {method}");
        let response = send_ok(
            &send,
            &case,
            request(method.clone(), "/method", ByteStream::empty()),
        )
        .await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            text_of(&case, response).await,
            method.as_str(),
            "{case}: the handler saw another method"
        );
    }

    let case = "methods, HEAD";
    let response = send_ok(
        &send,
        case,
        request(Method::HEAD, "/method", ByteStream::empty()),
    )
    .await;
    let response = expect_status(case, response, StatusCode::OK).await;
    assert!(
        text_of(case, response).await.is_empty(),
        "{case}: a HEAD response carried a body"
    );
}

/// Request headers reach the handler, repeated ones with every value, and response headers
/// reach the client, repeated `set-cookie` headers each on its own.
pub async fn headers(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    let case = "headers, request";
    let request = Request::get("/headers")
        .header("x-single", "one")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("x-spaces", "a value  with spaces")
        .header("X-Mixed-Case", "Value")
        .header("x-empty", "")
        .body(ByteStream::empty())
        .expect("the conformance suite builds valid requests");
    let response = send_ok(&send, case, request).await;
    let response = expect_status(case, response, StatusCode::OK).await;
    let expectations: [(&str, &[&str]); 4] = [
        ("x-echo-x-single", &["one"]),
        ("x-echo-x-multi", &["a", "b"]),
        ("x-echo-x-spaces", &["a value  with spaces"]),
        ("x-echo-x-mixed-case", &["Value"]),
    ];
    for (name, values) in expectations {
        assert_eq!(
            header_items(&response, name),
            values,
            "{case}: the handler saw other values of {}",
            name.trim_start_matches("x-echo-")
        );
    }
    let empty = response.headers().get("x-echo-x-empty");
    assert!(
        empty.is_none_or(|value| value.is_empty()),
        "{case}: an empty header came through as {empty:?}"
    );

    let case = "headers, set-cookie";
    let response = send_ok(&send, case, get("/cookies")).await;
    let response = expect_status(case, response, StatusCode::OK).await;
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        cookies,
        ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
        "{case}: the set-cookie headers did not arrive one by one"
    );
}

/// The statuses that handlers give, from `200` to `503`, arrive as they are.
pub async fn status_codes(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    for code in [
        200u16, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 409, 410, 418, 422, 429, 500,
        502, 503,
    ] {
        let case = format!("status codes, {code}");
        let response = send_ok(&send, &case, get(&format!("/status/{code}"))).await;
        assert_eq!(
            response.status().as_u16(),
            code,
            "{case}: the client got another status"
        );
        assert!(
            text_of(&case, response).await.is_empty(),
            "{case}: a body appeared"
        );
    }
    let case = "status codes, unknown route";
    let response = send_ok(&send, case, get("/no/such/route")).await;
    expect_status(case, response, StatusCode::NOT_FOUND).await;
}

/// Query strings and paths reach the handler byte for byte, percent-encoding included.
pub async fn query_strings(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    for query in [
        "",
        "a=1",
        "a=1&b=2&a=3",
        "q=hello%20world&slash=%2F&question=%3F&amp=%26",
        "empty=&flag",
        "plus=a+b",
        "utf8=%C3%A9t%C3%A9",
    ] {
        let case = format!("query strings, {query:?}");
        let uri = if query.is_empty() {
            "/query".to_owned()
        } else {
            format!("/query?{query}")
        };
        let response = send_ok(&send, &case, get(&uri)).await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            text_of(&case, response).await,
            query,
            "{case}: the handler saw another query string"
        );
    }
    for path in [
        "/path/plain",
        "/path/with%20space",
        "/path/a%2Fb/c",
        "/path/%C3%A9",
    ] {
        let case = format!("paths, {path:?}");
        let response = send_ok(&send, &case, get(path)).await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            text_of(&case, response).await,
            path,
            "{case}: the handler saw another path"
        );
    }
}
