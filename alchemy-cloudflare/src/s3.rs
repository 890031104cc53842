//! S3 in a Worker: the S3 client of [`alchemy_s3`] (SigV4 over plain HTTP), re-exported, and
//! `FetchTransport`, the Worker's `fetch` as its transport (`wasm32` only). A Worker whose
//! bucket a stage places in S3 gets an [`S3Bucket`]`<FetchTransport>` from
//! `CloudflareRuntime::bucket`; the variables it reads are in [`alchemy_s3`]'s documentation.

pub use alchemy_s3::*;

#[cfg(target_arch = "wasm32")]
pub use fetch::FetchTransport;

#[cfg(target_arch = "wasm32")]
mod fetch {
    use alchemy_s3::{Transport, TransportError};
    use alchemy_stream::ByteStream;
    use http::{Request, Response};

    /// The Worker's `fetch` as the transport (`wasm32` only).
    ///
    /// A body of known length crosses as one buffer when small and as a `FixedLengthStream`
    /// otherwise, so workerd sends it with its `Content-Length` (S3 needs one); the response body
    /// streams back.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct FetchTransport;

    #[async_trait::async_trait(?Send)]
    impl Transport for FetchTransport {
        async fn send(
            &self,
            request: Request<ByteStream>,
        ) -> Result<Response<ByteStream>, TransportError> {
            let url = request.uri().to_string();
            let failed = |what: &str, detail: String| TransportError {
                message: format!("{what} {url}: {detail}"),
            };
            let (mut parts, body) = request.into_parts();
            // The body sets the length: workerd sends it for a buffer or a fixed-length stream.
            parts.headers.remove(http::header::CONTENT_LENGTH);
            let empty_upload = body.len() == Some(0)
                && parts.method != http::Method::GET
                && parts.method != http::Method::HEAD;
            let request = crate::js::to_js_request(Request::from_parts(parts, body))
                .await
                .map_err(|error| failed("preparing", crate::js::describe(&error)))?;
            let request = if empty_upload {
                with_empty_body(&request)
                    .map_err(|error| failed("preparing", crate::js::describe(&error)))?
            } else {
                request
            };
            let response = worker::Fetch::Request(worker::Request::from(request))
                .send()
                .await
                .map_err(|error| failed("fetching", error.to_string()))?;
            let response = web_sys::Response::from(response);
            crate::js::from_js_response(&response)
                .map_err(|error| failed("reading", error.to_string()))
        }
    }

    /// `request` again with an empty body, so that an upload of nothing says `Content-Length: 0`.
    fn with_empty_body(
        request: &web_sys::Request,
    ) -> Result<web_sys::Request, wasm_bindgen::JsValue> {
        let init = web_sys::RequestInit::new();
        init.set_method(&request.method());
        init.set_headers(&request.headers().into());
        init.set_body(&js_sys::Uint8Array::new_with_length(0).into());
        web_sys::Request::new_with_str_and_init(&request.url(), &init)
    }
}
