//! What the control-plane tests share: a plan-and-apply round through the real engine (one
//! that reports failures, as a deploy through faults must, and one that panics on them), and
//! the fault kinds.
#![allow(dead_code)]

use alchemy::apply::Report;
use alchemy::plan::{Plan, PlanOptions};
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::MemoryBackend;

/// Plans `stack` (or its destruction) against the backend's state and applies the plan:
/// one deploy, as a user runs it.
pub async fn deploy(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    destroy: bool,
) -> Result<(Plan, Report), alchemy::Error> {
    let options = PlanOptions {
        destroy,
        ..PlanOptions::default()
    };
    alchemy::apply::deploy(stack, providers, backend, &options).await
}

/// [`deploy`], for a deploy that must not fail as a whole (its steps may).
pub async fn run(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    destroy: bool,
) -> (Plan, Report) {
    deploy(stack, providers, backend, destroy)
        .await
        .expect("plan and apply")
}

/// The fault kinds, as [`FaultStats`](alchemy_aws::faults::FaultStats) labels them.
pub const FAULT_KINDS: [&str; 5] = [
    "throttle",
    "server-error",
    "drop-before",
    "drop-after",
    "latency",
];
