//! [`respond`]: one request through a handler to a response, whatever happens in the handler.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use alchemy_stream::{BoxError, ByteStream, Bytes, MaybeSend, SizeHint};
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};

use super::call::Call;
use super::HttpHandler;

/// Runs `request` through `handler` and always comes back with a response.
///
/// This is what every adapter (the local server, Lambda, Workers) does with a request, so that
/// a handler behaves the same on all of them:
///
/// - the handler is waited on until ready, then called;
/// - an error from the handler becomes a `500 Internal Server Error` with a short plain-text
///   body that reveals nothing about the error, and the error itself is logged with `tracing`
///   at `error` level;
/// - a panic in the handler's future becomes a `500` too, logged the same way, instead of
///   taking the connection (or the whole Worker) down with it.
///
/// The response body is the handler's own, wrapped in a [`ResponseBody`] so that both cases
/// have one type; it keeps the handler's size hint, so adapters still send a `Content-Length`.
///
/// # Examples
///
/// ```
/// use alchemy_http::{handler_fn, respond};
/// use alchemy_stream::{ByteStream, StreamError};
/// use http::{Request, Response, StatusCode};
///
/// # futures::executor::block_on(async {
/// let failing = handler_fn(|_: Request<ByteStream>| async {
///     Err::<Response<ByteStream>, _>(StreamError::TooLarge { limit: 1 })
/// });
/// let response = respond(failing, Request::new(ByteStream::empty())).await;
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// # });
/// ```
pub fn respond<H: HttpHandler>(handler: H, request: Request<ByteStream>) -> Respond<H> {
    Respond {
        call: Call::new(handler, request),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`respond`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Respond<H>
    where
        H: HttpHandler,
    {
        #[pin]
        call: Call<H>,
    }
}

impl<H: HttpHandler> Future for Respond<H> {
    type Output = Response<ResponseBody<H::Body>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let call = self.project().call;
        let response = match catch_unwind(AssertUnwindSafe(|| call.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => response.map(ResponseBody::new),
            Ok(Poll::Ready(Err(error))) => {
                tracing::error!(error = %error, "the HTTP handler failed; responding 500");
                internal_server_error()
            }
            Err(panic) => {
                tracing::error!(
                    panic = panic_message(&*panic),
                    "the HTTP handler panicked; responding 500"
                );
                internal_server_error()
            }
        };
        Poll::Ready(response)
    }
}

impl<H: HttpHandler> fmt::Debug for Respond<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Respond").finish_non_exhaustive()
    }
}

/// The text of a panic payload, when it has one.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(a panic payload that is not a string)"
    }
}

/// A `500 Internal Server Error` with a plain-text body.
fn internal_server_error<B>() -> Response<ResponseBody<B>> {
    status_response(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response of `status` whose plain-text body is the status's reason phrase, such as
/// `413 Payload Too Large`.
pub(crate) fn status_response<B>(status: StatusCode) -> Response<ResponseBody<B>> {
    let reason = status.canonical_reason().unwrap_or("");
    let text = format!("{} {reason}\n", status.as_u16());
    let mut response = Response::new(ResponseBody::full(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pin_project_lite::pin_project! {
    /// The body of a response from [`respond`]: the handler's body `B`, or a short body that the
    /// adapter wrote itself (for a `500`).
    ///
    /// It forwards `B`'s frames and size hint unchanged, and turns `B`'s errors into
    /// [`BoxError`]s.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProjection]
    enum Kind<B> {
        Handler { #[pin] body: B },
        Full { data: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// The handler's body.
    pub fn new(body: B) -> Self {
        Self {
            kind: Kind::Handler { body },
        }
    }

    /// A body of `data`, in one frame.
    pub fn full(data: Bytes) -> Self {
        Self {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// The handler's body, or `None` when the adapter wrote the body.
    pub fn into_inner(self) -> Option<B> {
        match self.kind {
            Kind::Handler { body } => Some(body),
            Kind::Full { .. } => None,
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes, Error: Into<BoxError>>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().kind.project() {
            KindProjection::Handler { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(Into::into))),
            KindProjection::Full { data } => {
                Poll::Ready(data.take().map(|data| Ok(Frame::data(data))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Handler { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Handler { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |data| data.len() as u64))
            }
        }
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Handler { .. } => "handler",
            Kind::Full { .. } => "full",
        };
        f.debug_struct("ResponseBody").field("kind", &kind).finish()
    }
}

impl<B> ResponseBody<B>
where
    B: Body<Data = Bytes, Error: Into<BoxError>> + MaybeSend + 'static,
{
    /// The body as a [`ByteStream`], with its size hint; a handler body that is a `ByteStream`
    /// already comes back as it is.
    pub fn into_byte_stream(self) -> ByteStream {
        match self.kind {
            Kind::Handler { body } => ByteStream::from_body(body),
            Kind::Full { data } => data.map_or_else(ByteStream::empty, ByteStream::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::executor::block_on;
    use http_body_util::BodyExt;

    use super::*;
    use crate::handler_fn;

    fn request() -> Request<ByteStream> {
        Request::new(ByteStream::empty())
    }

    #[test]
    fn a_response_passes_through_with_its_size_hint() {
        let hello = handler_fn(|_: Request<ByteStream>| async {
            let mut response = Response::new(ByteStream::from("hello"));
            *response.status_mut() = StatusCode::CREATED;
            response
        });
        let response = block_on(respond(hello, request()));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.body().size_hint().exact(), Some(5));
        let body = block_on(response.into_body().collect()).unwrap().to_bytes();
        assert_eq!(body, "hello");
    }

    #[test]
    fn an_error_becomes_a_500_that_reveals_nothing() {
        let failing = handler_fn(|_: Request<ByteStream>| async {
            Err::<Response<ByteStream>, _>(io::Error::other("database password is hunter2"))
        });
        let response = block_on(respond(failing, request()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = block_on(response.into_body().into_byte_stream().collect(100)).unwrap();
        assert_eq!(body, "500 Internal Server Error\n");
    }

    #[test]
    fn a_panic_becomes_a_500() {
        let panicking = handler_fn(|request: Request<ByteStream>| async move {
            if request.uri().path() == "/" {
                panic!("the handler has a bug");
            }
            Response::new(ByteStream::empty())
        });
        let response = block_on(respond(panicking, request()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.into_body().into_inner().is_none());
    }

    #[test]
    fn a_byte_stream_body_comes_back_unwrapped() {
        let data = Bytes::from_static(b"no copy");
        let body = ResponseBody::new(ByteStream::from(data.clone()));
        let stream = body.into_byte_stream();
        assert!(format!("{stream:?}").contains("bytes"), "{stream:?}");
        assert_eq!(
            block_on(stream.collect(100)).unwrap().as_ptr(),
            data.as_ptr()
        );
    }

    #[test]
    fn full_bodies_report_their_length_and_end() {
        let body = ResponseBody::<ByteStream>::full(Bytes::from_static(b"abc"));
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        let empty = ResponseBody::<ByteStream>::full(Bytes::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
        assert_eq!(format!("{empty:?}"), r#"ResponseBody { kind: "full" }"#);
    }

    #[test]
    fn panic_messages_are_read_from_strings() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert!(panic_message(&42u8).contains("not a string"));
    }
}
