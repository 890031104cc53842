//! [`Call`]: one request through a tower service, readiness first.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use alchemy_stream::ByteStream;
use http::Request;
use tower_service::Service;

pin_project_lite::pin_project! {
    /// Waits for `service` to be ready, then calls it with `request` and runs the call: tower's
    /// `Oneshot`, without the dependency.
    pub(crate) struct Call<S>
    where
        S: Service<Request<ByteStream>>,
    {
        service: S,
        request: Option<Request<ByteStream>>,
        #[pin]
        future: Option<S::Future>,
    }
}

impl<S> Call<S>
where
    S: Service<Request<ByteStream>>,
{
    pub(crate) fn new(service: S, request: Request<ByteStream>) -> Self {
        Self {
            service,
            request: Some(request),
            future: None,
        }
    }
}

impl<S> Future for Call<S>
where
    S: Service<Request<ByteStream>>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(future) = this.future.as_mut().as_pin_mut() {
                return future.poll(cx);
            }
            ready!(this.service.poll_ready(cx))?;
            let request = this
                .request
                .take()
                .expect("a handler call was polled after it completed");
            this.future.set(Some(this.service.call(request)));
        }
    }
}
