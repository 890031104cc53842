//! The HTTP API: an axum `Router` over the photos (and, per photo and room, actors).

use alchemy::bucket::{BucketError, ByteRange};
use alchemy_stream::ByteStream;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::{PhotoError, Photos};

/// The routes:
///
/// | method and path | what it does |
/// |---|---|
/// | `GET /photos` | the names of every photo, as JSON |
/// | `PUT /photos/{name}` | stores the body (streamed); with `If-None-Match: *` only if absent (else 412) |
/// | `GET /photos/{name}` | the photo (streamed); `Range: bytes=...` gives 206 |
/// | `DELETE /photos/{name}` | deletes it |
pub fn router(photos: Photos) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Json(json!({ "app": "photo-share", "photos": "/photos" })) }),
        )
        .route("/photos", get(list))
        .route("/photos/{name}", get(download).put(upload).delete(remove))
        .with_state(photos)
}

impl IntoResponse for PhotoError {
    fn into_response(self) -> Response {
        let status = match &self {
            PhotoError::InvalidName(_) => StatusCode::BAD_REQUEST,
            PhotoError::Bucket(e) => match e {
                BucketError::NotFound { .. } => StatusCode::NOT_FOUND,
                BucketError::AlreadyExists { .. } | BucketError::Precondition { .. } => {
                    StatusCode::PRECONDITION_FAILED
                }
                BucketError::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
                BucketError::InvalidKey { .. } => StatusCode::BAD_REQUEST,
                BucketError::TooLarge { .. }
                | BucketError::Stream(alchemy_stream::StreamError::TooLarge { .. }) => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

async fn list(State(photos): State<Photos>) -> Result<Json<Vec<String>>, PhotoError> {
    Ok(Json(photos.list().await?))
}

async fn upload(
    State(photos): State<Photos>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PhotoError> {
    let body = ByteStream::from_body(body);
    let only_if_absent = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == "*");
    let put = if only_if_absent {
        photos.upload_if_absent(&name, body).await?
    } else {
        photos.upload(&name, body).await?
    };
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "name": name, "etag": put.etag })),
    )
        .into_response();
    if let Ok(etag) = HeaderValue::from_str(&put.etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

async fn download(
    State(photos): State<Photos>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PhotoError> {
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(parse_range) {
            Some(r) => Some(r),
            None => {
                let mut response = (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    Json(json!({ "error": "the Range header must be one `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX`" })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                return Ok(response);
            }
        },
    };
    let partial = range.is_some();
    let got = photos.download_range(&name, range).await?;
    let len = got.range.end - got.range.start;
    let mut builder = Response::builder()
        .status(if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, got.meta.etag.as_str())
        .header(
            header::CONTENT_TYPE,
            got.meta
                .content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        );
    if partial {
        let content_range = format!(
            "bytes {}-{}/{}",
            got.range.start,
            got.range.end.saturating_sub(1),
            got.meta.size
        );
        builder = builder.header(header::CONTENT_RANGE, content_range);
    }
    Ok(builder
        .body(Body::new(got.body))
        .expect("valid response parts"))
}

async fn remove(
    State(photos): State<Photos>,
    Path(name): Path<String>,
) -> Result<StatusCode, PhotoError> {
    photos.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses one `bytes=` range (`a-b`, `a-`, `-n`); `None` for anything else.
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", n) => Some(ByteRange::Suffix(n.parse().ok()?)),
        (a, "") => Some(ByteRange::From(a.parse().ok()?)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(ByteRange::Bounded {
                start: a,
                end: b + 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_http_says() {
        assert_eq!(
            parse_range("bytes=0-9"),
            Some(ByteRange::Bounded { start: 0, end: 10 })
        );
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        for bad in [
            "bytes=9-0",
            "items=0-1",
            "bytes=0-1,4-5",
            "bytes=x-",
            "bytes=-",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
