//! What the control-plane tests share: a plan-and-apply round through the real engine (one
//! that reports failures, as a deploy through faults must, and one that panics on them), the
//! fault kinds, and the checks every deploy through faults makes.
#![allow(dead_code)]

use std::future::Future;

use alchemy::apply::Report;
use alchemy::plan::{Plan, PlanOptions};
use alchemy::provider::{Context, Providers};
use alchemy::stack::Stack;
use alchemy::state::MemoryBackend;
use alchemy_aws::faults::{FaultProxy, FaultStats};
use alchemy_aws::testing::Emulator;
use aws_config::SdkConfig;

/// The context of resource `id` of `app` in `stage`, first generation.
pub fn context(app: &str, stage: &str, id: &str) -> Context {
    Context {
        app: app.into(),
        stage: stage.into(),
        id: id.into(),
        generation: 0,
    }
}

/// The physical name of resource `id` of `app` in `stage`, first generation.
pub fn physical(app: &str, stage: &str, id: &str) -> String {
    context(app, stage, id).physical_name()
}

/// The emulator's SDK configuration with every request sent to `endpoint` (a fault proxy in
/// front of the emulator).
pub fn sdk_config_via(emulator: &Emulator, endpoint: String) -> SdkConfig {
    emulator
        .sdk_config()
        .to_builder()
        .endpoint_url(endpoint)
        .build()
}

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

/// Deploys a user would run before giving up on a flaky cloud.
pub const MAX_DEPLOYS: usize = 20;

/// Deploys `stack` through `proxy` again and again, as a user would, until one deploy succeeds
/// with nothing left to change: each must leave state the next one completes. Panics after
/// [`MAX_DEPLOYS`]; returns how many deploys it took and how many of them failed.
pub async fn converge(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    proxy: &FaultProxy,
) -> (usize, usize) {
    let mut runs = 0;
    let mut failed_runs = 0;
    loop {
        runs += 1;
        match deploy(stack, providers, backend, false).await {
            Ok((plan, report)) if report.succeeded() && !plan.has_changes() => break,
            Ok((_, report)) if report.succeeded() => {}
            Ok((_, report)) => {
                failed_runs += 1;
                for failure in report.failures() {
                    eprintln!("deploy {runs}: {}: {:?}", failure.id, failure.outcome);
                }
            }
            Err(e) => {
                failed_runs += 1;
                eprintln!("deploy {runs}: {e}");
            }
        }
        assert!(
            runs < MAX_DEPLOYS,
            "no convergence after {runs} deploys through the faults ({})",
            proxy.stats()
        );
    }
    (runs, failed_runs)
}

/// Destroys `stack` through `proxy` again and again until a destroy succeeds and `gone` (asked
/// of the emulator directly) says nothing is left. Panics after [`MAX_DEPLOYS`]; returns how
/// many runs it took.
pub async fn converge_destroy<Gone, Checked>(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    proxy: &FaultProxy,
    gone: Gone,
) -> usize
where
    Gone: Fn() -> Checked,
    Checked: Future<Output = bool>,
{
    let mut runs = 0;
    loop {
        runs += 1;
        if let Ok((_, report)) = deploy(stack, providers, backend, true).await {
            if report.succeeded() && gone().await {
                return runs;
            }
        }
        assert!(
            runs < MAX_DEPLOYS,
            "no convergent destroy after {runs} runs ({})",
            proxy.stats()
        );
    }
}

/// Asserts that `stats` (of `requests`, as "IAM requests") counts a fault of every kind.
pub fn assert_every_kind(requests: &str, stats: &FaultStats) {
    for kind in FAULT_KINDS {
        assert!(
            stats.of(kind) > 0,
            "no {kind} fault was injected on {requests}: {stats}"
        );
    }
}

/// [`run`], for a deploy every step of which must succeed; its plan.
pub async fn run_ok(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    destroy: bool,
) -> Plan {
    let (plan, report) = run(stack, providers, backend, destroy).await;
    assert!(report.succeeded(), "{report:?}");
    plan
}

/// Asserts that the next plan of `stack` has nothing to change.
pub async fn assert_no_changes(stack: &Stack, providers: &Providers, backend: &MemoryBackend) {
    let (plan, _) = run(stack, providers, backend, false).await;
    assert!(
        !plan.has_changes(),
        "{}",
        alchemy::plan::render_human(&plan)
    );
}
