//! [`ServeError`]: why a server could not start.

use std::io;

/// Why [`serve`](crate::serve) could not start a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be listened on.
    #[error("could not listen on {addr}: {source}; {}", bind_hint(source))]
    Bind {
        /// The address as it was given.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The listener that was passed in is unusable (it could not be made non-blocking, or has
    /// no local address).
    #[error("the listener cannot be served: {source}; pass a bound TCP listener")]
    Listener {
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// `serve` was called outside a tokio runtime.
    #[error(
        "the server needs a tokio runtime with I/O and timers enabled; call `serve` from \
         inside `#[tokio::main]`, `Runtime::block_on` or a task spawned on one"
    )]
    NoRuntime,
}

fn bind_hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            "another process listens on that port: stop it, or choose another port (port 0 picks a free one)"
        }
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: use a port above 1023, or port 0 to pick a free one"
        }
        io::ErrorKind::AddrNotAvailable => {
            "the address is not one of this machine's: use 127.0.0.1 for local use, 0.0.0.0 for all interfaces"
        }
        _ => "check that the address is an IP address or host name with a port, such as 127.0.0.1:8080",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_name_the_address_and_the_fix() {
        let error = ServeError::Bind {
            addr: "127.0.0.1:80".into(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let text = error.to_string();
        assert!(text.contains("127.0.0.1:80"), "{text}");
        assert!(text.contains("port 0 picks a free one"), "{text}");
    }
}
