//! What can go wrong talking to the v4 API.

use serde::{Deserialize, Serialize};

/// One entry of an envelope's `errors` or `messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Cloudflare's error code.
    #[serde(default)]
    pub code: i64,
    /// What it says.
    #[serde(default)]
    pub message: String,
}

/// A failed API call. Every variant names the request it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A credential or setting missing from the environment.
    #[error("{name} is not set: it must hold {what}")]
    MissingVariable {
        /// The variable.
        name: &'static str,
        /// What it must hold.
        what: &'static str,
    },
    /// The API answered with an error envelope.
    #[error("{method} {path} failed with HTTP {status}: {}", describe(errors))]
    Api {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The envelope's errors.
        errors: Vec<Message>,
    },
    /// Every attempt was throttled (HTTP 429).
    #[error("{method} {path} was throttled by the Cloudflare API (HTTP 429) {attempts} times in a row: the account's rate limit (1,200 requests per 5 minutes) is exhausted; wait a few minutes and deploy again, or lower the deploy's concurrency")]
    Throttled {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Every attempt met a server error or a lost connection.
    #[error("{method} {path} failed {attempts} times in a row, the last time with {last}: the Cloudflare API is unavailable; deploy again later")]
    Unavailable {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A request that could not be sent, or an answer that is not a v4 envelope.
    #[error("{method} {path}: {detail}")]
    Invalid {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

impl ApiError {
    /// The HTTP status of an error envelope.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the API said the thing does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the envelope carries error `code`.
    pub fn has_code(&self, code: i64) -> bool {
        matches!(self, ApiError::Api { errors, .. } if errors.iter().any(|e| e.code == code))
    }
}

fn describe(errors: &[Message]) -> String {
    if errors.is_empty() {
        return "no error was given".to_owned();
    }
    errors
        .iter()
        .map(|e| format!("{} (code {})", e.message, e.code))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ApiError> for alchemy::Error {
    fn from(e: ApiError) -> Self {
        alchemy::Error::provider(e.to_string())
    }
}
