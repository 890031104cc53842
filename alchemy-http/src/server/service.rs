//! The hyper side of a handler: [`ConnectionService`] turns hyper's requests into
//! `Request<ByteStream>`, enforces the body limit and runs the handler through [`respond`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use alchemy_stream::{BoxError, ByteStream, Bytes, SizeHint, StreamError};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use hyper::body::Incoming;

use crate::handler::{respond, status_response, Respond, ResponseBody};
use crate::wire::WireBody;
use crate::HttpHandler;

/// The service of one connection: a handler and the server's request body limit.
#[derive(Clone)]
pub(crate) struct ConnectionService<H> {
    handler: H,
    max_request_body: Option<u64>,
}

impl<H> ConnectionService<H> {
    pub(crate) fn new(handler: H, max_request_body: Option<u64>) -> Self {
        Self {
            handler,
            max_request_body,
        }
    }
}

impl<H: HttpHandler> hyper::service::Service<Request<Incoming>> for ConnectionService<H> {
    type Response = Response<WireBody<ResponseBody<H::Body>>>;
    type Error = Infallible;
    type Future = ServeFuture<H>;

    fn call(&self, request: Request<Incoming>) -> ServeFuture<H> {
        let (parts, incoming) = request.into_parts();
        let mut overflow = None;
        let body = match self.max_request_body {
            _ if incoming.is_end_stream() => ByteStream::empty(),
            Some(limit) if incoming.size_hint().lower() > limit => {
                return ServeFuture::rejected(payload_too_large());
            }
            Some(limit)
                if incoming
                    .size_hint()
                    .upper()
                    .is_none_or(|upper| upper > limit) =>
            {
                let exceeded = Arc::new(AtomicBool::new(false));
                overflow = Some(Arc::clone(&exceeded));
                ByteStream::from_body(Limited {
                    incoming,
                    remaining: limit,
                    limit,
                    exceeded,
                })
            }
            _ => ByteStream::from_body(incoming),
        };
        let head = parts.method == Method::HEAD;
        let request = Request::from_parts(parts, body);
        ServeFuture::Respond {
            respond: respond(self.handler.clone(), request),
            overflow,
            head,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of one request on the server.
    #[project = ServeFutureProjection]
    pub(crate) enum ServeFuture<H>
    where
        H: HttpHandler,
    {
        Respond {
            #[pin]
            respond: Respond<H>,
            // Set when the request body passed the limit.
            overflow: Option<Arc<AtomicBool>>,
            // A `HEAD` request: the response goes without its body.
            head: bool,
        },
        Rejected {
            response: Option<Response<ResponseBody<H::Body>>>,
        },
    }
}

impl<H: HttpHandler> ServeFuture<H> {
    fn rejected(response: Response<ResponseBody<H::Body>>) -> Self {
        Self::Rejected {
            response: Some(response),
        }
    }
}

impl<H: HttpHandler> Future for ServeFuture<H> {
    type Output = Result<Response<WireBody<ResponseBody<H::Body>>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ServeFutureProjection::Respond {
                respond,
                overflow,
                head,
            } => {
                let response = ready!(respond.poll(cx));
                let exceeded = overflow
                    .as_ref()
                    .is_some_and(|exceeded| exceeded.load(Ordering::Acquire));
                let response = if exceeded {
                    payload_too_large()
                } else if *head {
                    without_body(response)
                } else {
                    response
                };
                Poll::Ready(Ok(response.map(WireBody::new)))
            }
            ServeFutureProjection::Rejected { response } => {
                let response = response
                    .take()
                    .expect("a server request future was polled after it completed");
                Poll::Ready(Ok(response.map(WireBody::new)))
            }
        }
    }
}

/// The response to a `HEAD` request: the head of the handler's response, with the length of
/// its body as `Content-Length`, and no body. (hyper leaves HTTP/1.1 bodies of `HEAD`
/// responses out itself, but sends them over HTTP/2, which clients refuse.)
fn without_body<B>(response: Response<ResponseBody<B>>) -> Response<ResponseBody<B>>
where
    B: Body<Data = Bytes, Error: Into<BoxError>>,
{
    let (mut parts, body) = response.into_parts();
    let status = parts.status;
    let has_length = !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED);
    if let (true, Some(len)) = (has_length, body.size_hint().exact()) {
        parts
            .headers
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    Response::from_parts(parts, ResponseBody::full(Bytes::new()))
}

/// `413 Payload Too Large`, closing the connection (the rest of the body is not read).
fn payload_too_large<B>() -> Response<ResponseBody<B>> {
    let mut response = status_response(StatusCode::PAYLOAD_TOO_LARGE);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails with [`StreamError::TooLarge`] once it passes `limit` bytes, and
/// says so through `exceeded`.
struct Limited {
    incoming: Incoming,
    remaining: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Body for Limited {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        let this = &mut *self;
        let frame = match ready!(Pin::new(&mut this.incoming).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => return Poll::Ready(Some(Err(StreamError::other(error)))),
            None => return Poll::Ready(None),
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > this.remaining {
                this.exceeded.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(StreamError::TooLarge { limit: this.limit })));
            }
            this.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
