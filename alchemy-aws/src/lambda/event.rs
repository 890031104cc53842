//! The HTTP events of Lambda function URLs and API Gateway HTTP APIs (payload format 2.0), and
//! their mapping to and from `http` requests and responses.

use std::collections::BTreeMap;

use alchemy::http::ByteStream;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// The largest response body sent in a buffered response: Lambda's 6 MB payload limit, less
/// base64's growth by a third and room for the status and headers.
pub const MAX_BUFFERED_BODY: usize = 4 << 20;

/// An HTTP request as a function URL or an API Gateway HTTP API (payload format 2.0) delivers
/// it to the function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpEvent {
    /// The payload format (`2.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The path, as the client sent it (percent-encoded).
    #[serde(default)]
    pub raw_path: String,
    /// The query string without `?`, as the client sent it.
    #[serde(default)]
    pub raw_query_string: String,
    /// The request's cookies, one `name=value` each (taken out of the `Cookie` header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<String>,
    /// The headers, lower-cased; repeated headers are joined with commas.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Where the request came from and how.
    pub request_context: RequestContext,
    /// The body, as text or base64 (see `is_base64_encoded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default)]
    pub is_base64_encoded: bool,
}

/// The `requestContext` of an [`HttpEvent`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// The HTTP part: method and path.
    pub http: HttpContext,
    /// The host name the request was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// The request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The `requestContext.http` of an [`HttpEvent`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    /// The method.
    pub method: String,
    /// The path (used when `rawPath` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

/// The response a function returns for an [`HttpEvent`] (payload format 2.0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    /// The status code.
    pub status_code: u16,
    /// The headers; repeated headers are joined with commas (`Set-Cookie` goes to `cookies`).
    pub headers: BTreeMap<String, String>,
    /// One `Set-Cookie` value each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<String>,
    /// The body, as text or base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

/// Why an event is not a request the handler can be given: the function answers
/// `400 Bad Request` saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(String);

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventError {}

impl HttpEvent {
    /// The request the event stands for: method, path and query as sent, the headers, the
    /// cookies as one `Cookie` header, and the body (base64-decoded when it was encoded) as a
    /// [`ByteStream`] of known length.
    pub fn into_request(self) -> Result<Request<ByteStream>, EventError> {
        let method =
            Method::from_bytes(self.request_context.http.method.as_bytes()).map_err(|_| {
                EventError(format!(
                    "the event's method `{}` is not an HTTP method",
                    self.request_context.http.method
                ))
            })?;
        let path = match (self.raw_path.is_empty(), &self.request_context.http.path) {
            (false, _) => self.raw_path,
            (true, Some(path)) if !path.is_empty() => encode_path(path),
            (true, _) => "/".to_string(),
        };
        let uri = if self.raw_query_string.is_empty() {
            path
        } else {
            format!("{path}?{}", self.raw_query_string)
        };
        let mut request = Request::builder().method(method).uri(&uri);
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| EventError(format!("the event's header name `{name}` is invalid")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                EventError(format!("the event's header `{name}` has an invalid value"))
            })?;
            request = request.header(name, value);
        }
        if !self.cookies.is_empty() {
            let cookies = HeaderValue::from_str(&self.cookies.join("; "))
                .map_err(|_| EventError("the event's cookies are not a valid header".into()))?;
            request = request.header(COOKIE, cookies);
        }
        let body = match self.body {
            None => Bytes::new(),
            Some(body) if self.is_base64_encoded => BASE64
                .decode(body.as_bytes())
                .map(Bytes::from)
                .map_err(|e| EventError(format!("the event's base64 body is invalid: {e}")))?,
            Some(body) => Bytes::from(body),
        };
        let len = body.len() as u64;
        request
            .body(ByteStream::from(body).with_exact_len(len))
            .map_err(|e| EventError(format!("the event's path `{uri}` is not a valid URI: {e}")))
    }
}

impl HttpResponse {
    /// The buffered form of `response`: its body read whole (at most [`MAX_BUFFERED_BODY`]
    /// bytes, else a `502` saying so), sent as text when its `Content-Type` is textual and it
    /// is UTF-8, as base64 otherwise; `Set-Cookie` headers become `cookies`.
    pub async fn from_response(response: Response<ByteStream>) -> HttpResponse {
        let (parts, body) = response.into_parts();
        let body = match body.collect(MAX_BUFFERED_BODY).await {
            Ok(body) => body,
            Err(error) => {
                return HttpResponse::error(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "the response body could not be sent: {error}. A buffered Lambda response holds at most {MAX_BUFFERED_BODY} bytes; stream larger ones (see alchemy_aws::lambda)"
                    ),
                )
            }
        };
        let (headers, cookies) = split_headers(&parts.headers);
        let textual = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_textual);
        let (body, is_base64_encoded) = if body.is_empty() {
            (None, false)
        } else {
            match std::str::from_utf8(&body) {
                Ok(text) if textual => (Some(text.to_string()), false),
                _ => (Some(BASE64.encode(&body)), true),
            }
        };
        HttpResponse {
            status_code: parts.status.as_u16(),
            headers,
            cookies,
            body,
            is_base64_encoded,
        }
    }

    /// A plain-text response of `status` with `message`.
    pub fn error(status: StatusCode, message: &str) -> HttpResponse {
        HttpResponse {
            status_code: status.as_u16(),
            headers: BTreeMap::from([(
                CONTENT_TYPE.to_string(),
                "text/plain; charset=utf-8".to_string(),
            )]),
            cookies: Vec::new(),
            body: Some(format!("{message}\n")),
            is_base64_encoded: false,
        }
    }
}

/// The headers of a response as payload format 2.0 has them: repeated headers joined with
/// commas, and the `Set-Cookie` values apart.
pub(crate) fn split_headers(headers: &http::HeaderMap) -> (BTreeMap<String, String>, Vec<String>) {
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == SET_COOKIE {
            cookies.push(value);
            continue;
        }
        joined
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    (joined, cookies)
}

/// `path` (decoded, as `requestContext.http.path` has it) percent-encoded where a URI needs it.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether a body of `content_type` is text that goes as it is rather than base64.
fn is_textual(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
            "application/yaml",
            "application/x-www-form-urlencoded",
        ]
        .contains(&essence.as_str())
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A function URL event as AWS documents it.
    fn sample() -> serde_json::Value {
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/photos/caf%C3%A9.jpg",
            "rawQueryString": "size=large&tag=a&tag=b",
            "cookies": ["session=abc", "theme=dark"],
            "headers": {
                "host": "abcdefg.lambda-url.us-east-1.on.aws",
                "content-type": "image/jpeg",
                "accept": "image/webp, image/*",
                "x-amzn-trace-id": "Root=1-5e1b4151-5ac6c58f5b5d"
            },
            "queryStringParameters": { "size": "large", "tag": "a,b" },
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "abcdefg",
                "domainName": "abcdefg.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abcdefg",
                "http": {
                    "method": "PUT",
                    "path": "/photos/café.jpg",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "curl/8.0"
                },
                "requestId": "id-1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000",
                "timeEpoch": 1583348638390u64
            },
            "body": BASE64.encode([0xff, 0xd8, 0xff, 0x00, 0x01]),
            "isBase64Encoded": true
        })
    }

    async fn body(request: Request<ByteStream>) -> Vec<u8> {
        request.into_body().collect(1 << 20).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn an_event_becomes_the_request_it_stands_for() {
        let event: HttpEvent = serde_json::from_value(sample()).unwrap();
        let request = event.into_request().unwrap();
        assert_eq!(request.method(), Method::PUT);
        assert_eq!(
            request.uri().to_string(),
            "/photos/caf%C3%A9.jpg?size=large&tag=a&tag=b"
        );
        assert_eq!(request.uri().query(), Some("size=large&tag=a&tag=b"));
        let headers = request.headers();
        assert_eq!(headers["host"], "abcdefg.lambda-url.us-east-1.on.aws");
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["accept"], "image/webp, image/*");
        assert_eq!(headers["cookie"], "session=abc; theme=dark");
        assert_eq!(request.body().len(), Some(5));
        assert_eq!(body(request).await, [0xff, 0xd8, 0xff, 0x00, 0x01]);
    }

    #[tokio::test]
    async fn a_text_body_and_a_missing_raw_path() {
        let mut value = sample();
        value["body"] = json!("hello, wörld");
        value["isBase64Encoded"] = json!(false);
        value["rawPath"] = json!("");
        value["rawQueryString"] = json!("");
        value["cookies"] = json!([]);
        let event: HttpEvent = serde_json::from_value(value).unwrap();
        let request = event.into_request().unwrap();
        assert_eq!(request.uri().to_string(), "/photos/caf%C3%A9.jpg");
        assert!(request.headers().get("cookie").is_none());
        assert_eq!(body(request).await, "hello, wörld".as_bytes());
    }

    #[tokio::test]
    async fn an_event_without_body_or_path_is_a_get_of_the_root() {
        let event: HttpEvent =
            serde_json::from_value(json!({ "requestContext": { "http": { "method": "GET" } } }))
                .unwrap();
        let request = event.into_request().unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().to_string(), "/");
        assert_eq!(request.body().len(), Some(0));
        assert!(body(request).await.is_empty());
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let mut value = sample();
        value["body"] = json!("not base64!");
        let event: HttpEvent = serde_json::from_value(value).unwrap();
        let error = event.into_request().unwrap_err().to_string();
        assert!(
            error.starts_with("the event's base64 body is invalid: "),
            "{error}"
        );

        let mut value = event_value_with_method("GE T");
        value["body"] = json!(null);
        let event: HttpEvent = serde_json::from_value(value).unwrap();
        assert_eq!(
            event.into_request().unwrap_err().to_string(),
            "the event's method `GE T` is not an HTTP method"
        );

        let mut value = sample();
        value["headers"] = json!({ "x-bad": "line\nbreak" });
        let event: HttpEvent = serde_json::from_value(value).unwrap();
        assert_eq!(
            event.into_request().unwrap_err().to_string(),
            "the event's header `x-bad` has an invalid value"
        );
    }

    fn event_value_with_method(method: &str) -> serde_json::Value {
        let mut value = sample();
        value["requestContext"]["http"]["method"] = json!(method);
        value
    }

    fn response(
        status: u16,
        content_type: Option<&str>,
        body: &'static [u8],
    ) -> Response<ByteStream> {
        let mut builder = Response::builder().status(status);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(ByteStream::from(body)).unwrap()
    }

    #[tokio::test]
    async fn a_json_response_goes_as_text_with_cookies_apart() {
        let mut res = response(201, Some("application/json"), br#"{"name":"cat.jpg"}"#);
        let headers = res.headers_mut();
        headers.append(SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2; HttpOnly"));
        headers.append("vary", HeaderValue::from_static("accept"));
        headers.append("vary", HeaderValue::from_static("origin"));
        headers.insert("etag", HeaderValue::from_static("\"abc\""));
        let out = HttpResponse::from_response(res).await;
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({
                "statusCode": 201,
                "headers": { "content-type": "application/json", "etag": "\"abc\"", "vary": "accept, origin" },
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "body": "{\"name\":\"cat.jpg\"}",
                "isBase64Encoded": false
            })
        );
    }

    #[tokio::test]
    async fn a_binary_response_goes_as_base64() {
        let bytes: &'static [u8] = &[0x89, b'P', b'N', b'G', 0x00, 0xff];
        let out = HttpResponse::from_response(response(200, Some("image/png"), bytes)).await;
        assert_eq!(out.status_code, 200);
        assert!(out.is_base64_encoded);
        assert_eq!(BASE64.decode(out.body.unwrap()).unwrap(), bytes);
        assert!(out.cookies.is_empty());
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_or_not_declared_textual_goes_as_base64() {
        let out =
            HttpResponse::from_response(response(200, Some("text/plain"), &[0xff, 0xfe])).await;
        assert!(out.is_base64_encoded);
        assert_eq!(out.body.as_deref(), Some("//4="));
        let out = HttpResponse::from_response(response(200, None, b"plain")).await;
        assert!(out.is_base64_encoded);
        assert_eq!(BASE64.decode(out.body.unwrap()).unwrap(), b"plain");
    }

    #[tokio::test]
    async fn an_empty_response_has_no_body() {
        let out = HttpResponse::from_response(response(204, None, b"")).await;
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({ "statusCode": 204, "headers": {}, "isBase64Encoded": false })
        );
    }

    #[tokio::test]
    async fn a_body_too_large_to_buffer_is_a_502_that_says_so() {
        let big = ByteStream::from(vec![7u8; MAX_BUFFERED_BODY + 1]);
        let out = HttpResponse::from_response(Response::new(big)).await;
        assert_eq!(out.status_code, 502);
        assert!(out
            .body
            .unwrap()
            .contains("A buffered Lambda response holds at most 4194304 bytes"),);
    }

    #[test]
    fn textual_types() {
        for textual in [
            "text/html; charset=utf-8",
            "application/json",
            "application/problem+json",
            "image/svg+xml",
            "Application/XML",
        ] {
            assert!(is_textual(textual), "{textual}");
        }
        for binary in ["image/jpeg", "application/octet-stream", "application/zip"] {
            assert!(!is_textual(binary), "{binary}");
        }
    }
}
