//! The macros an app crate uses to export its Worker: [`serve!`](crate::serve!) for the fetch
//! handler and [`durable_object!`](crate::durable_object!) for one Durable Object class per actor
//! namespace. On targets other than `wasm32` they expand to a check of their arguments only, so
//! the app crate builds (and its native tests run) everywhere.

/// Exports the Worker's fetch handler: the service `$service` (an [`alchemy::Service`] whose
/// handler is an HTTP handler), named `$name` (by default the type's name).
///
/// ```text
/// alchemy_cloudflare::serve!(Api, "api");
/// ```
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! serve {
    ($service:ty) => {
        $crate::serve!($service, stringify!($service));
    };
    ($service:ty, $name:expr) => {
        // In a block of its own, where `wasm_bindgen` names the crate the generated code needs.
        const _: () = {
        use $crate::__private::wasm_bindgen;

        /// The Worker's fetch handler.
        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = $crate::__private::wasm_bindgen)]
        pub fn fetch(
            req: $crate::__private::web_sys::Request,
            env: $crate::__private::worker::Env,
            _ctx: $crate::__private::wasm_bindgen::JsValue,
        ) -> $crate::__private::js_sys::Promise {
            $crate::__private::wasm_bindgen_futures::future_to_promise(async move {
                $crate::serve::<$service>($name, req, env)
                    .await
                    .map($crate::__private::wasm_bindgen::JsValue::from)
            })
        }
        };
    };
}

/// Exports the Worker's fetch handler (on `wasm32` only; elsewhere this checks the arguments).
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! serve {
    ($service:ty) => {
        $crate::serve!($service, stringify!($service));
    };
    ($service:ty, $name:expr) => {
        const _: fn() = || {
            fn is_service<S: $crate::__private::alchemy::Service>() {}
            is_service::<$service>();
            let _: &str = $name;
        };
    };
}

/// Defines and exports the Durable Object class `$class` that hosts the actors of the
/// namespace `$actors` (a `static` [`Actors`](alchemy::actor::Actors) declaration).
///
/// `#[durable_object]` of the `worker` crate needs a concrete struct per class; this macro
/// writes that struct, holding a `durable::ObjectHost`, so that any
/// neutral actor runs as a Durable Object unchanged.
///
/// ```text
/// alchemy_cloudflare::durable_object!(RoomObject, photo_share::ROOMS);
/// ```
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! durable_object {
    ($class:ident, $actors:expr) => {
        // In a block of its own, where `wasm_bindgen` names the crate the generated code needs.
        const _: () = {
        use $crate::__private::wasm_bindgen;

        /// A Durable Object class hosting neutral actors.
        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = $crate::__private::wasm_bindgen)]
        pub struct $class {
            host: ::std::rc::Rc<$crate::durable::ObjectHost>,
        }

        #[$crate::__private::wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = $crate::__private::wasm_bindgen)]
        impl $class {
            /// Builds the object; the actor itself is built on its first event.
            #[wasm_bindgen(constructor, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn new(
                state: $crate::__private::worker::worker_sys::DurableObjectState,
                env: $crate::__private::worker::Env,
            ) -> Self {
                $class {
                    host: $crate::durable::ObjectHost::new(state, env, &$actors),
                }
            }

            /// The runtime's `fetch`.
            #[wasm_bindgen(js_name = fetch, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn fetch(
                &self,
                req: $crate::__private::web_sys::Request,
            ) -> $crate::__private::js_sys::Promise {
                self.host.fetch(req)
            }

            /// The runtime's `alarm`.
            #[wasm_bindgen(js_name = alarm, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn alarm(&self) -> $crate::__private::js_sys::Promise {
                self.host.alarm()
            }

            /// The runtime's `webSocketMessage`.
            #[wasm_bindgen(js_name = webSocketMessage, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn websocket_message(
                &self,
                ws: $crate::__private::web_sys::WebSocket,
                message: $crate::__private::wasm_bindgen::JsValue,
            ) -> $crate::__private::js_sys::Promise {
                self.host.websocket_message(ws, message)
            }

            /// The runtime's `webSocketClose`.
            #[wasm_bindgen(js_name = webSocketClose, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn websocket_close(
                &self,
                ws: $crate::__private::web_sys::WebSocket,
                code: u16,
                reason: String,
                _was_clean: bool,
            ) -> $crate::__private::js_sys::Promise {
                self.host.websocket_close(ws, code, reason)
            }

            /// The runtime's `webSocketError`.
            #[wasm_bindgen(js_name = webSocketError, wasm_bindgen = $crate::__private::wasm_bindgen)]
            pub fn websocket_error(
                &self,
                ws: $crate::__private::web_sys::WebSocket,
                error: $crate::__private::wasm_bindgen::JsValue,
            ) -> $crate::__private::js_sys::Promise {
                self.host.websocket_error(ws, error)
            }
        }
        };
    };
}

/// Defines the Durable Object class for an actor namespace (on `wasm32` only; elsewhere this
/// checks the arguments).
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! durable_object {
    ($class:ident, $actors:expr) => {
        const _: fn() = || {
            let _: &str = $actors.id();
        };
    };
}
