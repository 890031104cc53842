//! A Lambda function served by the adapter (`alchemy_aws::lambda::serve`), for the adapter's
//! tests against an emulator that runs it. The response mode comes from
//! `ALCHEMY_LAMBDA_RESPONSE`.
//!
//! - `GET /chunks?n=N`: `N` lines `chunk I`, each its own chunk of the body.
//! - `PUT /echo`: the request's body back (`201`), with its method, query and cookies in
//!   `x-echo-*` headers and two cookies set.

use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy_aws::lambda::{serve, ResponseMode};
use bytes::Bytes;
use http::{Request, Response, StatusCode};

async fn handle(req: Request<ByteStream>) -> Response<ByteStream> {
    let query = req.uri().query().unwrap_or("").to_string();
    match req.uri().path() {
        "/chunks" => {
            let n: usize = query
                .strip_prefix("n=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(3);
            let chunks = (0..n).map(|i| Bytes::from(format!("chunk {i}\n")));
            Response::builder()
                .header("content-type", "text/plain")
                .body(ByteStream::from_chunks(chunks))
                .expect("a valid response")
        }
        "/echo" => {
            let cookie = req
                .headers()
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let method = req.method().to_string();
            let body = req
                .into_body()
                .collect(1 << 20)
                .await
                .expect("a body of at most 1 MiB");
            Response::builder()
                .status(StatusCode::CREATED)
                .header("content-type", "application/octet-stream")
                .header("x-echo-method", method)
                .header("x-echo-query", query)
                .header("x-echo-cookie", cookie)
                .header("set-cookie", "first=1; Path=/")
                .header("set-cookie", "second=2; HttpOnly")
                .body(ByteStream::from(body))
                .expect("a valid response")
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(ByteStream::from("no such route"))
            .expect("a valid response"),
    }
}

#[tokio::main]
async fn main() -> Result<(), alchemy_aws::lambda::Error> {
    let handler = BoxHandler::new(handler_fn(|req| async move {
        Ok::<_, std::convert::Infallible>(handle(req).await)
    }));
    serve(handler, ResponseMode::from_env()?).await
}
