//! [`Call`]: one request through a tower service, readiness first.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use alchemy_stream::{BoxError, ByteStream};
use http::Request;
use tower_service::Service;

pin_project_lite::pin_project! {
    /// Waits for `service` to be ready, then calls it with `request` and runs the call: tower's
    /// `Oneshot`, without the dependency, with the service's errors boxed.
    ///
    /// A service that is ready at once (most are) is called when the `Call` is made, not on its
    /// first poll: the handler takes the request right away, and whatever of it the handler
    /// does not keep (its head, which borrows the server's read buffer) is freed before the
    /// server reads again, so that the buffer can be reused instead of reallocated.
    pub(crate) struct Call<S>
    where
        S: Service<Request<ByteStream>>,
    {
        service: S,
        request: Option<Request<ByteStream>>,
        not_ready: Option<BoxError>,
        #[pin]
        future: Option<S::Future>,
    }
}

impl<S> Call<S>
where
    S: Service<Request<ByteStream>, Error: Into<BoxError>>,
{
    pub(crate) fn new(mut service: S, request: Request<ByteStream>) -> Self {
        // Readiness without a task to wake: a service that is not ready yet is asked again,
        // with the caller's waker, on the first poll.
        let mut cx = Context::from_waker(Waker::noop());
        let (request, not_ready, future) = match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => (None, None, Some(service.call(request))),
            Poll::Ready(Err(error)) => (None, Some(error.into()), None),
            Poll::Pending => (Some(request), None, None),
        };
        Self {
            service,
            request,
            not_ready,
            future,
        }
    }
}

impl<S> Future for Call<S>
where
    S: Service<Request<ByteStream>, Error: Into<BoxError>>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(future) = this.future.as_mut().as_pin_mut() {
                return future.poll(cx).map_err(Into::into);
            }
            if let Some(error) = this.not_ready.take() {
                return Poll::Ready(Err(error));
            }
            ready!(this.service.poll_ready(cx)).map_err(Into::into)?;
            let request = this
                .request
                .take()
                .expect("a handler call was polled after it completed");
            this.future.set(Some(this.service.call(request)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use futures::executor::block_on;
    use http::Response;

    use super::*;

    /// A service that is ready, or fails to be, and notes when it is called.
    #[derive(Clone)]
    struct Probe {
        ready: Result<(), &'static str>,
        called: Arc<AtomicBool>,
    }

    impl Service<Request<ByteStream>> for Probe {
        type Response = Response<ByteStream>;
        type Error = io::Error;
        type Future = std::future::Ready<Result<Response<ByteStream>, io::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
            Poll::Ready(self.ready.map_err(io::Error::other))
        }

        fn call(&mut self, _: Request<ByteStream>) -> Self::Future {
            self.called.store(true, Ordering::SeqCst);
            std::future::ready(Ok(Response::new(ByteStream::empty())))
        }
    }

    #[test]
    fn a_ready_service_is_called_before_the_first_poll() {
        let called = Arc::new(AtomicBool::new(false));
        let probe = Probe {
            ready: Ok(()),
            called: Arc::clone(&called),
        };
        let call = Call::new(probe, Request::new(ByteStream::empty()));
        assert!(
            called.load(Ordering::SeqCst),
            "the request waited for a poll"
        );
        assert!(block_on(call).is_ok());
    }

    #[test]
    fn a_readiness_error_is_the_call_error() {
        let called = Arc::new(AtomicBool::new(false));
        let probe = Probe {
            ready: Err("overloaded"),
            called: Arc::clone(&called),
        };
        let error = block_on(Call::new(probe, Request::new(ByteStream::empty()))).unwrap_err();
        assert_eq!(error.to_string(), "overloaded");
        assert!(
            !called.load(Ordering::SeqCst),
            "a service that is not ready was called"
        );
    }
}
