//! Lease types shared by every state backend.

use serde::{Deserialize, Serialize};

/// Who holds a lease: enough for a person to find the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseOwner {
    /// The user name (`$USER`).
    pub user: String,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
}

impl LeaseOwner {
    /// This process.
    pub fn current() -> Self {
        LeaseOwner {
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
        }
    }
}

impl std::fmt::Display for LeaseOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} (pid {})", self.user, self.host, self.pid)
    }
}

/// The name of this host, as leases record it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

/// A held lease on a stage's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it.
    pub owner: LeaseOwner,
    /// The fencing token: grows with every acquisition; writes with an older token are refused.
    pub token: u64,
    /// When it was taken, milliseconds since the Unix epoch.
    pub acquired_at_ms: u64,
    /// When it runs out unless renewed, milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}
