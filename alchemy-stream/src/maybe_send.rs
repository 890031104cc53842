//! [`MaybeSend`]: `Send` where threads exist, nothing on `wasm32`.

/// `Send` on native targets, no bound at all on `wasm32`.
///
/// Native providers move streams between threads, so there every stream source must be `Send`.
/// On `wasm32` (a Worker's JavaScript bodies) nothing is `Send` and nothing needs to be, so the
/// bound disappears. Write `T: MaybeSend` where a native build needs `T: Send`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}

#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, no bound at all on `wasm32`.
///
/// Native providers move streams between threads, so there every stream source must be `Send`.
/// On `wasm32` (a Worker's JavaScript bodies) nothing is `Send` and nothing needs to be, so the
/// bound disappears. Write `T: MaybeSend` where a native build needs `T: Send`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}

#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}
