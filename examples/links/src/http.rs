//! The links API over HTTP (an axum router: any `alchemy-http` host serves it).
//!
//! | method and path | what it does |
//! |---|---|
//! | `POST /links` `{"url": ..., "code"?: ...}` | makes a link: 201 with it; 400 bad URL or code; 409 code taken |
//! | `GET /links?after=CODE&limit=N` | lists codes in order: `{"codes": [...], "next"?: CODE}` |
//! | `GET /links/{code}` | the link and its clicks |
//! | `DELETE /links/{code}` | deletes the link and its counter: 204 |
//! | `GET /r/{code}` | redirects (308) to the link's URL and counts the click |

use alchemy::actor::{ActorError, ActorNamespace, ByteStream};
use alchemy::bucket::BucketError;
use axum::extract::{Path, Query, State};
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::clicks::{ClickStats, Clicks};
use crate::{LinkError, Links};

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    /// The links.
    pub links: Links,
    /// The click counters.
    pub clicks: ActorNamespace<Clicks>,
}

/// The routes (see the module docs).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/links", post(shorten).get(list))
        .route("/links/{code}", get(show).delete(remove))
        .route("/r/{code}", get(follow))
        .with_state(state)
}

/// An error as an HTTP answer: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        let status = match &e {
            LinkError::InvalidUrl(_) | LinkError::InvalidCode(_) => StatusCode::BAD_REQUEST,
            LinkError::Taken(_) => StatusCode::CONFLICT,
            LinkError::NotFound(_) => StatusCode::NOT_FOUND,
            LinkError::Bucket(BucketError::AlreadyExists { .. }) => StatusCode::CONFLICT,
            LinkError::Bucket(_) | LinkError::Damaged { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<ActorError> for ApiError {
    fn from(e: ActorError) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct NewLink {
    url: String,
    #[serde(default)]
    code: Option<String>,
}

async fn shorten(
    State(state): State<AppState>,
    body: Result<Json<NewLink>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("send a JSON object with `url` (and optionally `code`): {e}"),
        )
    })?;
    let link = state.links.shorten(&new.url, new.code.as_deref()).await?;
    let location = format!("/r/{}", link.code);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location.clone())],
        Json(json!({ "code": link.code, "url": link.url, "short": location })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (codes, next) = state
        .links
        .list(page.after.as_deref(), page.limit.unwrap_or(100))
        .await?;
    let mut body = json!({ "codes": codes });
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    Ok(Json(body))
}

/// Sends `method /` to the counter of `code` and reads its stats.
async fn counter(state: &AppState, code: &str, method: Method) -> Result<ClickStats, ApiError> {
    let stub = state.clicks.get_by_name(code)?;
    let req = Request::builder()
        .method(method)
        .uri("/")
        .body(ByteStream::empty())
        .expect("a request from valid parts");
    let response = stub.fetch(req).await?;
    let bytes = response
        .into_body()
        .collect(64 * 1024)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the counter of `{code}` answered something else: {e}"),
        )
    })
}

async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let link = state.links.resolve(&code).await?;
    let stats = counter(&state, &code, Method::GET).await?;
    Ok(Json(json!({
        "code": link.code,
        "url": link.url,
        "created_ms": link.created_ms,
        "clicks": stats.clicks,
        "last_click_ms": stats.last_ms,
    })))
}

async fn remove(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.links.remove(&code).await?;
    counter(&state, &code, Method::DELETE).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn follow(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let link = state.links.resolve(&code).await?;
    counter(&state, &code, Method::POST).await?;
    Ok((
        StatusCode::PERMANENT_REDIRECT,
        [
            (header::LOCATION, link.url),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}
