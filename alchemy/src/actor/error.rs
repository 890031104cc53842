//! [`ActorError`], the one error type of every actor operation.

use alchemy_stream::{BoxError, StreamError};

/// A `Result` whose error is [`ActorError`].
pub type Result<T, E = ActorError> = std::result::Result<T, E>;

/// Why an actor operation failed, the same for every provider.
///
/// Match on the variant, never on the message; messages name the problem and the fix.
/// A handler's own failure travels as [`ActorError::Handler`] inside the actor and reaches a
/// caller on the other side of a stub as [`ActorError::HandlerFailed`] (only its message can
/// cross a process boundary, so that is what every provider keeps).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// A string that is not an actor id at all.
    #[error("`{}` is not an id of actor namespace `{namespace}`: {reason}. Get ids from `id_from_name`, `new_unique_id`, or parse the string an id displayed as", id.escape_debug())]
    MalformedId {
        /// The namespace asked.
        namespace: String,
        /// The string as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A well-formed id that this namespace did not issue (it belongs to another namespace,
    /// another stage, or was altered).
    #[error("`{id}` is not an id of actor namespace `{namespace}`: it was issued by another namespace or altered. Use ids from this namespace's `id_from_name` or `new_unique_id`")]
    UnknownId {
        /// The namespace asked.
        namespace: String,
        /// The id as given.
        id: String,
    },

    /// An actor name that cannot be used.
    #[error("invalid actor name `{}`: {reason}", name.escape_debug())]
    InvalidName {
        /// The name as given (possibly shortened).
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A request for a namespace that the runtime does not host.
    #[error("no actor namespace `{namespace}` is registered with the {provider} runtime (registered: {known}): register it before routing requests to it")]
    UnknownNamespace {
        /// The namespace asked for.
        namespace: String,
        /// The provider.
        provider: &'static str,
        /// The registered namespaces, comma separated.
        known: String,
    },

    /// The provider cannot do this at all. Check [`Capabilities`](super::Capabilities) first.
    #[error("{provider} actors do not support {capability}: check `capabilities()` before calling, or choose a provider that does")]
    NotSupported {
        /// What was asked, such as `"sql"` or `"alarms"`.
        capability: &'static str,
        /// The provider, such as `"local"` or `"cloudflare"`.
        provider: &'static str,
    },

    /// A namespace client used while planning, when no actor exists yet.
    #[error("actor namespace `{namespace}` was used while planning: clients returned by `bind` work only when the service runs")]
    NotAtPlanTime {
        /// The namespace.
        namespace: String,
    },

    /// The actor's `init` failed, so the event that needed the instance was not delivered.
    #[error("actor `{actor}` failed to start: {message}. The event was not delivered; the next one retries `init`")]
    InitFailed {
        /// `namespace/id`.
        actor: String,
        /// What `init` returned.
        message: String,
    },

    /// An error returned by an actor's handler, as the caller of a stub sees it.
    #[error("actor `{actor}` failed to handle the request: {message}")]
    HandlerFailed {
        /// `namespace/id`.
        actor: String,
        /// What the handler returned.
        message: String,
    },

    /// An error of the actor's own, returned from a handler (see [`ActorError::handler`]).
    #[error(transparent)]
    Handler(BoxError),

    /// A storage key that breaks the key rules.
    #[error("invalid storage key `{}`: {reason}", key.escape_debug())]
    InvalidKey {
        /// The key as given (possibly shortened).
        key: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A value, attachment or message larger than the provider allows.
    #[error("the {what} is {size} bytes, more than the limit of {limit}: store less, or split it")]
    TooLarge {
        /// What was too large, such as `"websocket attachment"`.
        what: &'static str,
        /// Its size, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },

    /// A stored value that does not decode as the type asked for.
    #[error("the value stored under `{key}` does not decode as the requested type: {source}. Read it with `get_bytes`, or delete it")]
    Decode {
        /// The key.
        key: String,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
    },

    /// A value that cannot be encoded for storage.
    #[error("the value cannot be encoded as JSON for storage: {0}")]
    Encode(#[source] serde_json::Error),

    /// An SQL statement that failed.
    #[error("SQL failed: {message}")]
    Sql {
        /// What the database said, with the statement it concerns.
        message: String,
    },

    /// A request that is not a WebSocket upgrade, given to `accept_websocket`.
    #[error("the request is not a WebSocket upgrade: {reason}. Accept only requests for which `is_websocket_upgrade` is true")]
    NotWebSocketUpgrade {
        /// What is missing or wrong.
        reason: String,
    },

    /// A WebSocket tag that breaks the tag rules.
    #[error("invalid WebSocket tag `{}`: {reason}", tag.escape_debug())]
    InvalidTag {
        /// The tag (possibly shortened).
        tag: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A close code that an application may not send.
    #[error("WebSocket close code {code} cannot be sent by an application: use 1000 (normal closure) or a code from 3000 to 4999")]
    InvalidCloseCode {
        /// The code as given.
        code: u16,
    },

    /// A send on a WebSocket that is closed or closing.
    #[error(
        "WebSocket {socket} is closed: stop sending to it (`on_close` tells when a socket closes)"
    )]
    WebSocketClosed {
        /// The socket's id.
        socket: String,
    },

    /// The peer reads more slowly than the actor sends: the socket's send buffer overflowed
    /// and the socket was closed.
    #[error("WebSocket {socket} was closed because its send buffer passed {limit} bytes: the client does not keep up; send less or raise the limit")]
    SendBufferFull {
        /// The socket's id.
        socket: String,
        /// The limit, in bytes.
        limit: usize,
    },

    /// The runtime that hosts the actor is gone or shutting down.
    #[error("the actor runtime is unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },

    /// The provider failed in a way that has no variant of its own.
    #[error("{provider} failed: {message}")]
    Backend {
        /// The provider.
        provider: &'static str,
        /// What the provider said, with the file or request it concerns.
        message: String,
    },

    /// A request or response body failed.
    #[error("the body stream failed: {0}")]
    Stream(#[from] StreamError),

    /// A request or response that could not be built.
    #[error("invalid HTTP message: {0}")]
    Http(#[from] http::Error),
}

impl ActorError {
    /// Wraps an error of the actor's own, to return it from a handler.
    ///
    /// ```
    /// use alchemy::actor::ActorError;
    ///
    /// let error = ActorError::handler("the room is full");
    /// assert_eq!(error.to_string(), "the room is full");
    /// ```
    pub fn handler(error: impl Into<BoxError>) -> Self {
        ActorError::Handler(error.into())
    }

    /// A [`ActorError::Backend`] failure.
    pub fn backend(provider: &'static str, message: impl Into<String>) -> Self {
        ActorError::Backend {
            provider,
            message: message.into(),
        }
    }
}

impl From<crate::Error> for ActorError {
    fn from(error: crate::Error) -> Self {
        ActorError::Handler(Box::new(error))
    }
}

/// Shortens user input quoted in an error message.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem_and_the_fix() {
        let cases: Vec<(ActorError, &[&str])> = vec![
            (
                ActorError::MalformedId {
                    namespace: "rooms".into(),
                    id: "xyz".into(),
                    reason: "it is 3 characters long, not 64".into(),
                },
                &["`xyz`", "`rooms`", "not 64", "id_from_name"],
            ),
            (
                ActorError::UnknownId {
                    namespace: "rooms".into(),
                    id: "ab".into(),
                },
                &["another namespace", "new_unique_id"],
            ),
            (
                ActorError::NotSupported {
                    capability: "sql",
                    provider: "lambda",
                },
                &["lambda actors do not support sql", "capabilities()"],
            ),
            (
                ActorError::TooLarge {
                    what: "websocket attachment",
                    size: 3000,
                    limit: 2048,
                },
                &["3000 bytes", "2048"],
            ),
        ];
        for (error, needles) in cases {
            let message = error.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn long_input_is_shortened_on_a_char_boundary() {
        let long = "é".repeat(100);
        let short = shorten(&long);
        assert!(short.ends_with('…'));
        assert!(short.len() <= 84);
        assert_eq!(shorten("abc"), "abc");
    }
}
