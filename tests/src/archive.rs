//! photo-archive: photo-share's photos (the same [`Photos`] over the same [`PHOTOS`] bucket)
//! behind a service that binds nothing else: a small app for tests of code-only updates on
//! AWS. `V` is the build's version, answered by `GET /version`: two builds that differ only in
//! it are two bootstraps, so a new build changes the function and nothing else.
//!
//! | method and path | what it does |
//! |---|---|
//! | `GET /version` | `photo-archive v{V}` |
//! | `GET /photos` | the names of every photo, as a JSON array |
//! | `PUT /photos/{name}` | stores the body (`201`, the etag as JSON and `ETag`) |
//! | `GET /photos/{name}` | the photo |
//! | `DELETE /photos/{name}` | deletes it (`204`) |

use alchemy::bucket::BucketError;
use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy::{App, Init, Service};
use http::{header, Method, Request, Response, StatusCode};
use photo_share::{PhotoError, Photos, PHOTOS};
use serde_json::json;

/// The service, version `V`.
pub struct Archive<const V: u32>;

/// The app of version `V`, with the AWS cloud registered.
pub fn app<const V: u32>() -> App {
    alchemy::app("photo-archive")
        .service::<Archive<V>>("api")
        .cloud(alchemy_aws::Aws)
}

impl<const V: u32> Service for Archive<V> {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        let photos = Photos::new(ctx.bind(&PHOTOS).await?);
        Ok(BoxHandler::new(handler_fn(
            move |req: Request<ByteStream>| {
                let photos = photos.clone();
                async move { Ok::<_, std::convert::Infallible>(route::<V>(&photos, req).await) }
            },
        )))
    }
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ByteStream> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(ByteStream::from(value.to_string()))
        .expect("a valid response")
}

fn error(e: PhotoError) -> Response<ByteStream> {
    let status = match &e {
        PhotoError::InvalidName(_) => StatusCode::BAD_REQUEST,
        PhotoError::Bucket(BucketError::NotFound { .. }) => StatusCode::NOT_FOUND,
        PhotoError::Bucket(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_response(status, json!({ "error": e.to_string() }))
}

async fn route<const V: u32>(photos: &Photos, req: Request<ByteStream>) -> Response<ByteStream> {
    let path = req.uri().path().to_string();
    let name = path.strip_prefix("/photos/").map(str::to_string);
    match (req.method().clone(), path.as_str(), name) {
        (Method::GET, "/version", _) => Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(ByteStream::from(format!("photo-archive v{V}")))
            .expect("a valid response"),
        (Method::GET, "/photos", _) => match photos.list().await {
            Ok(names) => json_response(StatusCode::OK, json!(names)),
            Err(e) => error(e),
        },
        (Method::PUT, _, Some(name)) => match photos.upload(&name, req.into_body()).await {
            Ok(put) => {
                let mut res = json_response(
                    StatusCode::CREATED,
                    json!({ "name": name, "etag": put.etag }),
                );
                if let Ok(etag) = put.etag.parse() {
                    res.headers_mut().insert(header::ETAG, etag);
                }
                res
            }
            Err(e) => error(e),
        },
        (Method::GET, _, Some(name)) => match photos.download(&name).await {
            Ok(got) => Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::ETAG, got.meta.etag.as_str())
                .body(got.body)
                .expect("a valid response"),
            Err(e) => error(e),
        },
        (Method::DELETE, _, Some(name)) => match photos.remove(&name).await {
            Ok(()) => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(ByteStream::empty())
                .expect("a valid response"),
            Err(e) => error(e),
        },
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no route for {} {path}", req.method()) }),
        ),
    }
}
