//! [`handler_fn`]: a plain async function as a handler.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use alchemy_stream::ByteStream;
use http::{Request, Response};
use tower_service::Service;

/// A handler made of an async function or closure, taking a `Request<ByteStream>`.
///
/// The function returns either a `Response<B>` or a `Result<Response<B>, E>` (see
/// [`HandlerOutput`]); `B` is any body of [`Bytes`](bytes::Bytes) and `E` any error that
/// converts to a [`BoxError`](alchemy_stream::BoxError). An `Err` becomes a
/// `500 Internal Server Error` response when an adapter serves the handler.
///
/// The handler is cloned for every request, so it must be `Clone`: capture shared state in an
/// `Arc`, and clone what the future needs out of it before the `async move` block.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use alchemy_http::handler_fn;
/// use alchemy_stream::{ByteStream, StreamError};
/// use http::{Request, Response, StatusCode};
///
/// // A plain async fn.
/// async fn echo(request: Request<ByteStream>) -> Response<ByteStream> {
///     Response::new(request.into_body())
/// }
/// let echo = handler_fn(echo);
///
/// // A closure over shared state, with errors.
/// let greeting = Arc::new(String::from("hello"));
/// let greet = handler_fn(move |request: Request<ByteStream>| {
///     let greeting = Arc::clone(&greeting);
///     async move {
///         let name = request.into_body().collect(64).await?;
///         let text = format!("{greeting}, {}", String::from_utf8_lossy(&name));
///         Ok::<_, StreamError>(Response::builder().status(StatusCode::OK).body(ByteStream::from(text)).unwrap())
///     }
/// });
/// # let _ = (echo, greet);
/// ```
pub fn handler_fn<F>(function: F) -> HandlerFn<F> {
    HandlerFn { function }
}

/// A handler made of an async function; see [`handler_fn`].
#[derive(Clone, Copy)]
pub struct HandlerFn<F> {
    function: F,
}

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFn")
            .field("function", &std::any::type_name::<F>())
            .finish()
    }
}

impl<F, Fut> Service<Request<ByteStream>> for HandlerFn<F>
where
    F: Fn(Request<ByteStream>) -> Fut,
    Fut: Future,
    Fut::Output: HandlerOutput,
{
    type Response = Response<<Fut::Output as HandlerOutput>::Body>;
    type Error = <Fut::Output as HandlerOutput>::Error;
    type Future = HandlerFnFuture<Fut>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ByteStream>) -> Self::Future {
        HandlerFnFuture {
            future: (self.function)(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`HandlerFn`] call.
    #[must_use = "futures do nothing unless polled"]
    pub struct HandlerFnFuture<Fut> {
        #[pin]
        future: Fut,
    }
}

impl<Fut> Future for HandlerFnFuture<Fut>
where
    Fut: Future,
    Fut::Output: HandlerOutput,
{
    type Output = Result<
        Response<<Fut::Output as HandlerOutput>::Body>,
        <Fut::Output as HandlerOutput>::Error,
    >;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = ready!(self.project().future.poll(cx));
        Poll::Ready(output.into_result())
    }
}

impl<Fut> fmt::Debug for HandlerFnFuture<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFnFuture").finish_non_exhaustive()
    }
}

/// What the function of a [`handler_fn`] may return: a `Response<B>`, or a
/// `Result<Response<B>, E>`.
pub trait HandlerOutput {
    /// The response body.
    type Body;
    /// The error; [`Infallible`] for a plain `Response`.
    type Error;

    /// The output as a result.
    fn into_result(self) -> Result<Response<Self::Body>, Self::Error>;
}

impl<B> HandlerOutput for Response<B> {
    type Body = B;
    type Error = Infallible;

    fn into_result(self) -> Result<Response<B>, Infallible> {
        Ok(self)
    }
}

impl<B, E> HandlerOutput for Result<Response<B>, E> {
    type Body = B;
    type Error = E;

    fn into_result(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use futures::executor::block_on;

    use super::*;

    async fn plain(request: Request<ByteStream>) -> Response<ByteStream> {
        Response::new(ByteStream::from(request.uri().path().to_owned()))
    }

    #[test]
    fn a_plain_async_fn_is_a_handler() {
        let mut handler = handler_fn(plain);
        let request = Request::get("/path").body(ByteStream::empty()).unwrap();
        let response = block_on(handler.call(request)).unwrap();
        assert_eq!(block_on(response.into_body().collect(10)).unwrap(), "/path");
    }

    #[test]
    fn a_closure_over_state_returning_results_is_a_handler() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let mut handler = handler_fn(move |request: Request<ByteStream>| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if request.uri().path() == "/fail" {
                    return Err(io::Error::other("failed"));
                }
                Ok(Response::new(ByteStream::empty()))
            }
        });
        let ok = block_on(handler.call(Request::new(ByteStream::empty())));
        assert!(ok.is_ok());
        let failing = Request::get("/fail").body(ByteStream::empty()).unwrap();
        assert_eq!(
            block_on(handler.call(failing)).unwrap_err().to_string(),
            "failed"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn debug_names_the_function() {
        let text = format!("{:?}", handler_fn(plain));
        assert!(text.contains("plain"), "{text}");
    }
}
