//! A minimal Lambda function for the control-plane tests: it speaks the Lambda Runtime API
//! with the standard library alone and answers every event, as a function URL response, with
//! the service it runs as, the bucket bound to it and the raw path of the request.
//!
//! Deploy it with the `bootstrap` stage setting pointing at the built example
//! (`target/debug/examples/lambda_echo`).

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .expect("AWS_LAMBDA_RUNTIME_API is not set: run this as a Lambda function's bootstrap");
    loop {
        let (headers, event) = call(&api, "GET", "/2018-06-01/runtime/invocation/next", b"");
        let id = header(&headers, "lambda-runtime-aws-request-id")
            .expect("the Runtime API gave no request id")
            .to_owned();
        let event: serde_json::Value = serde_json::from_slice(&event).unwrap_or_default();
        let body = serde_json::json!({
            "service": std::env::var("ALCHEMY_SERVICE").ok(),
            "bucket": std::env::var("ALCHEMY_BUCKET_PHOTOS").ok(),
            "path": event.get("rawPath"),
        });
        let response = serde_json::json!({
            "statusCode": 200,
            "headers": { "content-type": "application/json" },
            "body": body.to_string(),
        });
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        call(&api, "POST", &path, response.to_string().as_bytes());
    }
}

/// One HTTP/1.1 request to the Runtime API; the response's head and body.
fn call(api: &str, method: &str, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(api).expect("connect to the Runtime API");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\
         Content-Type: application/json\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .expect("send to the Runtime API");
    stream.write_all(body).expect("send to the Runtime API");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("read from the Runtime API");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut body = answer[split + 4..].to_vec();
    if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    (head, body)
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}
