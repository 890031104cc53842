//! Serving an `alchemy-http` handler inside AWS Lambda (feature `lambda`).
//!
//! The function receives HTTP requests as function URL or API Gateway HTTP API events (payload
//! format 2.0, [`HttpEvent`]); [`serve`] turns each into an `http::Request` whose body is a
//! [`ByteStream`] of known length, runs it through the handler with
//! [`respond`] (so a handler error or panic is a `500`, as on every
//! adapter), and sends the response back:
//!
//! - [`ResponseMode::Buffered`] (the default): the body is read whole and returned in one
//!   [`HttpResponse`], as text when its `Content-Type` is textual and as base64 otherwise. Lambda
//!   caps such a payload at 6 MB, so a body over [`MAX_BUFFERED_BODY`] becomes a `502` saying
//!   so. This is what an API Gateway integration, a plain `Invoke` and a function URL in
//!   `BUFFERED` mode understand.
//! - [`ResponseMode::Streaming`]: the status and headers go first, then the body chunk by chunk
//!   as the handler produces it, with no size limit from the adapter. Only a function URL in
//!   `RESPONSE_STREAM` mode (or `InvokeWithResponseStream`) understands it. Deploying sets
//!   `ALCHEMY_LAMBDA_RESPONSE=streaming` on a function whose URL streams.
//!
//! Request bodies arrive whole: Lambda delivers an event only once it has all of it (6 MB at
//! most), so the request's `ByteStream` is one chunk.
//!
//! An app does not call this itself: [`Aws`](crate::Aws), registered with
//! `.cloud(alchemy_aws::Aws)`, serves the service named by `ALCHEMY_SERVICE` when Lambda
//! started the program. A handler can also be served directly:
//!
//! ```no_run
//! use alchemy::http::{handler_fn, BoxHandler, ByteStream};
//! use alchemy_aws::lambda::{serve, ResponseMode};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), alchemy_aws::lambda::Error> {
//!     let hello = BoxHandler::new(handler_fn(|_: http::Request<ByteStream>| async {
//!         http::Response::new(ByteStream::from("hello from Lambda"))
//!     }));
//!     serve(hello, ResponseMode::from_env()?).await
//! }
//! ```

mod event;

use std::convert::Infallible;

use alchemy::http::{respond, BoxHandler, ByteStream};
use http::{Response, StatusCode};
use lambda_runtime::{FunctionResponse, LambdaEvent, MetadataPrelude, StreamResponse};

pub use event::{
    EventError, HttpContext, HttpEvent, HttpResponse, RequestContext, MAX_BUFFERED_BODY,
};

/// Set by Lambda in the environment of every function: the address of its Runtime API.
pub const RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// Names the service of the app that a function serves; deploying sets it.
pub const SERVICE_ENV: &str = "ALCHEMY_SERVICE";

/// Chooses the [`ResponseMode`]: `buffered` (the default) or `streaming`.
pub const RESPONSE_MODE_ENV: &str = "ALCHEMY_LAMBDA_RESPONSE";

/// Why serving stopped: the Lambda Runtime API failed or went away.
pub type Error = lambda_runtime::Error;

/// Whether Lambda started this process (its Runtime API address is in the environment).
pub fn started_by_lambda() -> bool {
    std::env::var_os(RUNTIME_API_ENV).is_some_and(|v| !v.is_empty())
}

/// How responses go back to Lambda.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// The whole response in one payload (at most 6 MB).
    #[default]
    Buffered,
    /// Status and headers first, then the body as it is produced (function URLs in
    /// `RESPONSE_STREAM` mode).
    Streaming,
}

impl ResponseMode {
    /// The mode `ALCHEMY_LAMBDA_RESPONSE` asks for: `buffered` (or unset) or `streaming`.
    pub fn from_env() -> Result<ResponseMode, Error> {
        match std::env::var(RESPONSE_MODE_ENV).as_deref() {
            Err(_) | Ok("") | Ok("buffered") => Ok(ResponseMode::Buffered),
            Ok("streaming") => Ok(ResponseMode::Streaming),
            Ok(other) => Err(format!(
                "{RESPONSE_MODE_ENV} is `{other}`: set it to `buffered` or `streaming` (or leave it unset for buffered)"
            )
            .into()),
        }
    }
}

/// Runs the request of `event` through `handler`; an event that is not a valid request gets a
/// `400 Bad Request` that says why.
pub async fn call(handler: BoxHandler, event: HttpEvent) -> Response<ByteStream> {
    match event.into_request() {
        Ok(request) => respond(handler, request)
            .await
            .map(|body| body.into_byte_stream()),
        Err(error) => {
            let text = HttpResponse::error(StatusCode::BAD_REQUEST, &error.to_string());
            Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(ByteStream::from(text.body.unwrap_or_default()))
                .expect("a static response is valid")
        }
    }
}

/// The streaming form of `response`: its status, headers and cookies as the prelude, its body
/// as the stream.
pub fn stream_response(response: Response<ByteStream>) -> StreamResponse<ByteStream> {
    let (parts, body) = response.into_parts();
    let (_, cookies) = event::split_headers(&parts.headers);
    let mut headers = parts.headers;
    headers.remove(http::header::SET_COOKIE);
    StreamResponse {
        metadata_prelude: MetadataPrelude {
            status_code: parts.status,
            headers,
            cookies,
        },
        stream: body,
    }
}

/// Serves `handler` for the HTTP events of this function until the Runtime API goes away.
///
/// # Panics
///
/// When Lambda's own environment variables (`AWS_LAMBDA_FUNCTION_NAME`,
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION`,
/// `AWS_LAMBDA_RUNTIME_API`) are missing, as the Lambda runtime does: check
/// [`started_by_lambda`] first.
pub async fn serve(handler: BoxHandler, mode: ResponseMode) -> Result<(), Error> {
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<HttpEvent>| {
        let handler = handler.clone();
        async move {
            let response = call(handler, event.payload).await;
            Ok::<_, Infallible>(match mode {
                ResponseMode::Buffered => {
                    FunctionResponse::BufferedResponse(HttpResponse::from_response(response).await)
                }
                ResponseMode::Streaming => {
                    FunctionResponse::StreamingResponse(stream_response(response))
                }
            })
        }
    });
    lambda_runtime::run(service).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use alchemy::http::handler_fn;
    use futures::StreamExt;
    use http::Request;
    use serde_json::json;

    /// Echoes method, path, query, cookies and body; sets two cookies; fails on `/boom`.
    fn echo() -> BoxHandler {
        BoxHandler::new(handler_fn(|req: Request<ByteStream>| async move {
            if req.uri().path() == "/boom" {
                return Err(std::io::Error::other("the handler failed"));
            }
            let head = format!(
                "{} {} cookie={}\n",
                req.method(),
                req.uri(),
                req.headers()
                    .get("cookie")
                    .map_or("", |v| v.to_str().unwrap())
            );
            let body = req.into_body().collect(1 << 20).await.unwrap();
            let mut text = head.into_bytes();
            text.extend_from_slice(&body);
            Ok(Response::builder()
                .status(StatusCode::ACCEPTED)
                .header("content-type", "text/plain")
                .header("set-cookie", "seen=1")
                .header("set-cookie", "again=2")
                .body(ByteStream::from(text))
                .unwrap())
        }))
    }

    fn event(method: &str, path: &str, body: Option<&str>) -> HttpEvent {
        serde_json::from_value(json!({
            "version": "2.0",
            "rawPath": path,
            "rawQueryString": "q=1",
            "cookies": ["a=b"],
            "headers": { "host": "fn.lambda-url.us-east-1.on.aws" },
            "requestContext": { "http": { "method": method } },
            "body": body,
            "isBase64Encoded": false,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn an_event_goes_through_the_handler_and_back_buffered() {
        let response = call(echo(), event("POST", "/notes", Some("hi there"))).await;
        let out = HttpResponse::from_response(response).await;
        assert_eq!(
            serde_json::to_value(out).unwrap(),
            json!({
                "statusCode": 202,
                "headers": { "content-type": "text/plain" },
                "cookies": ["seen=1", "again=2"],
                "body": "POST /notes?q=1 cookie=a=b\nhi there",
                "isBase64Encoded": false
            })
        );
    }

    #[tokio::test]
    async fn a_failing_handler_is_a_500_and_a_bad_event_a_400() {
        let out =
            HttpResponse::from_response(call(echo(), event("GET", "/boom", None)).await).await;
        assert_eq!(out.status_code, 500);
        let out =
            HttpResponse::from_response(call(echo(), event("NOT A METHOD", "/", None)).await).await;
        assert_eq!(out.status_code, 400);
        assert_eq!(
            out.body.as_deref(),
            Some("the event's method `NOT A METHOD` is not an HTTP method\n")
        );
    }

    #[tokio::test]
    async fn a_streamed_response_puts_status_headers_and_cookies_in_the_prelude() {
        let response = call(echo(), event("PUT", "/x", Some("body"))).await;
        let streamed = stream_response(response);
        let prelude = serde_json::to_value(&streamed.metadata_prelude).unwrap();
        assert_eq!(
            prelude,
            json!({
                "statusCode": 202,
                "headers": { "content-type": "text/plain" },
                "cookies": ["seen=1", "again=2"]
            })
        );
        let chunks: Vec<_> = StreamExt::collect(streamed.stream).await;
        let body: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(body, b"PUT /x?q=1 cookie=a=b\nbody");
    }

    #[test]
    fn the_response_mode_comes_from_the_environment() {
        // The only test in this binary that touches the variable.
        std::env::remove_var(RESPONSE_MODE_ENV);
        assert_eq!(ResponseMode::from_env().unwrap(), ResponseMode::Buffered);
        std::env::set_var(RESPONSE_MODE_ENV, "streaming");
        assert_eq!(ResponseMode::from_env().unwrap(), ResponseMode::Streaming);
        std::env::set_var(RESPONSE_MODE_ENV, "chunky");
        assert_eq!(
            ResponseMode::from_env().unwrap_err().to_string(),
            "ALCHEMY_LAMBDA_RESPONSE is `chunky`: set it to `buffered` or `streaming` (or leave it unset for buffered)"
        );
        std::env::remove_var(RESPONSE_MODE_ENV);
    }
}
