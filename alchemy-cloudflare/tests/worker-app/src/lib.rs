//! The Worker that the alchemy-cloudflare tests build to wasm and run in workerd.
//!
//! It exposes the neutral bucket over R2 and neutral actors over Durable Objects:
//!
//! - `POST /conformance/bucket` and `POST /conformance/actors` run the shared conformance
//!   suites inside the Worker, against the R2 binding and the Durable Object namespace, and
//!   answer with the report (which tests ran, which were skipped);
//! - `POST /conformance/s3` runs the bucket suite against the bucket `s3-photos`, which the
//!   Worker reaches in S3 over `fetch` when its `ALCHEMY_BUCKET_S3_PHOTOS` variable is set;
//! - `GET /buckets/{id}` binds the bucket `id` and answers with its provider, or with the
//!   error that binding it gave (`s3-photos`, `conformance`, `nowhere`);
//!   `PUT /buckets/{id}/objects/{key}` streams the body into that bucket and
//!   `GET /buckets/{id}/objects/{key}` streams it back (for the benchmark);
//! - `GET /hello` answers `hello` (for the benchmark);
//! - `POST /counter/{name}` and `GET /counter/{name}` increment and read a counter actor;
//! - `PUT /objects/{key}` stores the body in the bucket, `GET /objects/{key}` reads it back;
//! - `GET /rooms/{room}/ws` opens a WebSocket to a chat room actor (passed through from the
//!   Durable Object); `GET /rooms/{room}/state` tells the room's inits, history and alarms, and
//!   `POST /rooms/{room}/alarm?in_ms=N` sets its alarm.

mod chat;

use alchemy::actor::conformance::ConformanceActor;
use alchemy::actor::{ActorNamespace, Actors};
use alchemy::bind::Phase;
use alchemy::bucket::{Bucket, BucketClient};
use alchemy::{Init, Service};
use alchemy_http::handler_fn;
use alchemy_stream::ByteStream;
use http::{Method, Request, Response, StatusCode};

pub use chat::ChatRoom;

/// The bucket of the bucket conformance suite.
pub static BUCKET: Bucket = Bucket::new("conformance");
/// The actors of the actor conformance suite, and the counters.
pub static SUITE: Actors<ConformanceActor> = Actors::new("suite");
/// The chat rooms.
pub static ROOMS: Actors<ChatRoom> = Actors::new("rooms");
/// The bucket the tests place in S3.
pub static S3_PHOTOS: Bucket = Bucket::new("s3-photos");
/// A bucket the Worker is given no way to reach.
pub static NOWHERE: Bucket = Bucket::new("nowhere");

alchemy_cloudflare::serve!(TestApp, "test-app");
alchemy_cloudflare::durable_object!(SuiteObject, SUITE);
alchemy_cloudflare::durable_object!(RoomObject, ROOMS);

/// The test service.
pub struct TestApp;

/// What the handler works with.
#[derive(Clone)]
struct State {
    bucket: BucketClient,
    suite: ActorNamespace<ConformanceActor>,
    rooms: ActorNamespace<ChatRoom>,
    /// The buckets bound only when the Worker runs (a deploy of the test app plans none of
    /// them), with the outcome of binding each: its client or the error's text.
    optional: Vec<(&'static str, Result<BucketClient, String>)>,
    /// The variables the tests look for, as `Init::var` read them.
    vars: Vec<(&'static str, Option<String>)>,
}

/// The variables the Worker reports at `/vars/NAME`.
const VARS: [&str; 3] = ["GREETING", "AWS_ACCESS_KEY_ID", "NEVER_SET"];

fn text(status: StatusCode, body: impl Into<String>) -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::from(body.into()));
    *response.status_mut() = status;
    response
}

fn json(value: &serde_json::Value) -> Response<ByteStream> {
    let mut response = text(StatusCode::OK, value.to_string());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

impl Service for TestApp {
    type Handler = alchemy_http::BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<Self::Handler> {
        let mut state = State {
            bucket: ctx.bind(&BUCKET).await?,
            suite: ctx.bind(&SUITE).await?,
            rooms: ctx.bind(&ROOMS).await?,
            optional: Vec::new(),
            vars: VARS.iter().map(|name| (*name, ctx.var(name))).collect(),
        };
        if ctx.phase() == Phase::Run {
            for bucket in [&S3_PHOTOS, &NOWHERE] {
                let bound = ctx.bind(bucket).await.map_err(|error| error.to_string());
                state.optional.push((bucket.id(), bound));
            }
        }
        Ok(alchemy_http::BoxHandler::new(handler_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, std::convert::Infallible>(route(state, req).await) }
        })))
    }
}

async fn route(state: State, req: Request<ByteStream>) -> Response<ByteStream> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let result = match (method, segments.as_slice()) {
        (Method::POST, ["conformance", "bucket"]) => Ok(bucket_suite(&state.bucket).await),
        (Method::POST, ["conformance", "s3"]) => match optional(&state, S3_PHOTOS.id()) {
            Ok(bucket) => Ok(bucket_suite(&bucket).await),
            Err(error) => Ok(text(StatusCode::INTERNAL_SERVER_ERROR, error)),
        },
        (Method::GET, ["vars", name]) => {
            Ok(match state.vars.iter().find(|(known, _)| known == name) {
                Some((_, Some(value))) => text(StatusCode::OK, value.clone()),
                _ => text(StatusCode::NOT_FOUND, format!("no variable {name}")),
            })
        }
        (Method::GET, ["buckets", id]) => Ok(match bucket(&state, id) {
            Ok(bucket) => text(StatusCode::OK, bucket.provider()),
            Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error),
        }),
        (Method::PUT, ["buckets", id, "objects", key]) => {
            let put = match bucket(&state, id) {
                Ok(bucket) => bucket.put(key, req.into_body()).await,
                Err(error) => return text(StatusCode::INTERNAL_SERVER_ERROR, error),
            };
            Ok(match put {
                Ok(put) => text(StatusCode::OK, put.etag),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
            })
        }
        (Method::GET, ["buckets", id, "objects", key]) => {
            let got = match bucket(&state, id) {
                Ok(bucket) => bucket.get(key).await,
                Err(error) => return text(StatusCode::INTERNAL_SERVER_ERROR, error),
            };
            Ok(match got {
                Ok(got) => Response::new(got.body),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
            })
        }
        (Method::POST, ["conformance", "actors"]) => Ok(actor_suite(&state).await),
        (Method::GET, ["hello"]) => Ok(text(StatusCode::OK, "hello")),
        (method, ["counter", name]) => forward(&state.suite, name, method, "/counter").await,
        (Method::PUT, ["objects", key]) => match state.bucket.put(key, req.into_body()).await {
            Ok(put) => Ok(text(StatusCode::OK, put.etag)),
            Err(error) => Ok(text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())),
        },
        (Method::GET, ["objects", key]) => match state.bucket.get_bytes(key, 1 << 20).await {
            Ok(bytes) => Ok(text(
                StatusCode::OK,
                String::from_utf8_lossy(&bytes).into_owned(),
            )),
            Err(alchemy::bucket::BucketError::NotFound { .. }) => {
                Ok(text(StatusCode::NOT_FOUND, format!("no object {key}")))
            }
            Err(error) => Ok(text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())),
        },
        (_, ["rooms", room, rest @ ..]) => {
            let rest = format!("/{}", rest.join("/"));
            match state.rooms.get_by_name(room) {
                Ok(stub) => {
                    let (mut parts, body) = req.into_parts();
                    let query = parts
                        .uri
                        .query()
                        .map(|q| format!("?{q}"))
                        .unwrap_or_default();
                    parts.uri = match format!("{rest}{query}").parse() {
                        Ok(uri) => uri,
                        Err(error) => return text(StatusCode::BAD_REQUEST, error.to_string()),
                    };
                    stub.fetch(Request::from_parts(parts, body)).await
                }
                Err(error) => Err(error),
            }
        }
        _ => Ok(text(StatusCode::NOT_FOUND, format!("no route for {path}"))),
    };
    result.unwrap_or_else(|error| text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))
}

/// The bucket `id`: the suite's R2 bucket, or an optional one.
fn bucket(state: &State, id: &str) -> Result<BucketClient, String> {
    if id == BUCKET.id() {
        Ok(state.bucket.clone())
    } else {
        optional(state, id)
    }
}

/// The optional bucket `id` as binding it turned out.
fn optional(state: &State, id: &str) -> Result<BucketClient, String> {
    state
        .optional
        .iter()
        .find(|(bound, _)| *bound == id)
        .map(|(_, bound)| bound.clone())
        .unwrap_or_else(|| Err(format!("the test Worker binds no bucket `{id}`")))
}

/// Runs the bucket conformance suite against `bucket` and answers with the report.
async fn bucket_suite(bucket: &BucketClient) -> Response<ByteStream> {
    let report = alchemy::bucket::conformance::run_all(bucket).await;
    let skipped: Vec<serde_json::Value> = report
        .skipped
        .iter()
        .map(|s| serde_json::json!({ "test": s.test, "missing": s.missing }))
        .collect();
    json(&serde_json::json!({
        "provider": report.provider, "ran": report.ran, "skipped": skipped,
    }))
}

/// Sends `method path` to the suite actor `name`.
async fn forward(
    suite: &ActorNamespace<ConformanceActor>,
    name: &str,
    method: Method,
    path: &str,
) -> alchemy::actor::Result<Response<ByteStream>> {
    let stub = suite.get_by_name(name)?;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(ByteStream::empty())?;
    stub.fetch(req).await
}

/// Runs the actor conformance suite against the Durable Object namespace.
#[cfg(target_arch = "wasm32")]
async fn actor_suite(state: &State) -> Response<ByteStream> {
    let target = alchemy::actor::conformance::Target::new(state.suite.clone(), |duration| {
        alchemy_cloudflare::durable::sleep(duration)
    });
    let report = alchemy::actor::conformance::run_all(&target).await;
    let skipped: Vec<serde_json::Value> = report
        .skipped
        .iter()
        .map(|s| serde_json::json!({ "test": s.test, "missing": s.missing }))
        .collect();
    json(&serde_json::json!({
        "provider": report.provider, "ran": report.ran, "skipped": skipped,
    }))
}

/// The actor suite waits on the Worker's timers, so it runs only in a Worker.
#[cfg(not(target_arch = "wasm32"))]
async fn actor_suite(_: &State) -> Response<ByteStream> {
    text(
        StatusCode::NOT_IMPLEMENTED,
        "the actor conformance suite runs inside a Worker: build this crate for wasm32",
    )
}
