//! The one error type of the control plane and the runtime.

use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant with the facts a user needs to fix it.
///
/// Messages name the problem and the fix; none of them ever contains a secret's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A logical id that does not follow the rules.
    #[error("invalid id `{id}`: {reason}. Ids start with a letter and use only letters, digits, `-` and `_` (at most 64 characters)")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two resources with the same logical id.
    #[error("duplicate id `{id}`: every resource in a stack needs its own id")]
    DuplicateId {
        /// The id used twice.
        id: String,
    },
    /// A resource kind that no registered provider implements.
    #[error("unknown resource kind `{kind}` for `{id}`: no provider is registered for it (known kinds: {known})")]
    UnknownKind {
        /// The resource.
        id: String,
        /// The kind it asked for.
        kind: String,
        /// The kinds that are registered, comma separated.
        known: String,
    },
    /// A reference to a resource that is not in the stack.
    #[error("`{id}` refers to `{target}`, which is not in the stack: add `{target}` or remove the reference")]
    UnknownReference {
        /// The resource holding the reference.
        id: String,
        /// The missing resource.
        target: String,
    },
    /// A reference to an output field the resource does not have.
    #[error("`{id}` refers to output `{path}` of `{target}`, which has no such output (outputs: {available})")]
    UnknownOutput {
        /// The resource holding the reference.
        id: String,
        /// The referenced resource.
        target: String,
        /// The output path.
        path: String,
        /// The outputs it does have.
        available: String,
    },
    /// Resources that depend on each other in a circle.
    #[error("dependency cycle: {}. Break it by removing one of these references", cycle.join(" -> "))]
    Cycle {
        /// The ids on the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// Properties that do not match what the resource kind expects.
    #[error("invalid properties for `{id}` ({kind}): {reason}")]
    InvalidProps {
        /// The resource.
        id: String,
        /// Its kind.
        kind: String,
        /// What the deserializer or provider said.
        reason: String,
    },
    /// Another process holds the lease on this state.
    #[error("the state of stage `{stage}` is locked by {owner} (lease #{token}, expires in {expires_in_secs}s). Wait for that deploy to finish; if that process is gone, run `state unlock`")]
    Locked {
        /// The stage.
        stage: String,
        /// Who holds the lease (user, host, pid).
        owner: String,
        /// The holder's fencing token.
        token: u64,
        /// Seconds until the lease runs out.
        expires_in_secs: u64,
    },
    /// Our lease was taken over by someone else (our fencing token is stale).
    #[error("the lease on the state of stage `{stage}` was lost (our token #{ours}, current #{current}): another deploy took it over; nothing more was written")]
    LeaseLost {
        /// The stage.
        stage: String,
        /// Our token.
        ours: u64,
        /// The token now in force.
        current: u64,
    },
    /// A state file that cannot be read.
    #[error("the state file {path} is unreadable: {detail}. It was left untouched; the last good state is in {backup}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
        /// Where the last good state is kept.
        backup: PathBuf,
    },
    /// A state file written by a newer version of Alchemy.
    #[error("the state file {path} has format version {found}, newer than the {supported} this version of Alchemy understands: upgrade Alchemy to deploy this stage")]
    StateTooNew {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version understood.
        supported: u32,
    },
    /// Secrets are in play but no key is configured.
    #[error("this stack has secrets but no key to encrypt them: set ALCHEMY_PASSPHRASE (any passphrase) or ALCHEMY_SECRET_KEY (32 bytes, base64)")]
    MissingSecretKey,
    /// The configured key does not open the secrets in state.
    #[error("the secrets in state do not open with the configured key: set ALCHEMY_PASSPHRASE or ALCHEMY_SECRET_KEY to the one used when they were written")]
    WrongSecretKey,
    /// A key given in the environment that is malformed.
    #[error("ALCHEMY_SECRET_KEY is not a base64 encoding of 32 bytes: generate one with `openssl rand -base64 32`")]
    InvalidSecretKey,
    /// A provider call that failed.
    #[error("{provider} failed to {operation} `{id}`: {message}")]
    Provider {
        /// The provider.
        provider: String,
        /// create, read, update, delete or diff.
        operation: String,
        /// The resource.
        id: String,
        /// What went wrong, as the provider says it.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A client used at plan time, when no resource exists yet.
    #[error(
        "`{0}` was used while planning: clients returned by `bind` work only when the service runs"
    )]
    NotAtPlanTime(String),
    /// A bad configuration or command line.
    #[error("{0}")]
    Config(String),
    /// An I/O error, with the path it concerns.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and on which path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serialization of something that should always serialize.
    #[error("serialization failed: {0}")]
    Serde(#[from] serde_json::Error),
    /// A bucket operation that failed.
    #[error(transparent)]
    Bucket(#[from] crate::bucket::BucketError),
    /// An actor operation that failed.
    #[error(transparent)]
    Actor(#[from] crate::actor::ActorError),
}

impl Error {
    /// A provider failure, for provider implementations.
    pub fn provider(message: impl Into<String>) -> Self {
        Error::Provider {
            provider: String::new(),
            operation: String::new(),
            id: String::new(),
            message: message.into(),
        }
    }

    /// An I/O error with the context it happened in.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
