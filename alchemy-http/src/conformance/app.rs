//! [`app`]: the handler that an implementation under test serves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use alchemy_stream::conformance::Pattern;
use alchemy_stream::{ByteStream, StreamError};
use futures::channel::oneshot;
use futures::{stream, StreamExt, TryStreamExt};
use http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::{handler_fn, BoxHandler};

/// The handler that the conformance checks talk to; serve it with the implementation under
/// test.
///
/// Each call makes a new one, with its own state (the gates and barriers some checks use).
/// Its routes, all answering `404` to anything else:
///
/// | route | answer |
/// | --- | --- |
/// | `/echo` | the request body, streamed back; `x-method`, `x-request-length` (the body's declared length, or `unknown`) and the request's `content-type` |
/// | `/method` | the method, as text |
/// | `/headers` | every `x-*` request header, each value as an `x-echo-*` response header |
/// | `/cookies` | two `set-cookie` headers |
/// | `/status/{code}` | that status, with no body |
/// | `/query` | the raw query string, as text |
/// | `/path/...` | the raw path, as text |
/// | `/empty` | `200` with an empty body of length 0 |
/// | `/stream?size=N&chunk=C&length=exact\|unknown` | `N` bytes of the [`Pattern`], made as they are sent |
/// | `/count` | reads the body (checking it is the [`Pattern`]) and answers the byte count |
/// | `/first-chunk` | answers the first chunk of the request body at once, without waiting for the rest |
/// | `/hold?id=X` | sends `head`, waits for `/release?id=X`, then sends `tail` |
/// | `/release?id=X` | releases `/hold?id=X` |
/// | `/barrier?group=G&n=N` | answers once `N` requests of group `G` are waiting |
/// | `/error` | the handler fails: the adapter must answer `500` |
/// | `/broken-body?length=exact\|unknown` | `200`, then a body that fails after a few bytes |
pub fn app() -> BoxHandler {
    let state = Arc::new(State::default());
    BoxHandler::new(handler_fn(move |request: Request<ByteStream>| {
        let state = Arc::clone(&state);
        async move { route(&state, request).await }
    }))
}

type Reply = Result<Response<ByteStream>, StreamError>;

#[derive(Default)]
struct State {
    /// `/hold` requests waiting for their `/release`, by id; or releases that came first.
    gates: Mutex<HashMap<String, Gate>>,
    /// Requests waiting at a barrier, by group.
    barriers: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
}

enum Gate {
    Held(oneshot::Sender<()>),
    Released,
}

async fn route(state: &State, request: Request<ByteStream>) -> Reply {
    let path = request.uri().path().to_owned();
    let query = Query::parse(request.uri().query());
    match path.as_str() {
        "/echo" => Ok(echo(request)),
        "/method" => Ok(text(StatusCode::OK, request.method().as_str())),
        "/headers" => Ok(headers(&request)),
        "/cookies" => Ok(cookies()),
        "/query" => Ok(text(StatusCode::OK, request.uri().query().unwrap_or(""))),
        "/empty" => Ok(Response::new(ByteStream::empty())),
        "/stream" => Ok(pattern_stream(&query)),
        "/count" => count(request.into_body()).await,
        "/first-chunk" => first_chunk(request.into_body()).await,
        "/hold" => Ok(hold(state, query.get("id"))),
        "/release" => Ok(release(state, query.get("id"))),
        "/barrier" => Ok(barrier(state, &query).await),
        "/error" => Err(StreamError::Io(std::io::Error::other(
            "the conformance app fails on purpose",
        ))),
        "/broken-body" => Ok(broken_body(&query)),
        _ if path.starts_with("/status/") => Ok(status(&path["/status/".len()..])),
        _ if path.starts_with("/path/") => Ok(text(StatusCode::OK, &path)),
        _ => Ok(text(
            StatusCode::NOT_FOUND,
            "no such route in the conformance app",
        )),
    }
}

fn text(status: StatusCode, body: &str) -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::from(body.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn echo(request: Request<ByteStream>) -> Response<ByteStream> {
    let (parts, body) = request.into_parts();
    let length = body
        .len()
        .map_or_else(|| "unknown".to_owned(), |len| len.to_string());
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        "x-method",
        HeaderValue::from_str(parts.method.as_str()).expect("a method is a header value"),
    );
    headers.insert(
        "x-request-length",
        HeaderValue::from_str(&length).expect("a number is a header value"),
    );
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, content_type.clone());
    }
    response
}

fn headers(request: &Request<ByteStream>) -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::empty());
    for (name, value) in request.headers() {
        if !name.as_str().starts_with("x-") {
            continue;
        }
        let echoed = HeaderName::try_from(format!("x-echo-{name}"))
            .expect("a prefixed header name is a header name");
        response.headers_mut().append(echoed, value.clone());
    }
    response
}

fn cookies() -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::empty());
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("b=2; Path=/; HttpOnly"),
    );
    response
}

fn status(code: &str) -> Response<ByteStream> {
    match code
        .parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
    {
        Some(status) => {
            let mut response = Response::new(ByteStream::empty());
            *response.status_mut() = status;
            response
        }
        None => text(
            StatusCode::BAD_REQUEST,
            "the status code is not a number from 100 to 999",
        ),
    }
}

fn pattern_stream(query: &Query<'_>) -> Response<ByteStream> {
    let size = query.number("size").unwrap_or(0);
    let chunk = query
        .number("chunk")
        .unwrap_or(ByteStream::DEFAULT_CHUNK_SIZE as u64)
        .max(1);
    let body = Pattern::new().stream(size, chunk as usize);
    let body = match query.get("length") {
        Some("unknown") => ByteStream::from_stream(body),
        _ => body,
    };
    Response::new(body)
}

async fn count(mut body: ByteStream) -> Reply {
    let pattern = Pattern::new();
    let mut offset = 0u64;
    while let Some(chunk) = body.try_next().await? {
        if let Some(at) = pattern.find_mismatch(offset, &chunk) {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                &format!("byte {at} of the body differs from the pattern"),
            ));
        }
        offset += chunk.len() as u64;
    }
    Ok(text(StatusCode::OK, &offset.to_string()))
}

async fn first_chunk(mut body: ByteStream) -> Reply {
    let first = body.try_next().await?.unwrap_or_default();
    Ok(Response::new(ByteStream::from(first)))
}

fn hold(state: &State, id: Option<&str>) -> Response<ByteStream> {
    let Some(id) = id else {
        return text(StatusCode::BAD_REQUEST, "/hold needs ?id=");
    };
    let (release, released) = oneshot::channel();
    let mut gates = state.gates.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(Gate::Released) = gates.remove(id) {
        let _ = release.send(());
    } else {
        gates.insert(id.to_owned(), Gate::Held(release));
    }
    let tail = async move {
        // A dropped sender (the app went away) ends the wait too.
        let _ = released.await;
        Ok::<_, StreamError>("tail")
    };
    let body = stream::once(async { Ok::<_, StreamError>("head") }).chain(stream::once(tail));
    Response::new(ByteStream::from_stream(body))
}

fn release(state: &State, id: Option<&str>) -> Response<ByteStream> {
    let Some(id) = id else {
        return text(StatusCode::BAD_REQUEST, "/release needs ?id=");
    };
    let mut gates = state.gates.lock().unwrap_or_else(PoisonError::into_inner);
    match gates.remove(id) {
        Some(Gate::Held(release)) => {
            let _ = release.send(());
        }
        _ => {
            gates.insert(id.to_owned(), Gate::Released);
        }
    }
    Response::new(ByteStream::empty())
}

async fn barrier(state: &State, query: &Query<'_>) -> Response<ByteStream> {
    let (Some(group), Some(n)) = (query.get("group"), query.number("n")) else {
        return text(StatusCode::BAD_REQUEST, "/barrier needs ?group=&n=");
    };
    let wait = {
        let mut barriers = state
            .barriers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let waiting = barriers.entry(group.to_owned()).or_default();
        if waiting.len() as u64 + 1 >= n {
            for waiter in waiting.drain(..) {
                let _ = waiter.send(());
            }
            None
        } else {
            let (arrived, all_arrived) = oneshot::channel();
            waiting.push(arrived);
            Some(all_arrived)
        }
    };
    if let Some(all_arrived) = wait {
        let _ = all_arrived.await;
    }
    Response::new(ByteStream::empty())
}

fn broken_body(query: &Query<'_>) -> Response<ByteStream> {
    let failure = std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the conformance app breaks this body on purpose",
    );
    let chunks = stream::iter([Ok::<_, StreamError>("partial")])
        .chain(stream::iter([Err(StreamError::Io(failure))]));
    let body = ByteStream::from_stream(chunks);
    Response::new(match query.get("length") {
        Some("exact") => body.with_exact_len(1000),
        _ => body,
    })
}

/// The `name=value` pairs of a query string, undecoded (the app's own values need no decoding).
struct Query<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Query<'a> {
    fn parse(query: Option<&'a str>) -> Self {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .collect();
        Self { pairs }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|value| value.parse().ok())
    }
}
