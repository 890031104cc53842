//! Helpers of the checks: building requests, sending them, reading answers.

use alchemy_stream::{BoxError, ByteStream, Bytes};
use http::{Method, Request, Response, StatusCode};

/// A request of `method` to `uri` (a path and query) with `body`.
pub(crate) fn request(method: Method, uri: &str, body: ByteStream) -> Request<ByteStream> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap_or_else(|error| {
            panic!("the conformance suite built a bad request to {uri}: {error}")
        })
}

/// A `GET` of `uri` without a body.
pub(crate) fn get(uri: &str) -> Request<ByteStream> {
    request(Method::GET, uri, ByteStream::empty())
}

/// Sends `request`, panicking with `case` if the implementation fails to answer.
pub(crate) async fn send_ok(
    send: &impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    case: &str,
    request: Request<ByteStream>,
) -> Response<ByteStream> {
    send(request)
        .await
        .unwrap_or_else(|error| panic!("{case}: the request failed: {error}"))
}

/// Checks the status, panicking with `case` and the body otherwise.
pub(crate) async fn expect_status(
    case: &str,
    response: Response<ByteStream>,
    status: StatusCode,
) -> Response<ByteStream> {
    if response.status() == status {
        return response;
    }
    let got = response.status();
    let body = response.into_body().collect(4096).await.unwrap_or_default();
    panic!(
        "{case}: expected status {status}, got {got} with body {:?}",
        String::from_utf8_lossy(&body)
    );
}

/// The whole body, up to 64 MiB.
pub(crate) async fn body_of(case: &str, response: Response<ByteStream>) -> Bytes {
    response
        .into_body()
        .collect(64 << 20)
        .await
        .unwrap_or_else(|error| panic!("{case}: reading the response body failed: {error}"))
}

/// The whole body, as text.
pub(crate) async fn text_of(case: &str, response: Response<ByteStream>) -> String {
    let body = body_of(case, response).await;
    String::from_utf8(body.to_vec())
        .unwrap_or_else(|_| panic!("{case}: the response body is not UTF-8"))
}

/// The values of header `name`, each comma-separated list split into its items (platforms may
/// fold repeated headers into one).
pub(crate) fn header_items(response: &Response<ByteStream>, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().to_owned())
        .collect()
}
