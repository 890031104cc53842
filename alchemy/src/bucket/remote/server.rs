//! The server side: one request answered for a [`BucketClient`].

use std::collections::BTreeMap;
use std::sync::Arc;

use alchemy_http::HttpHandler;
use alchemy_stream::ByteStream;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde::Serialize;

use super::wire::{self, Described, Upload, WireError, WirePage, WirePart, WirePut};
use crate::bucket::{
    BucketClient, BucketError, ByteRange, GetOptions, ListOptions, ObjectMeta, PartInfo, PutMode,
    PutOptions,
};

/// The most bytes of a JSON request body (the parts of a multipart upload) the server reads.
const MAX_JSON_BODY: usize = 1 << 20;

/// Answers one request of the protocol (see the [module docs](super)) for `bucket`, if it
/// carries `Authorization: Bearer {token}`.
///
/// Every outcome is a response: a failure of the store is a JSON error whose status and
/// fields carry its [`BucketError`] variant, a missing or wrong token a `401`, a request
/// outside the protocol a `400`, `404` or `405`. Bodies stream through in both directions.
///
/// ```
/// # #[cfg(feature = "deploy")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::bucket::{remote, BucketClient};
/// use alchemy::local::bucket::LocalBucket;
/// use alchemy_stream::ByteStream;
/// use http::Request;
///
/// # let dir = tempfile::tempdir()?;
/// let bucket = BucketClient::new(LocalBucket::open(dir.path()).await?);
/// bucket.put("greeting.txt", "hello").await?;
/// let request = Request::get("/o/greeting%2Etxt")
///     .header("authorization", "Bearer s3cret")
///     .body(ByteStream::empty())?;
/// let response = remote::answer(&bucket, "s3cret", request).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.into_body().collect(64).await?, "hello");
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "deploy"))]
/// # fn main() {}
/// ```
pub async fn answer(
    bucket: &BucketClient,
    token: &str,
    request: Request<ByteStream>,
) -> Response<ByteStream> {
    if let Err(refusal) = authorize(token, request.headers()) {
        return refusal;
    }
    match route(bucket, request).await {
        Ok(response) => response,
        Err(Failure::Bucket(failure)) => {
            let (status, wire) = WireError::from_bucket(&failure);
            error(status, &wire)
        }
        Err(Failure::Protocol(status, kind, message)) => {
            error(status, &WireError::protocol(kind, message))
        }
    }
}

/// [`answer`] as an HTTP handler, to serve with the local server or a Worker adapter.
///
/// ```
/// # #[cfg(feature = "deploy")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::bucket::{remote, BucketClient};
/// use alchemy::local::bucket::LocalBucket;
///
/// # let dir = tempfile::tempdir()?;
/// let bucket = BucketClient::new(LocalBucket::open(dir.path()).await?);
/// let server = alchemy::http::serve("127.0.0.1:0", remote::handler(bucket, "s3cret")).await?;
/// let remote = remote::RemoteBucket::connect(&server.url(), "s3cret").await?;
/// # let _ = remote;
/// server.shutdown().await;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "deploy"))]
/// # fn main() {}
/// ```
pub fn handler(bucket: BucketClient, token: impl Into<String>) -> impl HttpHandler {
    let token: Arc<str> = token.into().into();
    alchemy_http::handler_fn(move |request: Request<ByteStream>| {
        let bucket = bucket.clone();
        let token = Arc::clone(&token);
        async move { answer(&bucket, &token, request).await }
    })
}

/// Why a request was not answered with success.
enum Failure {
    /// The store failed.
    Bucket(BucketError),
    /// The request is outside the protocol: its status, kind and message.
    Protocol(u16, &'static str, String),
}

impl From<BucketError> for Failure {
    fn from(error: BucketError) -> Self {
        Failure::Bucket(error)
    }
}

fn bad_request(message: impl Into<String>) -> Failure {
    Failure::Protocol(400, "bad_request", message.into())
}

/// Checks the bearer token, comparing in constant time.
#[allow(clippy::result_large_err)]
fn authorize(token: &str, headers: &HeaderMap) -> Result<(), Response<ByteStream>> {
    let refuse = |message: &str| {
        Err(error(
            401,
            &WireError::protocol("unauthorized", message.to_owned()),
        ))
    };
    if token.is_empty() {
        return refuse(
            "the bucket server has no token configured, so it refuses every request: \
             give it a non-empty token",
        );
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match given {
        None => refuse(
            "the request has no `Authorization: Bearer <token>` header: \
             send the token the bucket server was given",
        ),
        Some(given) if !same_token(given.as_bytes(), token.as_bytes()) => refuse(
            "the bearer token is wrong: send the token the bucket server was given \
             (check the secret both sides read)",
        ),
        Some(_) => Ok(()),
    }
}

/// Whether two tokens are equal, taking the same time whatever their contents (only the
/// length can show).
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

async fn route(
    bucket: &BucketClient,
    request: Request<ByteStream>,
) -> Result<Response<ByteStream>, Failure> {
    let path = request.uri().path().to_owned();
    let query = wire::query_pairs(request.uri().query().unwrap_or(""))
        .ok_or_else(|| bad_request("the query string is not valid percent-encoded UTF-8"))?;
    let method = request.method().clone();
    if let Some(encoded) = path.strip_prefix("/o/") {
        let key = wire::decode(encoded)
            .ok_or_else(|| bad_request("the key is not valid percent-encoded UTF-8"))?;
        return object(bucket, &method, &key, &query, request).await;
    }
    match (&method, path.as_str()) {
        (&Method::GET, "/capabilities") => Ok(json(
            200,
            &Described {
                provider: bucket.provider().to_owned(),
                capabilities: bucket.capabilities().into(),
            },
        )),
        (&Method::GET, "/list") => {
            let number = |name: &str| -> Result<Option<u32>, Failure> {
                query
                    .get(name)
                    .map(|value| {
                        value
                            .parse()
                            .map_err(|_| bad_request(format!("`{name}` is not a number")))
                    })
                    .transpose()
            };
            let options = ListOptions {
                prefix: query.get("prefix").cloned(),
                delimiter: query.get("delimiter").cloned(),
                start_after: query.get("start_after").cloned(),
                continuation: query.get("continuation").cloned(),
                max_keys: number("max_keys")?,
            };
            let page = bucket.list(options).await?;
            Ok(json(200, &WirePage::from(page)))
        }
        (_, "/capabilities" | "/list") => Err(Failure::Protocol(
            405,
            "method_not_allowed",
            format!("{method} {path} is not part of the bucket protocol: use GET"),
        )),
        _ => Err(Failure::Protocol(
            404,
            "no_route",
            format!(
                "{method} {path} is not part of the bucket protocol: \
                 objects are under /o/{{key}}, pages under /list"
            ),
        )),
    }
}

async fn object(
    bucket: &BucketClient,
    method: &Method,
    key: &str,
    query: &BTreeMap<String, String>,
    request: Request<ByteStream>,
) -> Result<Response<ByteStream>, Failure> {
    let upload_id = query.get("upload_id");
    match (method, upload_id) {
        (&Method::GET, None) => {
            let options = get_options(request.headers())?;
            let ranged = options.range.is_some();
            let result = bucket.get_with(key, options).await?;
            let mut response = Response::new(result.body);
            *response.status_mut() = if ranged {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            put_meta_headers(response.headers_mut(), &result.meta)?;
            if ranged && result.range.start < result.range.end {
                let value = format!(
                    "bytes {}-{}/{}",
                    result.range.start,
                    result.range.end - 1,
                    result.meta.size
                );
                response
                    .headers_mut()
                    .insert(header::CONTENT_RANGE, header_value(&value)?);
            }
            Ok(response)
        }
        (&Method::HEAD, None) => {
            let meta = bucket.head(key).await?;
            let mut response = Response::new(ByteStream::empty());
            put_meta_headers(response.headers_mut(), &meta)?;
            Ok(response)
        }
        (&Method::PUT, None) => {
            let options = put_options(request.headers())?;
            let result = bucket.put_with(key, request.into_body(), options).await?;
            Ok(json(200, &WirePut::from(result)))
        }
        (&Method::DELETE, None) => {
            bucket.delete(key).await?;
            Ok(empty(204))
        }
        (&Method::POST, None) if query.contains_key("copy_from") => {
            let mode = put_mode(request.headers())?;
            let from = &query["copy_from"];
            let result = bucket.copy_with(from, key, mode).await?;
            Ok(json(200, &WirePut::from(result)))
        }
        (&Method::POST, None) if query.contains_key("uploads") => {
            crate::bucket::validate_key(key)?;
            let options = put_options(request.headers())?;
            crate::bucket::validate_metadata(&options.metadata)?;
            let upload_id = bucket.store().create_multipart(key, options).await?;
            Ok(json(200, &Upload { upload_id }))
        }
        (&Method::PUT, Some(upload_id)) => {
            crate::bucket::validate_key(key)?;
            let part_number = query
                .get("part_number")
                .and_then(|number| number.parse().ok())
                .ok_or_else(|| bad_request("a part needs a numeric `part_number`"))?;
            let part = bucket
                .store()
                .put_part(key, upload_id, part_number, request.into_body())
                .await?;
            Ok(json(200, &WirePart::from(part)))
        }
        (&Method::POST, Some(upload_id)) => {
            crate::bucket::validate_key(key)?;
            let body = request
                .into_body()
                .collect(MAX_JSON_BODY)
                .await
                .map_err(BucketError::from)?;
            let parts: Vec<WirePart> = serde_json::from_slice(&body).map_err(|error| {
                bad_request(format!("the parts are not a JSON list of parts: {error}"))
            })?;
            let parts: Vec<PartInfo> = parts.into_iter().map(Into::into).collect();
            let result = bucket
                .store()
                .complete_multipart(key, upload_id, parts)
                .await?;
            Ok(json(200, &WirePut::from(result)))
        }
        (&Method::DELETE, Some(upload_id)) => {
            crate::bucket::validate_key(key)?;
            bucket.store().abort_multipart(key, upload_id).await?;
            Ok(empty(204))
        }
        _ => Err(Failure::Protocol(
            405,
            "method_not_allowed",
            format!(
                "{method} on an object is not part of the bucket protocol: \
                 use GET, HEAD, PUT, DELETE or POST (copy and multipart)"
            ),
        )),
    }
}

/// The options of a `get`, from `Range`, `If-Match` and `If-None-Match`.
fn get_options(headers: &HeaderMap) -> Result<GetOptions, Failure> {
    let range = text(headers, header::RANGE)?
        .map(|value| {
            parse_range(value).ok_or_else(|| {
                bad_request(format!(
                    "the range {value:?} is not one of bytes=a-b, bytes=a- or bytes=-n"
                ))
            })
        })
        .transpose()?;
    Ok(GetOptions {
        range,
        if_match: text(headers, header::IF_MATCH)?.map(|v| wire::unquote(v).to_owned()),
        if_none_match: text(headers, header::IF_NONE_MATCH)?.map(|v| wire::unquote(v).to_owned()),
    })
}

/// A `Range` header of one range.
fn parse_range(value: &str) -> Option<ByteRange> {
    let (start, end) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    match (start, end) {
        ("", suffix) => Some(ByteRange::Suffix(suffix.parse().ok()?)),
        (start, "") => Some(ByteRange::From(start.parse().ok()?)),
        (start, end) => {
            let end: u64 = end.parse().ok()?;
            Some(ByteRange::Bounded {
                start: start.parse().ok()?,
                end: end.checked_add(1)?,
            })
        }
    }
}

/// The mode of a write: `If-None-Match: *` creates, `If-Match` updates, neither overwrites.
fn put_mode(headers: &HeaderMap) -> Result<PutMode, Failure> {
    match (
        text(headers, header::IF_NONE_MATCH)?,
        text(headers, header::IF_MATCH)?,
    ) {
        (None, None) => Ok(PutMode::Overwrite),
        (Some("*"), None) => Ok(PutMode::Create),
        (None, Some(etag)) => Ok(PutMode::Update(wire::unquote(etag).to_owned())),
        _ => Err(bad_request(
            "a write takes `If-None-Match: *` (create) or `If-Match` (update), not both",
        )),
    }
}

/// The options of a write: its mode, `Content-Type` and the metadata headers.
fn put_options(headers: &HeaderMap) -> Result<PutOptions, Failure> {
    let mut metadata = BTreeMap::new();
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix(wire::META_PREFIX) {
            let value = value.to_str().map_err(|_| {
                bad_request(format!("the metadata header {name} is not printable ASCII"))
            })?;
            metadata.insert(meta.to_owned(), value.to_owned());
        }
    }
    Ok(PutOptions {
        mode: put_mode(headers)?,
        content_type: text(headers, header::CONTENT_TYPE)?.map(str::to_owned),
        metadata,
    })
}

/// A header's value as text, or a `400` when it is not visible ASCII.
fn text(headers: &HeaderMap, name: HeaderName) -> Result<Option<&str>, Failure> {
    headers
        .get(&name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| bad_request(format!("the {name} header is not printable ASCII")))
        })
        .transpose()
}

/// Writes an object's metadata as the protocol's headers.
fn put_meta_headers(headers: &mut HeaderMap, meta: &ObjectMeta) -> Result<(), Failure> {
    headers.insert(header::ETAG, header_value(&wire::quote(&meta.etag))?);
    headers.insert(wire::SIZE, HeaderValue::from(meta.size));
    headers.insert(wire::LAST_MODIFIED, HeaderValue::from(meta.last_modified));
    if let Some(content_type) = &meta.content_type {
        headers.insert(header::CONTENT_TYPE, header_value(content_type)?);
    }
    for (name, value) in &meta.metadata {
        let name = HeaderName::try_from(format!("{}{name}", wire::META_PREFIX)).map_err(|_| {
            BucketError::backend(
                "remote",
                format!("the metadata name {name:?} cannot travel as an HTTP header"),
            )
        })?;
        headers.insert(name, header_value(value)?);
    }
    Ok(())
}

fn header_value(value: &str) -> Result<HeaderValue, Failure> {
    HeaderValue::from_str(value).map_err(|_| {
        Failure::Bucket(BucketError::backend(
            "remote",
            format!("the value {value:?} cannot travel as an HTTP header"),
        ))
    })
}

fn empty(status: u16) -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::empty());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
}

/// A failure: its JSON as the body and, percent-encoded, in the `x-alchemy-error` header too,
/// since the answer to a `HEAD` (or a `304`) has no body.
fn error(status: u16, wire: &WireError) -> Response<ByteStream> {
    let mut response = json(status, wire);
    if let Ok(text) = serde_json::to_string(wire) {
        if let Ok(value) = HeaderValue::from_str(&wire::encode(&text)) {
            response.headers_mut().insert(wire::ERROR, value);
        }
    }
    response
}

fn json(status: u16, body: &impl Serialize) -> Response<ByteStream> {
    let text = serde_json::to_string(body).unwrap_or_else(|error| {
        format!(r#"{{"error":"backend","message":"the answer did not serialise: {error}"}}"#)
    });
    let mut response = Response::new(if status == 304 {
        ByteStream::empty()
    } else {
        ByteStream::from(text)
    });
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status != 304 {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"s3cret", b"s3cret"));
        assert!(!same_token(b"s3cres", b"s3cret"));
        assert!(!same_token(b"s3cre", b"s3cret"));
        assert!(!same_token(b"", b"s3cret"));
    }

    #[test]
    fn ranges_parse_back_from_their_headers() {
        for range in [
            ByteRange::from(0..100),
            ByteRange::from(5..=5),
            ByteRange::from(7..),
            ByteRange::Suffix(3),
        ] {
            assert_eq!(parse_range(&range.to_string()), Some(range));
        }
        for bad in ["bytes=", "bytes=a-b", "items=0-1", "bytes=1"] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
