//! One turn of an actor: take the lease, build the instance, run the event, commit its writes
//! and release the lease.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use alchemy::actor::{
    ActorClass, ActorContext, ActorError, ActorId, ByteStream, Capabilities, ContextBackend,
    DynActor, Result, StorageBackend,
};
use futures::future::Either;
use futures::FutureExt;
use http::{Request, Response};

use super::storage::TurnStorage;
use super::table::{Acquire, Commit, Lease, Table};
use super::{DynamoActorsOptions, PROVIDER};

/// How many times a commit that met a concurrent request on the meta item is tried.
const COMMIT_ATTEMPTS: u32 = 8;

/// What a turn needs of its namespace.
pub(crate) struct TurnSetup<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) class: ActorClass,
    pub(crate) table: &'a Table,
    pub(crate) options: &'a DynamoActorsOptions,
    pub(crate) capabilities: Capabilities,
}

/// The context of an instance during a turn.
struct TurnContext {
    id: ActorId,
    namespace: String,
    capabilities: Capabilities,
    storage: Arc<TurnStorage>,
}

#[async_trait::async_trait]
impl ContextBackend for TurnContext {
    fn id(&self) -> &ActorId {
        &self.id
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn storage(&self) -> Arc<dyn StorageBackend> {
        self.storage.clone()
    }
}

/// A random token, in hex.
pub(crate) fn token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|error| {
        ActorError::backend(
            PROVIDER,
            format!("the system random number generator failed: {error}"),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random duration from zero to `max` ("full jitter").
fn jitter(max: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if getrandom::getrandom(&mut bytes).is_err() {
        return max / 2;
    }
    max.mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

impl TurnSetup<'_> {
    fn label(&self, id: &ActorId) -> String {
        format!("{}/{id}", self.namespace)
    }

    /// Takes the lease of `id`, waiting with jittered exponential backoff while another
    /// caller holds it, for at most [`DynamoActorsOptions::busy_timeout`].
    async fn acquire(&self, id: &ActorId) -> Result<Lease> {
        let holder = token()?;
        let started = Instant::now();
        let mut delay = self.options.backoff_initial;
        loop {
            match self
                .table
                .acquire(id.as_str(), &holder, SystemTime::now(), self.options.lease)
                .await
            {
                Ok(lease) => return Ok(lease),
                Err(Acquire::Failed(error)) => return Err(error),
                Err(Acquire::Held) => {}
            }
            if started.elapsed() >= self.options.busy_timeout {
                return Err(ActorError::Unavailable {
                    reason: format!(
                        "actor `{}` stayed busy for {:?}: other callers held its lease (in table `{}`) all that time; try again later, or raise `DynamoActorsOptions::busy_timeout`",
                        self.label(id),
                        self.options.busy_timeout,
                        self.table.name
                    ),
                });
            }
            tokio::time::sleep(jitter(delay)).await;
            delay = (delay * 2).min(self.options.backoff_max);
        }
    }

    fn lease_lost(&self, id: &ActorId) -> ActorError {
        ActorError::backend(
            PROVIDER,
            format!(
                "actor `{}` lost its lease during the turn (its lease of {:?} lapsed without being renewed, or another caller took it over), so another caller may have run the actor since; the turn's writes were discarded. Retry the request",
                self.label(id),
                self.options.lease
            ),
        )
    }

    /// Commits what `storage` buffered and releases the lease, retrying a commit that met a
    /// concurrent request on the meta item.
    async fn commit(&self, id: &ActorId, lease: &Lease, storage: &TurnStorage) -> Result<()> {
        let buffer = storage.finish();
        let gen = if buffer.cleared {
            lease.gen + 1
        } else {
            lease.gen
        };
        let writes = buffer.writes();
        let mut attempt = 0;
        let outcome = loop {
            let outcome = if buffer.is_empty() {
                self.table.release(id.as_str(), lease).await
            } else {
                // At most 36 characters: 32 for the holder, 2 for the attempt.
                let token = format!("{}-{attempt}", lease.holder);
                self.table
                    .commit(id.as_str(), lease, gen, &writes, &token)
                    .await
            };
            match outcome {
                Err(Commit::Conflict) if attempt + 1 < COMMIT_ATTEMPTS => {
                    attempt += 1;
                    let delay = self.options.backoff_initial * attempt;
                    tokio::time::sleep(jitter(delay)).await;
                }
                outcome => break outcome,
            }
        };
        match outcome {
            Ok(()) => {
                if gen != lease.gen {
                    // Best effort: what is left is unreachable, and the next `delete_all`
                    // of this actor removes it.
                    let _ = self
                        .table
                        .delete_generations_before(id.as_str(), gen)
                        .await;
                }
                Ok(())
            }
            Err(Commit::LeaseLost) => Err(self.lease_lost(id)),
            Err(Commit::Conflict) => Err(ActorError::Unavailable {
                reason: format!(
                    "the commit of actor `{}` met concurrent requests {COMMIT_ATTEMPTS} times in a row; its writes were discarded: retry the request",
                    self.label(id)
                ),
            }),
            Err(Commit::Failed(error)) => Err(error),
        }
    }

    /// Runs `work` while renewing the lease every third of its duration, when
    /// [`DynamoActorsOptions::renew`] is set. A renewal that fails (the lease was lost, or
    /// the request failed) ends the renewals; the commit then tells whether the lease held.
    async fn renewing<F: Future>(&self, id: &ActorId, lease: &Lease, work: F) -> F::Output {
        if !self.options.renew {
            return work.await;
        }
        let renewals = async {
            loop {
                tokio::time::sleep(self.options.lease / 3).await;
                let renewed = self
                    .table
                    .renew(id.as_str(), lease, SystemTime::now(), self.options.lease)
                    .await;
                if !renewed {
                    return;
                }
            }
        };
        futures::pin_mut!(work);
        futures::pin_mut!(renewals);
        match futures::future::select(work, renewals).await {
            Either::Left((output, _)) => output,
            Either::Right(((), work)) => work.await,
        }
    }

    /// Runs the request `req` as one turn of actor `id`, reusing the instance `cached` built
    /// by an earlier turn in this process when no other caller has run the actor since.
    pub(crate) async fn fetch(
        &self,
        id: &ActorId,
        cached: &mut Option<Instance>,
        req: Request<ByteStream>,
    ) -> Result<Response<ByteStream>> {
        let lease = self.acquire(id).await?;
        // The fencing token counts acquisitions: one more than the cached instance's means
        // no one else held the lease in between, so the instance's memory is current.
        let reuse = cached
            .take()
            .filter(|instance| instance.fence + 1 == lease.fence);
        let storage = match &reuse {
            Some(instance) => instance.storage.clone(),
            None => Arc::new(TurnStorage::new(
                self.table.clone(),
                self.label(id),
                id.as_str().to_string(),
            )),
        };
        storage.begin(lease.gen);
        let ctx = ActorContext::new(Arc::new(TurnContext {
            id: id.clone(),
            namespace: self.namespace.to_string(),
            capabilities: self.capabilities,
            storage: storage.clone(),
        }));
        let work = AssertUnwindSafe(async {
            let actor = match reuse {
                Some(instance) => instance.actor,
                None => self
                    .class
                    .init(ctx)
                    .await
                    .map_err(|error| ActorError::InitFailed {
                        actor: self.label(id),
                        message: error.to_string(),
                    })?,
            };
            let response = actor
                .fetch(req)
                .await
                .map_err(|error| ActorError::HandlerFailed {
                    actor: self.label(id),
                    message: error.to_string(),
                });
            Ok::<_, ActorError>((actor, response))
        })
        .catch_unwind();
        let outcome = self.renewing(id, &lease, work).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                // Nothing of a turn that panicked is committed, and its instance is dropped.
                storage.finish();
                let _ = self.table.release(id.as_str(), &lease).await;
                return Err(ActorError::HandlerFailed {
                    actor: self.label(id),
                    message: format!("the handler panicked: {}", panic_message(panic)),
                });
            }
        };
        // What the turn wrote before an error is kept, as each write was accepted.
        self.commit(id, &lease, &storage).await?;
        let (actor, response) = outcome?;
        *cached = Some(Instance {
            fence: lease.fence,
            actor,
            storage,
        });
        response
    }
}

/// An instance kept between turns in this process.
pub(crate) struct Instance {
    /// The fencing token of the last turn it ran.
    fence: u64,
    actor: Box<dyn DynActor>,
    storage: Arc<TurnStorage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bound() {
        let max = Duration::from_millis(40);
        for _ in 0..100 {
            assert!(jitter(max) <= max);
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn holder_tokens_are_fresh_hex_within_the_request_token_limit() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_ne!(a, b);
        // They double as TransactWriteItems client request tokens: at most 36 characters.
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
