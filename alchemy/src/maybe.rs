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
