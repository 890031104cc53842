//! Crossing the JavaScript boundary: bodies, requests and responses.
//!
//! Bodies stream in both directions: a JS `ReadableStream` becomes a [`ByteStream`] that pulls
//! one chunk at a time, and a [`ByteStream`] becomes a `ReadableStream` that the runtime pulls
//! from. Only small bodies of known length are copied across in one piece, which costs the
//! runtime less than a stream; larger ones of known length stream through a
//! `FixedLengthStream`, so that the runtime knows (and sends) their length.

use std::cell::RefCell;
use std::rc::Rc;

use alchemy_stream::{ByteStream, Bytes, StreamError};
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};

/// Bodies up to this size, when their length is known, cross the boundary as one buffer.
const SMALL_BODY: u64 = 64 * 1024;

/// The origin given to relative request URIs (a Durable Object stub needs an absolute URL).
const INTERNAL_ORIGIN: &str = "https://actor.internal";

/// A JS exception or rejection as text, for error messages.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// A JS value as a [`StreamError`].
fn stream_error(value: JsValue) -> StreamError {
    StreamError::other(describe(&value))
}

/// A `ReadableStream` of bytes as a [`ByteStream`] of `len` bytes, when known.
pub(crate) fn byte_stream(stream: web_sys::ReadableStream, len: Option<u64>) -> ByteStream {
    let chunks = wasm_streams::ReadableStream::from_raw(stream.unchecked_into())
        .into_stream()
        .map(|chunk| {
            let chunk = chunk.map_err(stream_error)?;
            let array = chunk.dyn_into::<Uint8Array>().map_err(|other| {
                StreamError::other(format!("a body chunk was not bytes but {other:?}"))
            })?;
            Ok::<Bytes, StreamError>(Bytes::from(array.to_vec()))
        });
    let stream = ByteStream::from_stream(chunks);
    match len {
        Some(len) => stream.with_exact_len(len),
        None => stream,
    }
}

/// Where the first error of a body stream is kept, so that a failed upload can say that the
/// body failed rather than what the runtime made of it.
#[derive(Clone, Default)]
pub(crate) struct BodyFailure(Rc<RefCell<Option<StreamError>>>);

impl BodyFailure {
    /// The error the body failed with, if it did.
    pub(crate) fn take(&self) -> Option<StreamError> {
        self.0.borrow_mut().take()
    }
}

/// A [`ByteStream`] as a `ReadableStream` that the runtime pulls from, recording a failure of
/// the body in `failure`.
pub(crate) fn readable_stream(body: ByteStream, failure: &BodyFailure) -> web_sys::ReadableStream {
    let failure = failure.clone();
    let chunks = body
        .map_ok(|chunk| JsValue::from(Uint8Array::from(&chunk[..])))
        .map_err(move |error| {
            let message = JsValue::from(js_sys::Error::new(&error.to_string()));
            failure.0.borrow_mut().get_or_insert(error);
            message
        });
    wasm_streams::ReadableStream::from_stream(chunks)
        .into_raw()
        .unchecked_into()
}

/// The chunks of `body` as the `worker` crate streams them, recording a failure in `failure`.
pub(crate) fn byte_chunks(
    body: ByteStream,
    failure: BodyFailure,
) -> impl futures::Stream<Item = worker::Result<Vec<u8>>> {
    body.map(move |chunk| {
        chunk.map(|bytes| bytes.to_vec()).map_err(|error| {
            let message = error.to_string();
            failure.0.borrow_mut().get_or_insert(error);
            worker::Error::RustError(message)
        })
    })
}

/// A body of known length as a `ReadableStream` that the runtime knows the length of: the
/// readable side of a `FixedLengthStream` fed by `body`. A response with it keeps its
/// `Content-Length` (workerd sends a plain stream chunked, without one).
fn fixed_length_stream(body: ByteStream, len: u64) -> web_sys::ReadableStream {
    let chunks = byte_chunks(body, BodyFailure::default());
    worker::worker_sys::FixedLengthStream::from(worker::FixedLengthStream::wrap(chunks, len))
        .readable()
}

/// A body for the runtime: one buffer when it is small and of known length, a stream of that
/// length when it is larger, else a stream.
pub(crate) async fn js_body(body: ByteStream) -> Result<Option<JsValue>, StreamError> {
    match body.len() {
        Some(0) => Ok(None),
        Some(len) if len <= SMALL_BODY => {
            let bytes = body.collect(len as usize).await?;
            Ok(Some(Uint8Array::from(&bytes[..]).into()))
        }
        Some(len) => Ok(Some(fixed_length_stream(body, len).into())),
        None => Ok(Some(readable_stream(body, &BodyFailure::default()).into())),
    }
}

/// The `Content-Length` of a set of headers, if it has a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// JS headers as an [`HeaderMap`], skipping any that `http` cannot hold.
pub(crate) fn header_map(headers: &web_sys::Headers) -> HeaderMap {
    let mut map = HeaderMap::new();
    let Ok(Some(entries)) = js_sys::try_iter(headers) else {
        return map;
    };
    for entry in entries.flatten() {
        let pair = js_sys::Array::from(&entry);
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// An [`HeaderMap`] as JS headers.
pub(crate) fn js_headers(map: &HeaderMap) -> Result<web_sys::Headers, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in map {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    Ok(headers)
}

/// A runtime request as an `http` request with a streaming body.
pub(crate) fn from_js_request(req: &web_sys::Request) -> Result<Request<ByteStream>, http::Error> {
    let headers = header_map(&req.headers());
    let len = content_length(&headers);
    let body = match req.body() {
        Some(stream) => byte_stream(stream, len),
        None => ByteStream::empty(),
    };
    let mut builder = Request::builder()
        .method(Method::from_bytes(req.method().as_bytes())?)
        .uri(req.url());
    if let Some(map) = builder.headers_mut() {
        *map = headers;
    }
    builder.body(body)
}

/// An `http` request as a runtime request; a relative URI gets an internal origin.
pub(crate) async fn to_js_request(req: Request<ByteStream>) -> Result<web_sys::Request, JsValue> {
    let (parts, body) = req.into_parts();
    let url = if parts.uri.scheme().is_some() {
        parts.uri.to_string()
    } else {
        format!("{INTERNAL_ORIGIN}{}", parts.uri)
    };
    let init = web_sys::RequestInit::new();
    init.set_method(parts.method.as_str());
    init.set_headers(&js_headers(&parts.headers)?.into());
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let body = js_body(body)
            .await
            .map_err(|error| JsValue::from(js_sys::Error::new(&error.to_string())))?;
        if let Some(body) = body {
            init.set_body(&body);
            if !body.is_instance_of::<Uint8Array>() {
                // A streamed request body needs half-duplex mode.
                js_sys::Reflect::set(&init, &"duplex".into(), &"half".into())?;
            }
        }
    }
    web_sys::Request::new_with_str_and_init(&url, &init)
}

/// A runtime response as an `http` response with a streaming body.
pub(crate) fn from_js_response(
    res: &web_sys::Response,
) -> Result<Response<ByteStream>, http::Error> {
    let headers = header_map(&res.headers());
    let len = content_length(&headers);
    let body = match res.body() {
        Some(stream) => byte_stream(stream, len),
        None => ByteStream::empty(),
    };
    let mut builder = Response::builder().status(res.status());
    if let Some(map) = builder.headers_mut() {
        *map = headers;
    }
    builder.body(body)
}

/// An `http` response as a runtime response, its body streaming unless it is small.
pub(crate) async fn to_js_response(
    res: Response<ByteStream>,
) -> Result<web_sys::Response, JsValue> {
    let (parts, body) = res.into_parts();
    let init = web_sys::ResponseInit::new();
    init.set_status(parts.status.as_u16());
    init.set_headers(&js_headers(&parts.headers)?.into());
    let body = if parts.status == StatusCode::NO_CONTENT || parts.status == StatusCode::NOT_MODIFIED
    {
        None
    } else {
        js_body(body)
            .await
            .map_err(|error| JsValue::from(js_sys::Error::new(&error.to_string())))?
    };
    match body {
        None => web_sys::Response::new_with_opt_str_and_init(None, &init),
        Some(body) => match body.dyn_into::<Uint8Array>() {
            Ok(bytes) => web_sys::Response::new_with_opt_js_u8_array_and_init(Some(&bytes), &init),
            Err(stream) => web_sys::Response::new_with_opt_readable_stream_and_init(
                Some(&stream.unchecked_into()),
                &init,
            ),
        },
    }
}

/// A plain-text response for failures that happen before a handler answers.
pub(crate) fn text_response(status: u16, text: &str) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "text/plain; charset=utf-8")?;
    init.set_headers(&headers.into());
    web_sys::Response::new_with_opt_str_and_init(Some(text), &init)
}

/// The WebSocket a runtime response carries (a Durable Object's accepted socket), if any.
pub(crate) fn response_websocket(res: &web_sys::Response) -> Option<web_sys::WebSocket> {
    js_sys::Reflect::get(res, &"webSocket".into())
        .ok()
        .filter(|socket| socket.is_object())
        .map(JsCast::unchecked_into)
}

/// Another handle on the same JS object.
pub(crate) fn same<T: JsCast>(value: &T) -> T {
    value.as_ref().clone().unchecked_into()
}
