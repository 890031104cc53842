//! Bounds that mean `Send` (and `Sync`) on native targets and nothing on `wasm32`.

use std::future::Future;
use std::pin::Pin;

pub use alchemy_stream::MaybeSend;

/// `Send + Sync` on native targets, no bound at all on `wasm32`.
///
/// Native runtimes share stores, actors and clients between threads (an axum router clones its
/// state into every task), so there they must be `Send + Sync`. In a Worker on `wasm32`,
/// JavaScript objects are neither and need not be, so the bound disappears.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}

#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` on native targets, no bound at all on `wasm32`.
///
/// Native runtimes share stores, actors and clients between threads (an axum router clones its
/// state into every task), so there they must be `Send + Sync`. In a Worker on `wasm32`,
/// JavaScript objects are neither and need not be, so the bound disappears.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}

#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// A boxed future: `Send` on native targets, not on `wasm32`.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed future: `Send` on native targets, not on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A future or stream that a Send-demanding framework may hold on `wasm32`, where there is only
/// one thread.
///
/// Frameworks written for threads (axum's handlers, tower layers) ask for `Send` futures and
/// `Send + Sync` state, even in a Worker. On `wasm32-unknown-unknown` without the `atomics`
/// target feature no second thread exists, so nothing can be sent or shared across one and the
/// bound is vacuous: the neutral clients ([`BucketClient`](crate::bucket::BucketClient),
/// [`ActorNamespace`](crate::actor::ActorNamespace), [`ActorStub`](crate::actor::ActorStub))
/// wrap what they return in this type and declare themselves `Send + Sync` there, so that the
/// same axum router serves natively and in a Worker.
///
/// On other targets [`single_threaded`] returns its argument unchanged.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[derive(Debug)]
pub struct SingleThreaded<T>(T);

// SAFETY: without the `atomics` target feature, a wasm32 module runs on exactly one thread, so
// no value ever reaches or is shared with another thread.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<T> Send for SingleThreaded<T> {}
// SAFETY: as for `Send`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<T> Sync for SingleThreaded<T> {}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl<T> SingleThreaded<T> {
    fn project(self: Pin<&mut Self>) -> Pin<&mut T> {
        // SAFETY: the field is pinned structurally: it is never moved out of a pinned wrapper,
        // and the wrapper has no `Drop` or `Unpin` impl of its own that could move it.
        unsafe { self.map_unchecked_mut(|wrapper| &mut wrapper.0) }
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl<F: Future> Future for SingleThreaded<F> {
    type Output = F::Output;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.project().poll(cx)
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl<S: futures::Stream> futures::Stream for SingleThreaded<S> {
    type Item = S::Item;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.project().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// `value` as a [`SingleThreaded`] future or stream on a single-threaded `wasm32`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn single_threaded<T>(value: T) -> SingleThreaded<T> {
    SingleThreaded(value)
}

/// `value` itself: native futures and streams are `Send` already where they need to be.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
pub fn single_threaded<T>(value: T) -> T {
    value
}

/// Declares a type `Send + Sync` on a single-threaded `wasm32` (see [`SingleThreaded`]).
macro_rules! single_threaded_send_sync {
    ($($ty:ty),* $(,)?) => {
        $(
            // SAFETY: without the `atomics` target feature a wasm32 module has one thread.
            #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
            unsafe impl Send for $ty {}
            // SAFETY: as for `Send`.
            #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
            unsafe impl Sync for $ty {}
        )*
    };
}
pub(crate) use single_threaded_send_sync;
