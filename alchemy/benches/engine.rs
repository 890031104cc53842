//! Engine benchmark: plan and apply of large stacks of a trivial kind with local file state.
//!
//! `cargo bench -p alchemy --bench engine` prints a Markdown table: wall time, peak heap and
//! state size for create, no-op, 10% update and destroy of 1,000 and 10,000 resources; then
//! 1,000 independent 20 ms steps against the ideal (steps / concurrency × 20 ms), and the
//! bytes of state written per step at two stack sizes; then plan time of 10,000 resources on
//! one provider and spread over three (local, aws, cloudflare kinds, references crossing
//! providers), measured in the same run.

use alchemy_stream::conformance::CountingAllocator;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alchemy::apply::Engine;
use alchemy::plan::{plan, PlanOptions};
use alchemy::provider::{Context, Provider, Providers};
use alchemy::stack::Stack;
use alchemy::state::{FileBackend, JournalEntry, Lease, LeaseOwner, Snapshot, StateBackend};
use alchemy::{Input, Resource, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

fn reset_peak() {
    HEAP.reset_peak();
}

fn peak_mib() -> f64 {
    HEAP.peak() as f64 / (1024.0 * 1024.0)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Trivial {
    n: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Input<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrivialOut {
    id: String,
}

impl Resource for Trivial {
    const KIND: &'static str = "bench.trivial";
    type Output = TrivialOut;
}

/// The same trivial resource as three kinds, one per provider, for a mixed stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kinded<const K: usize> {
    n: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Input<String>>,
}

impl Resource for Kinded<0> {
    const KIND: &'static str = "local.thing";
    type Output = TrivialOut;
}

impl Resource for Kinded<1> {
    const KIND: &'static str = "aws.thing";
    type Output = TrivialOut;
}

impl Resource for Kinded<2> {
    const KIND: &'static str = "cloudflare.thing";
    type Output = TrivialOut;
}

#[async_trait]
impl<const K: usize> Provider<Kinded<K>> for Sleeper
where
    Kinded<K>: Resource<Output = TrivialOut>,
{
    async fn read(
        &self,
        ctx: &Context,
        _: &Kinded<K>,
        _: Option<TrivialOut>,
    ) -> Result<Option<TrivialOut>> {
        Ok(Some(TrivialOut { id: ctx.id.clone() }))
    }
    async fn create(&self, ctx: &Context, _: &Kinded<K>) -> Result<TrivialOut> {
        Ok(TrivialOut { id: ctx.id.clone() })
    }
    async fn update(
        &self,
        ctx: &Context,
        _: &Kinded<K>,
        _: &Kinded<K>,
        _: &TrivialOut,
    ) -> Result<TrivialOut> {
        Ok(TrivialOut { id: ctx.id.clone() })
    }
    async fn delete(&self, _: &Context, _: &Kinded<K>, _: &TrivialOut) -> Result<()> {
        Ok(())
    }
}

/// `n` resources spread over three providers in turn, one in ten referring to the one
/// before (on another provider).
fn mixed_stack(n: usize) -> Stack {
    let mut s = Stack::new("bench", "b");
    for i in 0..n {
        let after = (i % 10 == 9).then(|| Input::Ref {
            id: format!("r{}", i - 1),
            path: "id".into(),
        });
        let id = format!("r{i}");
        let n = i as u64;
        match i % 3 {
            0 => s.add(&id, Kinded::<0> { n, after }).map(drop),
            1 => s.add(&id, Kinded::<1> { n, after }).map(drop),
            _ => s.add(&id, Kinded::<2> { n, after }).map(drop),
        }
        .unwrap();
    }
    s
}

/// Plans `stack` against `state` `rounds` times and keeps the fastest.
async fn best_plan(
    stack: &Stack,
    state: &Snapshot,
    providers: &Providers,
    rounds: usize,
) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let plan = plan(stack, state, providers, &PlanOptions::default())
            .await
            .unwrap();
        best = best.min(start.elapsed());
        std::hint::black_box(plan);
    }
    best
}

/// Does nothing, or sleeps for a while.
struct Sleeper(Duration);

impl Sleeper {
    async fn nap(&self) {
        if !self.0.is_zero() {
            tokio::time::sleep(self.0).await;
        }
    }
}

#[async_trait]
impl Provider<Trivial> for Sleeper {
    async fn read(
        &self,
        ctx: &Context,
        _: &Trivial,
        _: Option<TrivialOut>,
    ) -> Result<Option<TrivialOut>> {
        Ok(Some(TrivialOut { id: ctx.id.clone() }))
    }
    async fn create(&self, ctx: &Context, _: &Trivial) -> Result<TrivialOut> {
        self.nap().await;
        Ok(TrivialOut { id: ctx.id.clone() })
    }
    async fn update(
        &self,
        ctx: &Context,
        _: &Trivial,
        _: &Trivial,
        _: &TrivialOut,
    ) -> Result<TrivialOut> {
        self.nap().await;
        Ok(TrivialOut { id: ctx.id.clone() })
    }
    async fn delete(&self, _: &Context, _: &Trivial, _: &TrivialOut) -> Result<()> {
        self.nap().await;
        Ok(())
    }
}

/// Counts the bytes of every checkpoint, as the journal writes them.
struct Metered<B> {
    inner: B,
    appends: AtomicUsize,
    bytes: AtomicUsize,
}

#[async_trait]
impl<B: StateBackend> StateBackend for Metered<B> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn lock(&self, o: &LeaseOwner, ttl: Duration) -> Result<Lease> {
        self.inner.lock(o, ttl).await
    }
    async fn renew(&self, l: &Lease, ttl: Duration) -> Result<Lease> {
        self.inner.renew(l, ttl).await
    }
    async fn unlock(&self, l: &Lease) -> Result<()> {
        self.inner.unlock(l).await
    }
    async fn force_unlock(&self) -> Result<()> {
        self.inner.force_unlock().await
    }
    async fn load(&self) -> Result<Option<Snapshot>> {
        self.inner.load().await
    }
    async fn append(&self, l: &Lease, e: &JournalEntry) -> Result<()> {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(serde_json::to_vec(e)?.len() + 1, Ordering::Relaxed);
        self.inner.append(l, e).await
    }
    async fn commit(&self, l: &Lease, s: &Snapshot) -> Result<()> {
        self.inner.commit(l, s).await
    }
}

fn stack(n: usize, bump: impl Fn(usize) -> u64) -> Stack {
    let mut s = Stack::new("bench", "b");
    for i in 0..n {
        // One in ten refers to the one before, so the graph is not flat.
        let after = (i % 10 == 9).then(|| Input::Ref {
            id: format!("r{}", i - 1),
            path: "id".into(),
        });
        s.add(&format!("r{i}"), Trivial { n: bump(i), after })
            .unwrap();
    }
    s
}

struct Phase {
    wall: Duration,
    apply: Duration,
    peak_mib: f64,
    steps: usize,
}

/// Load, plan and (when there are changes) apply, the way `deploy` does.
async fn deploy(
    stack: &Stack,
    providers: &Providers,
    backend: &dyn StateBackend,
    destroy: bool,
    concurrency: usize,
) -> Phase {
    reset_peak();
    let start = Instant::now();
    let ttl = Duration::from_secs(60);
    let lease = backend.lock(&LeaseOwner::current(), ttl).await.unwrap();
    let mut state = backend
        .load()
        .await
        .unwrap()
        .unwrap_or_else(|| Snapshot::new("bench", "b"));
    let options = PlanOptions {
        destroy,
        ..Default::default()
    };
    let plan = plan(stack, &state, providers, &options).await.unwrap();
    let mut steps = 0;
    let applying = Instant::now();
    if plan.has_changes() {
        let engine = Engine::new(providers, backend, lease.clone(), ttl).concurrency(concurrency);
        let report = engine.apply(stack, &plan, &mut state).await.unwrap();
        assert!(report.succeeded());
        steps = report.steps.len();
    }
    let apply = applying.elapsed();
    backend.unlock(&lease).await.unwrap();
    Phase {
        wall: start.elapsed(),
        apply,
        peak_mib: peak_mib(),
        steps,
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    println!("| resources | phase | wall | steps | peak heap | state on disk |");
    println!("|---:|---|---:|---:|---:|---:|");
    for n in [1_000usize, 10_000] {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::new(tmp.path().join("b"), "bench", "b");
        let mut providers = Providers::new();
        providers.register::<Trivial>("bench", Sleeper(Duration::ZERO));
        let base = stack(n, |i| i as u64);
        let updated = stack(n, |i| if i % 10 == 0 { i as u64 + 1 } else { i as u64 });
        let state_dir = tmp.path().join("b");
        let row = |name: &str, p: Phase, size: bool| {
            let on_disk = if size {
                format!("{:.2} MiB", dir_size(&state_dir) as f64 / (1024.0 * 1024.0))
            } else {
                String::new()
            };
            println!(
                "| {n} | {name} | {:.3} s | {} | {:.1} MiB | {on_disk} |",
                p.wall.as_secs_f64(),
                p.steps,
                p.peak_mib
            );
        };
        row(
            "create",
            deploy(&base, &providers, &backend, false, 64).await,
            true,
        );
        row(
            "no-op",
            deploy(&base, &providers, &backend, false, 64).await,
            false,
        );
        row(
            "10% update",
            deploy(&updated, &providers, &backend, false, 64).await,
            true,
        );
        row(
            "destroy",
            deploy(&updated, &providers, &backend, true, 64).await,
            true,
        );
    }

    println!();
    println!("| 10,000 resources | plan (fresh) | plan (deployed, no-op) | deploy (create) |");
    println!("|---|---:|---:|---:|");
    {
        let n = 10_000;
        let mut single = Providers::new();
        single.register::<Trivial>("bench", Sleeper(Duration::ZERO));
        let mut mixed = Providers::new();
        mixed
            .register::<Kinded<0>>("local", Sleeper(Duration::ZERO))
            .register::<Kinded<1>>("aws", Sleeper(Duration::ZERO))
            .register::<Kinded<2>>("cloudflare", Sleeper(Duration::ZERO));
        let mut figures = Vec::new();
        for (name, stack, providers) in [
            ("one provider", stack(n, |i| i as u64), &single),
            ("three providers", mixed_stack(n), &mixed),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let backend = FileBackend::new(tmp.path().join("b"), "bench", "b");
            let empty = Snapshot::new("bench", "b");
            let fresh = best_plan(&stack, &empty, providers, 5).await;
            let created = deploy(&stack, providers, &backend, false, 64).await;
            let state = backend.load().await.unwrap().unwrap();
            let noop = best_plan(&stack, &state, providers, 5).await;
            println!(
                "| {name} | {:.3} s | {:.3} s | {:.3} s |",
                fresh.as_secs_f64(),
                noop.as_secs_f64(),
                created.wall.as_secs_f64()
            );
            figures.push((fresh, noop, created.wall));
        }
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "| three / one | {:.2}x | {:.2}x | {:.2}x |",
            ratio(figures[1].0, figures[0].0),
            ratio(figures[1].1, figures[0].1),
            ratio(figures[1].2, figures[0].2)
        );
    }

    println!();
    println!("| steps | concurrency | ideal | apply | ratio | whole deploy (lock, load, plan, apply, commit) | state bytes per step (1,000-resource stack) | per step (11,000-resource stack) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for concurrency in [10usize, 50, 100] {
        let mut per_step = Vec::new();
        let mut wall = Duration::ZERO;
        let mut apply = Duration::ZERO;
        for existing in [0usize, 10_000] {
            let tmp = tempfile::tempdir().unwrap();
            let backend = Metered {
                inner: FileBackend::new(tmp.path().join("b"), "bench", "b"),
                appends: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
            };
            let mut fast = Providers::new();
            fast.register::<Trivial>("bench", Sleeper(Duration::ZERO));
            // A stack that already has `existing` resources, then 1,000 more that sleep.
            let mut s = Stack::new("bench", "b");
            for i in 0..existing {
                s.add(
                    &format!("old{i}"),
                    Trivial {
                        n: i as u64,
                        after: None,
                    },
                )
                .unwrap();
            }
            if existing > 0 {
                deploy(&s, &fast, &backend, false, 64).await;
            }
            for i in 0..1_000 {
                s.add(
                    &format!("new{i}"),
                    Trivial {
                        n: i as u64,
                        after: None,
                    },
                )
                .unwrap();
            }
            let mut slow = Providers::new();
            slow.register::<Trivial>("bench", Sleeper(Duration::from_millis(20)));
            backend.appends.store(0, Ordering::Relaxed);
            backend.bytes.store(0, Ordering::Relaxed);
            let p = deploy(&s, &slow, &backend, false, concurrency).await;
            assert_eq!(p.steps, 1_000);
            if existing == 0 {
                wall = p.wall;
                apply = p.apply;
            }
            per_step.push(backend.bytes.load(Ordering::Relaxed) as f64 / p.steps as f64);
        }
        let ideal = Duration::from_millis(20) * (1_000 / concurrency as u32);
        println!(
            "| 1000 | {concurrency} | {:.3} s | {:.3} s | {:.2}x | {:.3} s | {:.0} B | {:.0} B |",
            ideal.as_secs_f64(),
            apply.as_secs_f64(),
            apply.as_secs_f64() / ideal.as_secs_f64(),
            wall.as_secs_f64(),
            per_step[0],
            per_step[1]
        );
    }
}
