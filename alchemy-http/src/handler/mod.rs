//! HTTP handlers: the [`HttpHandler`] trait, its erased form [`BoxHandler`], [`handler_fn`] for
//! plain async functions, and [`respond`], which runs a handler the way every adapter does.

mod boxed;
mod call;
mod handler_fn;
mod respond;

use alchemy_stream::{BoxError, ByteStream, Bytes, MaybeSend};
use http::{Request, Response};
use tower_service::Service;

pub use boxed::{BoxHandler, BoxHandlerFuture};
pub use handler_fn::{handler_fn, HandlerFn, HandlerFnFuture, HandlerOutput};
#[cfg(feature = "server")]
pub(crate) use respond::status_response;
pub use respond::{respond, Respond, ResponseBody};

/// An HTTP handler: any tower [`Service`] from `Request<ByteStream>` to `Response<B>` whose body
/// `B` is an [`http_body::Body`] of [`Bytes`].
///
/// Nothing implements this trait by hand: every service of that shape is a handler, through a
/// blanket implementation. That includes an axum `Router` (after
/// [`with_state`](https://docs.rs/axum/latest/axum/struct.Router.html#method.with_state)),
/// anything built with tower's `ServiceBuilder`, [`handler_fn`] and [`BoxHandler`]. Write
/// `impl HttpHandler` (or `H: HttpHandler`) wherever a handler is taken, instead of spelling
/// out the `Service` bounds.
///
/// What a handler must be:
///
/// - **`Clone`**: adapters clone the handler for every request (tower's `&mut self` calls
///   cannot be shared), so cloning should be cheap, an `Arc` bump; an axum `Router` is.
/// - **`MaybeSend` and `'static`**, with a `MaybeSend` future and body: `Send` on native
///   targets, where requests run on a thread pool, and no bound on `wasm32` (see
///   [`MaybeSend`]).
/// - **Errors that convert to a [`BoxError`]**, from the service and from its body. An error
///   from the service becomes a `500 Internal Server Error` response (see [`respond`]); an
///   error from the body ends the response abruptly, since its head is already sent.
///
/// The request body is a [`ByteStream`]: it streams, and its [`len`](ByteStream::len) is the
/// request's `Content-Length` when it has one.
///
/// # Examples
///
/// ```
/// use alchemy_http::{handler_fn, HttpHandler};
/// use alchemy_stream::ByteStream;
/// use http::{Request, Response};
///
/// async fn hello(_: Request<ByteStream>) -> Response<ByteStream> {
///     Response::new(ByteStream::from("hello"))
/// }
///
/// fn takes_a_handler(_: impl HttpHandler) {}
///
/// takes_a_handler(handler_fn(hello));
/// ```
pub trait HttpHandler:
    Service<
        Request<ByteStream>,
        Response = Response<<Self as HttpHandler>::Body>,
        Error: Into<BoxError>,
        Future: MaybeSend + 'static,
    > + Clone
    + MaybeSend
    + 'static
{
    /// The body of the handler's responses.
    type Body: http_body::Body<Data = Bytes, Error: Into<BoxError>> + MaybeSend + 'static;
}

impl<S, B> HttpHandler for S
where
    S: Service<Request<ByteStream>, Response = Response<B>> + Clone + MaybeSend + 'static,
    S::Error: Into<BoxError>,
    S::Future: MaybeSend + 'static,
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + MaybeSend + 'static,
{
    type Body = B;
}
