//! What the fault tests share: a plan-and-apply round that reports failures instead of
//! panicking, as a deploy through faults must.
#![allow(dead_code)]

use std::time::Duration;

use alchemy::apply::{Engine, Report};
use alchemy::plan::{plan, Plan, PlanOptions};
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::{LeaseOwner, MemoryBackend, Snapshot, StateBackend};

/// Plans `stack` (or its destruction) against the backend's state and applies the plan:
/// one deploy, as a user runs it.
pub async fn deploy(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    destroy: bool,
) -> Result<(Plan, Report), alchemy::Error> {
    let mut state = backend
        .load()
        .await?
        .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
    let options = PlanOptions {
        destroy,
        ..PlanOptions::default()
    };
    let plan = plan(stack, &state, providers, &options).await?;
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await?;
    let engine = Engine::new(providers, backend, lease.clone(), Duration::from_secs(60));
    let report = engine.apply(stack, &plan, &mut state).await;
    backend.unlock(&lease).await?;
    Ok((plan, report?))
}

/// The fault kinds, as [`FaultStats`](alchemy_aws::faults::FaultStats) labels them.
pub const FAULT_KINDS: [&str; 5] = [
    "throttle",
    "server-error",
    "drop-before",
    "drop-after",
    "latency",
];
