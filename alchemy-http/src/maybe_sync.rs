//! [`MaybeSync`]: `Sync` where threads exist, nothing on `wasm32`.

/// `Sync` on native targets, no bound at all on `wasm32`; the twin of
/// [`MaybeSend`](alchemy_stream::MaybeSend).
///
/// A [`BoxHandler`](crate::BoxHandler) is shared between connections, so on native targets the
/// handler inside it must be `Sync` (an axum `Router` is). On `wasm32` nothing is shared between
/// threads and the bound disappears.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}

#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, no bound at all on `wasm32`; the twin of
/// [`MaybeSend`](alchemy_stream::MaybeSend).
///
/// A [`BoxHandler`](crate::BoxHandler) is shared between connections, so on native targets the
/// handler inside it must be `Sync` (an axum `Router` is). On `wasm32` nothing is shared between
/// threads and the bound disappears.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}

#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}
