//! [`BoxHandler`]: any [`HttpHandler`] behind one type.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use alchemy_stream::{BoxError, ByteStream, MaybeSend};
use http::{Request, Response};
use tower_service::Service;

use super::call::Call;
use super::HttpHandler;
use crate::MaybeSync;

/// Any [`HttpHandler`], erased to `Request<ByteStream> -> Response<ByteStream>`.
///
/// `BoxHandler` is what code that stores handlers of different types keeps: a table of
/// services, a provider's runtime, a test. It is itself an `HttpHandler`.
///
/// - **Cloning is an `Arc` bump**, whatever the handler inside; every call clones the inner
///   handler (which must therefore be cheap to clone, as an axum `Router` is) and waits for it
///   to be ready, so the `BoxHandler` itself is always ready.
/// - **The response body becomes a [`ByteStream`]**, keeping its size hint; a handler whose body
///   is a `ByteStream` already keeps it as it is.
/// - **Errors become [`BoxError`]s.** They are not turned into responses here: [`respond`]
///   and the adapters do that.
/// - **One allocation per call**, for the erased future. Adapters that know the handler's type
///   (such as `serve`) call it directly, without one.
///
/// [`respond`]: crate::respond
///
/// # Examples
///
/// ```
/// use alchemy_http::{handler_fn, BoxHandler};
/// use alchemy_stream::ByteStream;
/// use http::{Request, Response};
/// use tower_service::Service;
///
/// # futures::executor::block_on(async {
/// let mut handler = BoxHandler::new(handler_fn(|_: Request<ByteStream>| async {
///     Response::new(ByteStream::from("hi"))
/// }));
/// let response = handler.call(Request::new(ByteStream::empty())).await?;
/// assert_eq!(response.into_body().collect(16).await?, "hi");
/// # Ok::<(), alchemy_stream::BoxError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct BoxHandler {
    inner: Arc<dyn ErasedHandler>,
}

impl BoxHandler {
    /// Erases `handler`.
    ///
    /// On native targets the handler must be `Sync`, since one `BoxHandler` is shared by every
    /// connection (see [`MaybeSync`]). A `BoxHandler` passed in is kept as it is, not wrapped
    /// again.
    pub fn new<H>(handler: H) -> Self
    where
        H: HttpHandler + MaybeSync,
    {
        let mut slot = Some(handler);
        let already_boxed = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<Self>>()
            .and_then(Option::take);
        match (already_boxed, slot) {
            (Some(boxed), _) => boxed,
            (None, Some(handler)) => Self {
                inner: Arc::new(handler),
            },
            (None, None) => unreachable!("the handler is taken only when it is a BoxHandler"),
        }
    }
}

impl fmt::Debug for BoxHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxHandler").finish_non_exhaustive()
    }
}

impl Service<Request<ByteStream>> for BoxHandler {
    type Response = Response<ByteStream>;
    type Error = BoxError;
    type Future = BoxHandlerFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ByteStream>) -> BoxHandlerFuture {
        self.inner.call(request)
    }
}

/// The future of a [`BoxHandler`] call.
#[must_use = "futures do nothing unless polled"]
pub struct BoxHandlerFuture {
    inner: Pin<Box<dyn ResponseFuture>>,
}

impl Future for BoxHandlerFuture {
    type Output = Result<Response<ByteStream>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for BoxHandlerFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxHandlerFuture").finish_non_exhaustive()
    }
}

/// The future of an erased call.
trait ResponseFuture: Future<Output = Result<Response<ByteStream>, BoxError>> + MaybeSend {}

impl<F> ResponseFuture for F where
    F: Future<Output = Result<Response<ByteStream>, BoxError>> + MaybeSend
{
}

/// The object-safe side of a handler: a call through a shared reference.
trait ErasedHandler: MaybeSend + MaybeSync {
    fn call(&self, request: Request<ByteStream>) -> BoxHandlerFuture;
}

impl<H> ErasedHandler for H
where
    H: HttpHandler + MaybeSync,
{
    fn call(&self, request: Request<ByteStream>) -> BoxHandlerFuture {
        let call = Call::new(self.clone(), request);
        BoxHandlerFuture {
            inner: Box::pin(async move {
                let response = call.await?;
                Ok(response.map(ByteStream::from_body))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::executor::block_on;
    use http::StatusCode;
    use http_body_util::Full;

    use super::*;
    use crate::handler_fn;

    #[test]
    fn any_body_becomes_a_byte_stream_with_its_length() {
        let mut handler = BoxHandler::new(handler_fn(|_: Request<ByteStream>| async {
            Response::new(Full::new(bytes::Bytes::from_static(b"full body")))
        }));
        let response = block_on(Service::call(
            &mut handler,
            Request::new(ByteStream::empty()),
        ))
        .unwrap();
        let body = response.into_body();
        assert_eq!(body.len(), Some(9));
        assert_eq!(block_on(body.collect(9)).unwrap(), "full body");
    }

    #[test]
    fn errors_are_kept_for_the_adapter() {
        let mut handler = BoxHandler::new(handler_fn(|_: Request<ByteStream>| async {
            Err::<Response<ByteStream>, _>(io::Error::new(io::ErrorKind::NotFound, "gone"))
        }));
        let error = block_on(Service::call(
            &mut handler,
            Request::new(ByteStream::empty()),
        ))
        .unwrap_err();
        assert_eq!(error.to_string(), "gone");
        assert!(error.is::<io::Error>());
    }

    #[test]
    fn a_box_handler_is_not_boxed_twice() {
        let handler = BoxHandler::new(handler_fn(|_: Request<ByteStream>| async {
            Response::new(ByteStream::empty())
        }));
        let again = BoxHandler::new(handler.clone());
        assert!(Arc::ptr_eq(&handler.inner, &again.inner));
    }

    #[test]
    fn every_call_clones_and_readies_the_inner_service() {
        /// A service that is ready only on the second poll, and counts its calls.
        #[derive(Clone, Default)]
        struct Slow {
            polled: bool,
            calls: Arc<std::sync::atomic::AtomicUsize>,
        }

        impl Service<Request<ByteStream>> for Slow {
            type Response = Response<ByteStream>;
            type Error = io::Error;
            type Future = std::future::Ready<Result<Response<ByteStream>, io::Error>>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
                if self.polled {
                    return Poll::Ready(Ok(()));
                }
                self.polled = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }

            fn call(&mut self, _: Request<ByteStream>) -> Self::Future {
                assert!(self.polled, "called before it was ready");
                self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut response = Response::new(ByteStream::empty());
                *response.status_mut() = StatusCode::ACCEPTED;
                std::future::ready(Ok(response))
            }
        }

        let slow = Slow::default();
        let calls = Arc::clone(&slow.calls);
        let mut handler = BoxHandler::new(slow);
        for _ in 0..3 {
            let response = block_on(Service::call(
                &mut handler,
                Request::new(ByteStream::empty()),
            ))
            .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
