//! [`is_upgrade_request`]: whether a request asks for a WebSocket.

use http::{header, HeaderMap, HeaderName, Method, Request};

/// Whether `request` asks to be upgraded to a WebSocket: a `GET` with `Connection: upgrade` and
/// `Upgrade: websocket` (tokens compared without regard to case, in comma-separated lists).
///
/// It checks the intent only; `accept` (feature `server`) checks the rest of the handshake
/// (version and key) and says what is wrong.
///
/// ```
/// use alchemy_http::websocket::is_upgrade_request;
/// use http::Request;
///
/// let request = Request::get("/chat")
///     .header("connection", "keep-alive, Upgrade")
///     .header("upgrade", "websocket")
///     .body(())
///     .unwrap();
/// assert!(is_upgrade_request(&request));
/// assert!(!is_upgrade_request(&Request::get("/chat").body(()).unwrap()));
/// ```
pub fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    request.method() == Method::GET
        && has_token(request.headers(), &header::CONNECTION, "upgrade")
        && has_token(request.headers(), &header::UPGRADE, "websocket")
}

/// Whether any value of the header `name` holds `token` in its comma-separated list.
pub(crate) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn needs_get_connection_upgrade_and_upgrade_websocket() {
        let both = [("connection", "Upgrade"), ("upgrade", "WebSocket")];
        assert!(is_upgrade_request(&request(Method::GET, &both)));
        assert!(!is_upgrade_request(&request(Method::POST, &both)));
        assert!(!is_upgrade_request(&request(
            Method::GET,
            &[("upgrade", "websocket")]
        )));
        assert!(!is_upgrade_request(&request(
            Method::GET,
            &[("connection", "upgrade"), ("upgrade", "h2c")]
        )));
    }

    #[test]
    fn tokens_are_found_in_lists_and_repeated_headers() {
        let listed = [
            ("connection", "keep-alive, upgrade"),
            ("upgrade", "foo, websocket"),
        ];
        assert!(is_upgrade_request(&request(Method::GET, &listed)));
        let repeated = [
            ("connection", "keep-alive"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
        ];
        assert!(is_upgrade_request(&request(Method::GET, &repeated)));
        let substring = [("connection", "upgraded"), ("upgrade", "websocket")];
        assert!(!is_upgrade_request(&request(Method::GET, &substring)));
    }
}
