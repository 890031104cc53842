//! The apply engine: dependency order, bounded concurrency, a checkpoint before and after every step.
//!
//! Every step writes the record of its resource to the journal before it calls the provider
//! (`creating`, `updating`, `deleting`) and again after. A process killed anywhere leaves a
//! record that says what may have happened, and the next plan resumes from it: an uncertain
//! create is looked up before anything is made, so nothing is created twice or orphaned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::plan::{context, plan, resolve, Action, Change, Plan, PlanOptions, Step};
use crate::provider::{Context, Diff, ErasedProvider, Providers};
use crate::secret::Cipher;
use crate::stack::Stack;
use crate::state::{
    JournalEntry, Lease, LeaseOwner, ResourceState, Retired, SecretsHeader, Snapshot, StateBackend,
    Status,
};

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    /// It did what the plan said (or found nothing left to do: then `action` is `noop`).
    Done {
        /// What was actually done.
        action: Action,
    },
    /// The provider or the engine failed; the message says why.
    Failed {
        /// The error.
        error: String,
    },
    /// Not attempted, because something it depends on failed.
    Skipped {
        /// The failed dependency.
        because: String,
    },
}

/// One step of an apply and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The resource.
    pub id: String,
    /// What the plan said.
    pub action: Action,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// What an apply did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Every step that was planned to do something, in the order they ended.
    pub steps: Vec<StepReport>,
    /// How long the whole apply took, in milliseconds (against the steps' `millis`, how much
    /// the engine adds to its longest dependency path).
    pub millis: u64,
}

impl Report {
    /// The steps that failed or were skipped.
    pub fn failures(&self) -> impl Iterator<Item = &StepReport> {
        self.steps
            .iter()
            .filter(|s| !matches!(s.outcome, Outcome::Done { .. }))
    }

    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// Told about each step as it starts and ends (the CLI prints progress with it).
pub trait Progress: Send + Sync {
    /// A step starts.
    fn started(&self, change: &Change);
    /// A step ended.
    fn finished(&self, change: &Change, report: &StepReport);
}

/// A [`Progress`] that says nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn started(&self, _: &Change) {}
    fn finished(&self, _: &Change, _: &StepReport) {}
}

/// The key that seals secrets, with the header recorded in state.
pub struct Keyring {
    /// The cipher.
    pub cipher: Cipher,
    /// How it was derived (recorded in state so the next run derives the same key).
    pub header: SecretsHeader,
}

/// Applies plans to one stage's state.
pub struct Engine<'a> {
    providers: &'a Providers,
    backend: &'a dyn StateBackend,
    lease: Mutex<Arc<Lease>>,
    lease_ttl: Duration,
    keyring: Option<&'a Keyring>,
    concurrency: usize,
    progress: &'a dyn Progress,
    interrupt: Option<Arc<AtomicBool>>,
}

impl<'a> Engine<'a> {
    /// An engine writing to `backend` under `lease` (renewed at a third of `lease_ttl`), with
    /// no secrets key, 8 steps at once, and no progress output.
    pub fn new(
        providers: &'a Providers,
        backend: &'a dyn StateBackend,
        lease: Lease,
        lease_ttl: Duration,
    ) -> Self {
        Engine {
            providers,
            backend,
            lease: Mutex::new(Arc::new(lease)),
            lease_ttl,
            keyring: None,
            concurrency: 8,
            progress: &Quiet,
            interrupt: None,
        }
    }

    /// Stops starting steps once `flag` is set: the steps in flight finish and are recorded,
    /// the rest are reported as skipped, and the state is committed (Ctrl-C during a deploy).
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Seals secrets with `keyring`.
    pub fn keyring(mut self, keyring: Option<&'a Keyring>) -> Self {
        self.keyring = keyring;
        self
    }

    /// At most `n` provider calls at once (at least one).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Tells `progress` about every step.
    pub fn progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The lease as last renewed.
    pub fn lease(&self) -> Arc<Lease> {
        self.lease.lock().expect("lease lock").clone()
    }
}

/// How long the lease of a [`deploy`] lasts between renewals.
const DEPLOY_LEASE_TTL: Duration = Duration::from_secs(60);

/// One deploy of `stack` to `backend`'s stage, as the CLI runs one without asking: loads the
/// state (or starts it), plans (a destroy with `options.destroy`), takes the stage's lease,
/// applies with the engine's defaults and releases the lease, also when the apply fails.
///
/// For programs and tests that drive the engine themselves; a stack with secrets needs an
/// [`Engine`] with a [`Keyring`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::apply::deploy;
/// use alchemy::local::{LocalBucketProps, LocalPlatform};
/// use alchemy::plan::{Action, PlanOptions};
/// use alchemy::platform::Platform;
/// use alchemy::stack::Stack;
/// use alchemy::state::MemoryBackend;
///
/// # let dir = tempfile::tempdir()?;
/// let providers = LocalPlatform::new(dir.path()).providers();
/// let mut stack = Stack::new("app", "dev");
/// stack.add("photos", LocalBucketProps::default())?;
/// let backend = MemoryBackend::new();
///
/// let (plan, report) = deploy(&stack, &providers, &backend, &PlanOptions::default()).await?;
/// assert_eq!(plan.changes[0].action, Action::Create);
/// assert!(report.succeeded());
///
/// let (again, _) = deploy(&stack, &providers, &backend, &PlanOptions::default()).await?;
/// assert!(!again.has_changes());
/// # Ok(())
/// # }
/// ```
pub async fn deploy(
    stack: &Stack,
    providers: &Providers,
    backend: &dyn StateBackend,
    options: &PlanOptions,
) -> Result<(Plan, Report)> {
    let mut state = backend
        .load()
        .await?
        .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
    let plan = plan(stack, &state, providers, options).await?;
    let lease = backend
        .lock(&LeaseOwner::current(), DEPLOY_LEASE_TTL)
        .await?;
    let engine = Engine::new(providers, backend, lease, DEPLOY_LEASE_TTL);
    let report = engine.apply(stack, &plan, &mut state).await;
    backend.unlock(&engine.lease()).await?;
    Ok((plan, report?))
}

enum Node<'p> {
    Change(&'p Change),
    /// Deletes the generations a create-first replace of the resource left behind.
    Cleanup {
        id: &'p str,
    },
}

struct Finished {
    node: usize,
    /// A checkpoint could not be written: the apply cannot go on.
    state_failed: bool,
    /// The resource's record as last checkpointed (`None`: removed from state).
    record: Option<ResourceState>,
    result: Result<Action>,
    millis: u64,
}

impl Engine<'_> {
    /// Applies `plan` (made from `stack` against `state`), updating `state` and the backend.
    ///
    /// A failed step does not stop the steps that do not depend on it; the report lists what
    /// failed and why. The returned error is for failures of the state itself.
    pub async fn apply(&self, stack: &Stack, plan: &Plan, state: &mut Snapshot) -> Result<Report> {
        if let Some(k) = self.keyring {
            if state.secrets.as_ref() != Some(&k.header) {
                let entry = JournalEntry::Secrets {
                    header: k.header.clone(),
                };
                self.backend.append(&self.lease(), &entry).await?;
                state.apply(&entry);
            }
        }
        let nodes = nodes(plan, state);
        let (mut missing, dependents) = edges(stack, state, &nodes);
        let cap = self.concurrency.max(1);
        let mut ready: Vec<usize> = (0..nodes.len())
            .rev()
            .filter(|&i| missing[i] == 0)
            .collect();
        let mut failed_dep: HashMap<usize, String> = HashMap::new();
        let mut done = vec![false; nodes.len()];
        let started = Instant::now();
        let mut report = Report::default();
        let mut running = FuturesUnordered::new();
        let mut renewed = Instant::now();
        let mut completed = 0;

        while completed < nodes.len() {
            let interrupted = self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst));
            if interrupted && running.is_empty() {
                // Every step in flight has ended; what never started is reported as skipped.
                for (i, node) in nodes.iter().enumerate() {
                    if done[i] {
                        continue;
                    }
                    let change = node_change(plan, node);
                    let step = StepReport {
                        id: node_id(node).to_string(),
                        action: change.map_or(Action::Delete, |c| c.action),
                        outcome: Outcome::Skipped {
                            because: "interrupted".into(),
                        },
                        millis: 0,
                    };
                    if !matches!(node, Node::Cleanup { .. }) {
                        if let Some(c) = change {
                            self.progress.finished(c, &step);
                        }
                        report.steps.push(step);
                    }
                    done[i] = true;
                }
                break;
            }
            while running.len() < cap && !interrupted {
                let Some(i) = ready.pop() else { break };
                if let Some(because) = failed_dep.remove(&i) {
                    // Skipped: its dependents are skipped too.
                    let change = node_change(plan, &nodes[i]);
                    let step = StepReport {
                        id: node_id(&nodes[i]).to_string(),
                        action: change.map_or(Action::Delete, |c| c.action),
                        outcome: Outcome::Skipped {
                            because: because.clone(),
                        },
                        millis: 0,
                    };
                    if let Some(c) = change {
                        self.progress.finished(c, &step);
                    }
                    report.steps.push(step);
                    completed += 1;
                    done[i] = true;
                    for &k in &dependents[i] {
                        failed_dep.entry(k).or_insert_with(|| because.clone());
                        missing[k] -= 1;
                        if missing[k] == 0 {
                            ready.push(k);
                        }
                    }
                    continue;
                }
                if let Some(c) = node_change(plan, &nodes[i]) {
                    self.progress.started(c);
                }
                running.push(self.run(stack, i, &nodes[i], state));
            }
            if running.is_empty() {
                if completed == nodes.len() {
                    // The last steps were skipped because of a failure: nothing is left.
                    break;
                }
                if ready.is_empty() && !interrupted {
                    return Err(Error::Config(
                        "apply found steps waiting on each other; no step could start".into(),
                    ));
                }
                continue;
            }
            let renew_every = self.lease_ttl / 3;
            let finished = tokio::select! {
                f = running.next() => f.expect("running is not empty"),
                _ = tokio::time::sleep(renew_every.saturating_sub(renewed.elapsed())) => {
                    let renewed_lease = self.backend.renew(&self.lease(), self.lease_ttl).await?;
                    *self.lease.lock().expect("lease lock") = Arc::new(renewed_lease);
                    renewed = Instant::now();
                    continue;
                }
            };
            let i = finished.node;
            match &finished.record {
                Some(rec) => {
                    state
                        .resources
                        .insert(node_id(&nodes[i]).to_string(), rec.clone());
                }
                None => {
                    state.resources.remove(node_id(&nodes[i]));
                }
            }
            let step = StepReport {
                id: node_id(&nodes[i]).to_string(),
                action: node_change(plan, &nodes[i]).map_or(Action::Delete, |c| c.action),
                outcome: match &finished.result {
                    Ok(action) => Outcome::Done { action: *action },
                    Err(e) => Outcome::Failed {
                        error: e.to_string(),
                    },
                },
                millis: finished.millis,
            };
            if finished.state_failed {
                // The state can no longer be written: stop here; what was recorded stands.
                return Err(finished
                    .result
                    .err()
                    .unwrap_or_else(|| Error::Config("the state could not be written".into())));
            }
            if let Some(c) = node_change(plan, &nodes[i]) {
                self.progress.finished(c, &step);
            }
            let failed = finished.result.is_err();
            let idle_cleanup = matches!(nodes[i], Node::Cleanup { .. })
                && matches!(finished.result, Ok(Action::Noop));
            if !idle_cleanup {
                report.steps.push(step);
            }
            completed += 1;
            done[i] = true;
            for &k in &dependents[i] {
                if failed {
                    failed_dep
                        .entry(k)
                        .or_insert_with(|| node_id(&nodes[i]).to_string());
                }
                missing[k] -= 1;
                if missing[k] == 0 {
                    ready.push(k);
                }
            }
        }
        debug_assert!(done.iter().all(|d| *d));
        state.serial += 1;
        let sealed = self.seal_snapshot(state)?;
        self.backend.commit(&self.lease(), &sealed).await?;
        report.millis = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    fn run<'s>(
        &'s self,
        stack: &'s Stack,
        index: usize,
        node: &Node<'s>,
        state: &Snapshot,
    ) -> impl std::future::Future<Output = Finished> + 's {
        let id = node_id(node).to_string();
        let record = state.resources.get(&id).cloned();
        let prepared = match node {
            Node::Change(c) => match &c.step {
                Step::Up { def, .. } => {
                    let known: HashMap<&str, &Value> = def
                        .deps
                        .iter()
                        .filter_map(|d| {
                            let out = state.resources.get(d)?.output.as_ref()?;
                            Some((d.as_str(), out))
                        })
                        .collect();
                    resolve(&def.id, &def.props, &known).and_then(|r| {
                        if r.complete {
                            Ok(Some(r.value))
                        } else {
                            Err(Error::Config(format!(
                                "`{id}` refers to outputs that its dependencies did not produce"
                            )))
                        }
                    })
                }
                _ => Ok(None),
            },
            Node::Cleanup { .. } => Ok(None),
        };
        let step = match node {
            Node::Change(c) => c.step.clone(),
            Node::Cleanup { .. } => Step::Retire { generation: None },
        };
        async move {
            let start = Instant::now();
            let mut cursor = Cursor {
                engine: self,
                id: &id,
                record,
                state_failed: false,
            };
            let result = match prepared {
                Err(e) => Err(e),
                Ok(props) => cursor.step(stack, step, props).await,
            };
            Finished {
                node: index,
                state_failed: cursor.state_failed,
                record: cursor.record,
                result,
                millis: start.elapsed().as_millis() as u64,
            }
        }
    }

    fn seal(&self, v: &Value) -> Result<Value> {
        match self.keyring {
            Some(k) => k.cipher.seal(v),
            None if crate::secret::has_secrets(v) => Err(Error::MissingSecretKey),
            None => Ok(v.clone()),
        }
    }

    fn seal_record(&self, rec: &ResourceState) -> Result<ResourceState> {
        let mut sealed = rec.clone();
        sealed.props = self.seal(&rec.props)?;
        if let Some(o) = &rec.output {
            sealed.output = Some(self.seal(o)?);
        }
        if let Some(p) = &rec.pending_props {
            sealed.pending_props = Some(self.seal(p)?);
        }
        for r in &mut sealed.retired {
            r.props = self.seal(&r.props)?;
            if let Some(o) = &r.output {
                r.output = Some(self.seal(o)?);
            }
        }
        Ok(sealed)
    }

    fn seal_snapshot(&self, state: &Snapshot) -> Result<Snapshot> {
        let mut sealed = state.clone();
        for rec in sealed.resources.values_mut() {
            *rec = self.seal_record(rec)?;
        }
        Ok(sealed)
    }
}

/// How a found resource is taken over: the record's generation and retired list to keep, and
/// the action reported.
struct Taken {
    generation: u64,
    retired: Vec<Retired>,
    action: Action,
}

/// One step's view of its resource: the record as last checkpointed.
struct Cursor<'e, 'a> {
    engine: &'e Engine<'a>,
    id: &'e str,
    record: Option<ResourceState>,
    state_failed: bool,
}

impl Cursor<'_, '_> {
    async fn checkpoint(&mut self, record: Option<ResourceState>) -> Result<()> {
        let entry = match &record {
            Some(r) => JournalEntry::Put {
                id: self.id.to_string(),
                record: self.engine.seal_record(r)?,
            },
            None => JournalEntry::Remove {
                id: self.id.to_string(),
            },
        };
        let lease = self.engine.lease();
        if let Err(e) = self.engine.backend.append(&lease, &entry).await {
            self.state_failed = true;
            return Err(e);
        }
        self.record = record;
        Ok(())
    }

    fn provider(&self, id: &str, kind: &str) -> Result<&Arc<dyn ErasedProvider>> {
        self.engine.providers.get(id, kind)
    }

    async fn step(&mut self, stack: &Stack, step: Step, props: Option<Value>) -> Result<Action> {
        match step {
            Step::None => Ok(Action::Noop),
            Step::Up {
                def,
                verify,
                diff,
                planned,
            } => {
                let props = props.expect("an up step has resolved props");
                // The plan's diff holds only for the props it was made for.
                let diff = diff.filter(|_| planned.as_ref() == Some(&props));
                self.up(stack, &def, props, verify, diff).await
            }
            Step::Down { forget } => {
                if forget {
                    self.checkpoint(None).await?;
                    return Ok(Action::Forget);
                }
                self.down(stack).await
            }
            Step::Retire { generation } => self.retire(stack, generation).await,
        }
    }

    /// Looks a resource of uncertain existence up; returns its output if it exists.
    async fn find(
        &self,
        provider: &Arc<dyn ErasedProvider>,
        ctx: &Context,
        props: &Value,
        output: Option<&Value>,
    ) -> Result<Option<Value>> {
        provider.read(ctx, props, output).await
    }

    async fn up(
        &mut self,
        stack: &Stack,
        def: &crate::resource::ResourceDef,
        props: Value,
        verify: bool,
        planned: Option<Diff>,
    ) -> Result<Action> {
        let provider = self.provider(&def.id, &def.kind)?.clone();
        let deps: Vec<String> = def.deps.iter().cloned().collect();
        if verify {
            if let Some(rec) = self.record.clone() {
                let ctx = context(stack, self.id, rec.generation);
                let old = self.provider(self.id, &rec.kind)?.clone();
                match self
                    .find(&old, &ctx, &rec.props, rec.output.as_ref())
                    .await?
                {
                    Some(output) if rec.status == Status::Creating && rec.kind == def.kind => {
                        // The interrupted create made the resource, but maybe not all of its
                        // settings: apply them, as when adopting it.
                        let taken = Taken {
                            generation: rec.generation,
                            retired: rec.retired.clone(),
                            action: Action::Create,
                        };
                        return self
                            .adopt(def, props, deps, &provider, &ctx, output, taken)
                            .await;
                    }
                    Some(output) => {
                        let found = ResourceState {
                            status: Status::Created,
                            output: Some(output),
                            pending_props: None,
                            ..rec
                        };
                        self.checkpoint(Some(found)).await?;
                    }
                    None => {
                        let retired = rec.retired.clone();
                        if retired.is_empty() {
                            self.checkpoint(None).await?;
                        } else {
                            // Keep the record for the generations still to delete.
                            self.record = Some(rec);
                            return self.create(stack, def, props, deps, &provider, true).await;
                        }
                    }
                }
            } else {
                // `--adopt`: a resource with the name it would get may exist already.
                let ctx = context(stack, self.id, 0);
                if let Some(output) = self.find(&provider, &ctx, &props, None).await? {
                    let taken = Taken {
                        generation: 0,
                        retired: Vec::new(),
                        action: Action::Update,
                    };
                    return self
                        .adopt(def, props, deps, &provider, &ctx, output, taken)
                        .await;
                }
            }
        }
        let Some(rec) = self.record.clone() else {
            return self.create(stack, def, props, deps, &provider, false).await;
        };
        if rec.status == Status::Created && rec.kind == def.kind && rec.props == props {
            if rec.deps != deps {
                self.checkpoint(Some(ResourceState { deps, ..rec })).await?;
            }
            return Ok(Action::Noop);
        }
        let ctx = context(stack, self.id, rec.generation);
        let output = rec.output.clone().unwrap_or(Value::Null);
        let diff = match (planned, rec.status) {
            _ if rec.kind != def.kind => Diff::Replace { delete_first: true },
            (_, Status::Updating) => Diff::Update,
            (Some(d), _) => d,
            (None, _) => provider.diff(&ctx, &rec.props, &props, &output).await?,
        };
        match diff {
            Diff::Noop => {
                self.checkpoint(Some(ResourceState { props, deps, ..rec }))
                    .await?;
                Ok(Action::Noop)
            }
            Diff::Update => {
                self.checkpoint(Some(ResourceState {
                    status: Status::Updating,
                    pending_props: Some(props.clone()),
                    ..rec.clone()
                }))
                .await?;
                let output = provider.update(&ctx, &rec.props, &props, &output).await?;
                self.checkpoint(Some(ResourceState {
                    status: Status::Created,
                    props,
                    output: Some(output),
                    pending_props: None,
                    deps,
                    ..rec
                }))
                .await?;
                Ok(Action::Update)
            }
            Diff::Replace { delete_first: true } => {
                let old = self.provider(self.id, &rec.kind)?.clone();
                self.checkpoint(Some(ResourceState {
                    status: Status::Deleting,
                    ..rec.clone()
                }))
                .await?;
                old.delete(&ctx, &rec.props, &output).await?;
                self.record = Some(ResourceState {
                    kind: def.kind.clone(),
                    provider: provider.provider().to_string(),
                    generation: rec.generation + 1,
                    ..rec
                });
                self.create(stack, def, props, deps, &provider, true)
                    .await?;
                Ok(Action::Replace)
            }
            Diff::Replace {
                delete_first: false,
            } => {
                let mut next = rec.clone();
                next.retired.push(Retired {
                    generation: rec.generation,
                    props: rec.props.clone(),
                    output: rec.output.clone(),
                });
                next.generation = rec.generation + 1;
                self.record = Some(next);
                self.create(stack, def, props, deps, &provider, true)
                    .await?;
                Ok(Action::Replace)
            }
        }
    }

    /// Takes over a resource found with the name it would be created with: records it, then
    /// updates it to `props` (it was made by someone else, or by a create that was cut short,
    /// and may lack some of its settings).
    #[allow(clippy::too_many_arguments)]
    async fn adopt(
        &mut self,
        def: &crate::resource::ResourceDef,
        props: Value,
        deps: Vec<String>,
        provider: &Arc<dyn ErasedProvider>,
        ctx: &Context,
        found: Value,
        taken: Taken,
    ) -> Result<Action> {
        let updating = ResourceState {
            kind: def.kind.clone(),
            provider: provider.provider().to_string(),
            status: Status::Updating,
            props: props.clone(),
            output: Some(found.clone()),
            pending_props: Some(props.clone()),
            deps,
            removal: def.removal,
            generation: taken.generation,
            retired: taken.retired,
        };
        self.checkpoint(Some(updating.clone())).await?;
        let output = provider.update(ctx, &props, &props, &found).await?;
        self.checkpoint(Some(ResourceState {
            status: Status::Created,
            output: Some(output),
            pending_props: None,
            ..updating
        }))
        .await?;
        Ok(taken.action)
    }

    /// Creates the resource; `keep` carries over the current record's generation and retired list.
    async fn create(
        &mut self,
        stack: &Stack,
        def: &crate::resource::ResourceDef,
        props: Value,
        deps: Vec<String>,
        provider: &Arc<dyn ErasedProvider>,
        keep: bool,
    ) -> Result<Action> {
        let (generation, retired) = match (&self.record, keep) {
            (Some(r), true) => (r.generation, r.retired.clone()),
            _ => (0, Vec::new()),
        };
        let creating = ResourceState {
            kind: def.kind.clone(),
            provider: provider.provider().to_string(),
            status: Status::Creating,
            props: props.clone(),
            output: None,
            pending_props: None,
            deps,
            removal: def.removal,
            generation,
            retired,
        };
        self.checkpoint(Some(creating.clone())).await?;
        let ctx = context(stack, self.id, generation);
        let output = provider.create(&ctx, &props).await?;
        self.checkpoint(Some(ResourceState {
            status: Status::Created,
            output: Some(output),
            ..creating
        }))
        .await?;
        Ok(Action::Create)
    }

    async fn down(&mut self, stack: &Stack) -> Result<Action> {
        let Some(rec) = self.record.clone() else {
            return Ok(Action::Noop);
        };
        let provider = self.provider(self.id, &rec.kind)?.clone();
        let ctx = context(stack, self.id, rec.generation);
        for old in &rec.retired {
            self.delete_generation(stack, &provider, old).await?;
        }
        let output = match (&rec.status, &rec.output) {
            (Status::Created | Status::Updating, Some(o)) => Some(o.clone()),
            _ => {
                self.find(&provider, &ctx, &rec.props, rec.output.as_ref())
                    .await?
            }
        };
        if let Some(output) = output {
            self.checkpoint(Some(ResourceState {
                status: Status::Deleting,
                retired: Vec::new(),
                ..rec.clone()
            }))
            .await?;
            provider.delete(&ctx, &rec.props, &output).await?;
        }
        self.checkpoint(None).await?;
        Ok(Action::Delete)
    }

    /// Deletes retired generation `generation`, or all of them.
    async fn retire(&mut self, stack: &Stack, generation: Option<u64>) -> Result<Action> {
        let Some(rec) = self.record.clone() else {
            return Ok(Action::Noop);
        };
        let old: Vec<Retired> = rec
            .retired
            .iter()
            .filter(|r| generation.is_none_or(|g| g == r.generation))
            .cloned()
            .collect();
        if old.is_empty() {
            return Ok(Action::Noop);
        }
        let provider = self.provider(self.id, &rec.kind)?.clone();
        for old in &old {
            self.delete_generation(stack, &provider, old).await?;
        }
        Ok(Action::Delete)
    }

    async fn delete_generation(
        &mut self,
        stack: &Stack,
        provider: &Arc<dyn ErasedProvider>,
        old: &Retired,
    ) -> Result<()> {
        let ctx = context(stack, self.id, old.generation);
        let output = match &old.output {
            Some(o) => Some(o.clone()),
            None => self.find(provider, &ctx, &old.props, None).await?,
        };
        if let Some(output) = output {
            provider.delete(&ctx, &old.props, &output).await?;
        }
        if let Some(mut rec) = self.record.clone() {
            rec.retired.retain(|r| r.generation != old.generation);
            self.checkpoint(Some(rec)).await?;
        }
        Ok(())
    }
}

fn node_id<'p>(node: &Node<'p>) -> &'p str {
    match node {
        Node::Change(c) => &c.id,
        Node::Cleanup { id, .. } => id,
    }
}

fn node_change<'p>(_plan: &'p Plan, node: &Node<'p>) -> Option<&'p Change> {
    match node {
        Node::Change(c) => Some(c),
        Node::Cleanup { .. } => None,
    }
}

/// The steps of a plan: its changes that do something, plus a cleanup after each change of an
/// existing resource.
fn nodes<'p>(plan: &'p Plan, state: &Snapshot) -> Vec<Node<'p>> {
    let mut nodes = Vec::new();
    for c in &plan.changes {
        if c.action == Action::Noop {
            continue;
        }
        nodes.push(Node::Change(c));
        // A change whose inputs were not all known can turn into a replace: after it (and after
        // every replace), what it replaced is deleted (a no-op when nothing was).
        let settled = matches!(
            &c.step,
            Step::Up {
                diff: Some(Diff::Update),
                planned: Some(_),
                ..
            }
        );
        if matches!(c.step, Step::Up { .. }) && !settled && state.resources.contains_key(&c.id) {
            nodes.push(Node::Cleanup { id: &c.id });
        }
    }
    nodes
}

/// For each node, how many nodes it waits for, and which nodes wait for it.
fn edges(stack: &Stack, state: &Snapshot, nodes: &[Node<'_>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut up: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Node::Change(c) = n {
            if matches!(c.step, Step::Up { .. }) {
                up.insert(&c.id, i);
            }
        }
    }
    let mut waits: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    // Who, in the stack or as recorded, depends on `id`.
    let mut users: HashMap<&str, Vec<&str>> = HashMap::new();
    for def in stack.resources() {
        for d in &def.deps {
            users.entry(d.as_str()).or_default().push(&def.id);
        }
    }
    let mut recorded_users: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, rec) in &state.resources {
        for d in &rec.deps {
            recorded_users.entry(d.as_str()).or_default().push(id);
        }
    }
    let node_of: HashMap<&str, Vec<usize>> =
        nodes
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, n)| {
                m.entry(node_id(n)).or_default().push(i);
                m
            });
    for (i, n) in nodes.iter().enumerate() {
        match n {
            Node::Change(c) => match &c.step {
                Step::Up { def, .. } => {
                    // After the changes of what it depends on.
                    waits[i].extend(def.deps.iter().filter_map(|d| up.get(d.as_str()).copied()));
                }
                Step::Down { .. } => {
                    // After whatever used it has changed or gone.
                    for u in recorded_users.get(c.id.as_str()).into_iter().flatten() {
                        waits[i].extend(
                            node_of
                                .get(u)
                                .into_iter()
                                .flatten()
                                .copied()
                                .filter(|&j| j != i),
                        );
                    }
                }
                Step::Retire { .. } | Step::None => {
                    waits[i].extend(up.get(c.id.as_str()).copied());
                    for u in users.get(c.id.as_str()).into_iter().flatten() {
                        waits[i].extend(up.get(u).copied());
                    }
                }
            },
            Node::Cleanup { id, .. } => {
                waits[i].extend(up.get(id).copied());
                for u in users.get(id).into_iter().flatten() {
                    waits[i].extend(up.get(u).copied());
                }
            }
        }
    }
    let mut missing = vec![0; nodes.len()];
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (i, w) in waits.iter_mut().enumerate() {
        w.sort_unstable();
        w.dedup();
        missing[i] = w.len();
        for &j in w.iter() {
            dependents[j].push(i);
        }
    }
    (missing, dependents)
}
