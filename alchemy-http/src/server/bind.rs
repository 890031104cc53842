//! [`Bind`]: where a server listens.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use tokio::net::TcpListener;

use super::ServeError;

/// Where a server listens: an address to bind, or a listener bound already.
///
/// Made with `.into()` from a [`SocketAddr`] (or its parts), an address string such as
/// `"127.0.0.1:0"` or `"localhost:8080"` (host names are resolved, and the first address
/// that binds is taken), or a `std` or tokio [`TcpListener`](std::net::TcpListener). Port 0
/// lets the system pick a free port; [`Server::local_addr`](crate::Server::local_addr) tells
/// which.
pub struct Bind {
    target: Target,
}

enum Target {
    Addr(String),
    SocketAddr(SocketAddr),
    Std(std::net::TcpListener),
    Tokio(TcpListener),
}

impl Bind {
    /// The listener, bound now if it was an address.
    pub(crate) async fn listen(self) -> Result<TcpListener, ServeError> {
        match self.target {
            Target::Addr(addr) => TcpListener::bind(addr.as_str())
                .await
                .map_err(|source| ServeError::Bind { addr, source }),
            Target::SocketAddr(addr) => {
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::Bind {
                        addr: addr.to_string(),
                        source,
                    })
            }
            Target::Std(listener) => listener
                .set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(listener))
                .map_err(|source| ServeError::Listener { source }),
            Target::Tokio(listener) => Ok(listener),
        }
    }
}

impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Addr(addr) => f.debug_tuple("Bind").field(addr).finish(),
            Target::SocketAddr(addr) => f.debug_tuple("Bind").field(addr).finish(),
            Target::Std(listener) => f.debug_tuple("Bind").field(listener).finish(),
            Target::Tokio(listener) => f.debug_tuple("Bind").field(listener).finish(),
        }
    }
}

impl From<SocketAddr> for Bind {
    fn from(addr: SocketAddr) -> Self {
        Self {
            target: Target::SocketAddr(addr),
        }
    }
}

impl From<SocketAddrV4> for Bind {
    fn from(addr: SocketAddrV4) -> Self {
        SocketAddr::from(addr).into()
    }
}

impl From<SocketAddrV6> for Bind {
    fn from(addr: SocketAddrV6) -> Self {
        SocketAddr::from(addr).into()
    }
}

impl From<(IpAddr, u16)> for Bind {
    fn from(addr: (IpAddr, u16)) -> Self {
        SocketAddr::from(addr).into()
    }
}

impl From<(Ipv4Addr, u16)> for Bind {
    fn from(addr: (Ipv4Addr, u16)) -> Self {
        SocketAddr::from(addr).into()
    }
}

impl From<(Ipv6Addr, u16)> for Bind {
    fn from(addr: (Ipv6Addr, u16)) -> Self {
        SocketAddr::from(addr).into()
    }
}

impl From<&str> for Bind {
    fn from(addr: &str) -> Self {
        addr.to_owned().into()
    }
}

impl From<String> for Bind {
    fn from(addr: String) -> Self {
        Self {
            target: Target::Addr(addr),
        }
    }
}

impl From<std::net::TcpListener> for Bind {
    fn from(listener: std::net::TcpListener) -> Self {
        Self {
            target: Target::Std(listener),
        }
    }
}

impl From<TcpListener> for Bind {
    fn from(listener: TcpListener) -> Self {
        Self {
            target: Target::Tokio(listener),
        }
    }
}

/// Whether an accept error concerns only the connection being accepted, so accepting goes on
/// at once.
pub(crate) fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
