//! The planner and the apply engine against `mockall` mocks of the provider trait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alchemy::apply::{Engine, Outcome, Report};
use alchemy::plan::{plan, render_human, Action, Plan, PlanOptions};
use alchemy::provider::{Context, Diff, Provider, Providers};
use alchemy::stack::Stack;
use alchemy::state::{LeaseOwner, MemoryBackend, Snapshot, StateBackend, Status};
use alchemy::{Error, Input, RemovalPolicy, Resource, Result};
use async_trait::async_trait;
use mockall::mock;
use mockall::predicate::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thing {
    size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<Input<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ThingOut {
    name: String,
    size: u32,
}

impl Resource for Thing {
    const KIND: &'static str = "test.thing";
    type Output = ThingOut;
}

mock! {
    Prov {}
    #[async_trait]
    impl Provider<Thing> for Prov {
        async fn read(&self, ctx: &Context, props: &Thing, output: Option<ThingOut>) -> Result<Option<ThingOut>>;
        async fn diff(&self, ctx: &Context, old: &Thing, new: &Thing, output: &ThingOut) -> Result<Diff>;
        async fn create(&self, ctx: &Context, props: &Thing) -> Result<ThingOut>;
        async fn update(&self, ctx: &Context, old: &Thing, new: &Thing, output: &ThingOut) -> Result<ThingOut>;
        async fn delete(&self, ctx: &Context, props: &Thing, output: &ThingOut) -> Result<()>;
    }
}

fn thing(size: u32) -> Thing {
    Thing { size, link: None }
}

fn out(ctx: &Context, size: u32) -> ThingOut {
    ThingOut {
        name: ctx.physical_name(),
        size,
    }
}

fn providers(p: MockProv) -> Providers {
    let mut providers = Providers::new();
    providers.register::<Thing>("test", p);
    providers
}

/// A hand-written provider whose creates run `create`; everything else succeeds at once.
struct OnCreate<F>(F);

type Created = std::pin::Pin<Box<dyn std::future::Future<Output = Result<ThingOut>> + Send>>;

#[async_trait]
impl<F: Fn(Context, Thing) -> Created + Send + Sync + 'static> Provider<Thing> for OnCreate<F> {
    async fn read(&self, _: &Context, _: &Thing, _: Option<ThingOut>) -> Result<Option<ThingOut>> {
        Ok(None)
    }
    async fn create(&self, ctx: &Context, t: &Thing) -> Result<ThingOut> {
        (self.0)(ctx.clone(), t.clone()).await
    }
    async fn update(&self, ctx: &Context, _: &Thing, t: &Thing, _: &ThingOut) -> Result<ThingOut> {
        Ok(out(ctx, t.size))
    }
    async fn delete(&self, _: &Context, _: &Thing, _: &ThingOut) -> Result<()> {
        Ok(())
    }
}

fn on_create<F: Fn(Context, Thing) -> Created + Send + Sync + 'static>(f: F) -> Providers {
    let mut providers = Providers::new();
    providers.register::<Thing>("test", OnCreate(f));
    providers
}

struct Run {
    plan: Plan,
    report: Report,
    state: Snapshot,
}

async fn deploy(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    concurrency: usize,
) -> Result<Run> {
    let mut state = backend
        .load()
        .await?
        .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
    let plan = plan(stack, &state, providers, &PlanOptions::default()).await?;
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(30))
        .await?;
    let engine = Engine::new(providers, backend, lease.clone(), Duration::from_secs(30))
        .concurrency(concurrency);
    let report = engine.apply(stack, &plan, &mut state).await?;
    backend.unlock(&lease).await?;
    Ok(Run {
        plan,
        report,
        state,
    })
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.id.clone(), c.action))
        .collect()
}

fn stack_of(items: &[(&str, u32)]) -> Stack {
    let mut s = Stack::new("app", "test");
    for (id, size) in items {
        s.add(id, thing(*size)).unwrap();
    }
    s
}

/// A state in which `items` exist as created with their sizes.
async fn existing(items: &[(&str, u32)]) -> MemoryBackend {
    let backend = MemoryBackend::new();
    let mut p = MockProv::new();
    p.expect_create().returning(|ctx, t| Ok(out(ctx, t.size)));
    let run = deploy(&stack_of(items), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert!(run.report.succeeded());
    backend
}

#[tokio::test]
async fn create_records_output_and_checkpoints_before_and_after() {
    let backend = MemoryBackend::new();
    let mut p = MockProv::new();
    p.expect_create()
        .times(1)
        .withf(|ctx, t| ctx.id == "a" && ctx.generation == 0 && t.size == 1)
        .returning(|ctx, t| Ok(out(ctx, t.size)));
    let run = deploy(&stack_of(&[("a", 1)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Create)]);
    assert_eq!(run.plan.changes[0].provider, "test");
    assert!(run.report.succeeded());
    let rec = &run.state.resources["a"];
    assert_eq!(rec.status, Status::Created);
    assert_eq!(rec.output.as_ref().unwrap()["name"], "app-test-a");
    assert_eq!(
        backend.appends(),
        2,
        "one checkpoint before and one after the create"
    );
    let reloaded = backend.load().await.unwrap().unwrap();
    assert_eq!(reloaded.resources, run.state.resources);
}

#[tokio::test]
async fn unchanged_props_are_a_noop_without_calling_the_provider() {
    let backend = existing(&[("a", 1), ("b", 2)]).await;
    let p = MockProv::new(); // any call would panic
    let run = deploy(&stack_of(&[("a", 1), ("b", 2)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(
        actions(&run.plan),
        [("a".into(), Action::Noop), ("b".into(), Action::Noop)]
    );
    assert!(!run.plan.has_changes());
    assert!(run.report.steps.is_empty());
    assert!(render_human(&run.plan)
        .contains("0 to create, 0 to update, 0 to replace, 0 to delete, 2 unchanged"));
}

#[tokio::test]
async fn update_in_place_shows_the_property_diff() {
    let backend = existing(&[("a", 1)]).await;
    let mut p = MockProv::new();
    p.expect_diff()
        .times(1)
        .returning(|_, _, _, _| Ok(Diff::Update));
    p.expect_update()
        .times(1)
        .withf(|_, old, new, o| old.size == 1 && new.size == 5 && o.size == 1)
        .returning(|ctx, _, new, _| Ok(out(ctx, new.size)));
    let run = deploy(&stack_of(&[("a", 5)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Update)]);
    let d = &run.plan.changes[0].diffs;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "size");
    assert!(render_human(&run.plan).contains("~ size: 1 -> 5"));
    assert_eq!(run.state.resources["a"].output.as_ref().unwrap()["size"], 5);
}

#[tokio::test]
async fn a_provider_noop_diff_changes_nothing() {
    let backend = existing(&[("a", 1)]).await;
    let mut p = MockProv::new();
    p.expect_diff()
        .times(1)
        .returning(|_, _, _, _| Ok(Diff::Noop));
    let run = deploy(&stack_of(&[("a", 2)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Noop)]);
    assert!(run.report.steps.is_empty());
}

#[tokio::test]
async fn replace_creates_the_new_generation_before_deleting_the_old() {
    let backend = existing(&[("a", 1)]).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut p = MockProv::new();
    p.expect_diff().returning(|_, _, _, _| {
        Ok(Diff::Replace {
            delete_first: false,
        })
    });
    let c = calls.clone();
    p.expect_create().times(1).returning(move |ctx, t| {
        c.lock()
            .unwrap()
            .push(format!("create g{}", ctx.generation));
        Ok(out(ctx, t.size))
    });
    let c = calls.clone();
    p.expect_delete().times(1).returning(move |ctx, t, o| {
        assert_eq!((t.size, o.size), (1, 1), "the old generation is deleted");
        c.lock()
            .unwrap()
            .push(format!("delete g{}", ctx.generation));
        Ok(())
    });
    let run = deploy(&stack_of(&[("a", 2)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Replace)]);
    assert!(!run.plan.changes[0].delete_first);
    assert_eq!(*calls.lock().unwrap(), ["create g1", "delete g0"]);
    let rec = &run.state.resources["a"];
    assert_eq!(rec.generation, 1);
    assert!(rec.retired.is_empty());
    assert_eq!(rec.output.as_ref().unwrap()["name"], "app-test-a-g1");
}

#[tokio::test]
async fn replace_with_delete_first_deletes_before_creating() {
    let backend = existing(&[("a", 1)]).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut p = MockProv::new();
    p.expect_diff()
        .returning(|_, _, _, _| Ok(Diff::Replace { delete_first: true }));
    let c = calls.clone();
    p.expect_delete().times(1).returning(move |ctx, _, _| {
        c.lock()
            .unwrap()
            .push(format!("delete g{}", ctx.generation));
        Ok(())
    });
    let c = calls.clone();
    p.expect_create().times(1).returning(move |ctx, t| {
        c.lock()
            .unwrap()
            .push(format!("create g{}", ctx.generation));
        Ok(out(ctx, t.size))
    });
    let run = deploy(&stack_of(&[("a", 2)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert!(run.plan.changes[0].delete_first);
    assert!(render_human(&run.plan).contains("-/+ a (test.thing, test)  delete first"));
    assert_eq!(*calls.lock().unwrap(), ["delete g0", "create g1"]);
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first() {
    let backend = MemoryBackend::new();
    let mut stack = Stack::new("app", "test");
    let a = stack.add("a", thing(1)).unwrap();
    let b = stack
        .add(
            "b",
            Thing {
                size: 2,
                link: Some(a.output("name")),
            },
        )
        .unwrap();
    stack
        .add(
            "c",
            Thing {
                size: 3,
                link: Some(b.output("name")),
            },
        )
        .unwrap();
    let mut p = MockProv::new();
    p.expect_create().returning(|ctx, t| Ok(out(ctx, t.size)));
    deploy(&stack, &providers(p), &backend, 4).await.unwrap();

    let order = Arc::new(Mutex::new(Vec::new()));
    let mut p = MockProv::new();
    let o = order.clone();
    p.expect_delete().times(3).returning(move |ctx, _, _| {
        o.lock().unwrap().push(ctx.id.clone());
        Ok(())
    });
    let run = deploy(&Stack::new("app", "test"), &providers(p), &backend, 8)
        .await
        .unwrap();
    assert_eq!(
        actions(&run.plan),
        [
            ("c".into(), Action::Delete),
            ("b".into(), Action::Delete),
            ("a".into(), Action::Delete)
        ]
    );
    assert_eq!(*order.lock().unwrap(), ["c", "b", "a"]);
    assert!(run.state.resources.is_empty());
}

#[tokio::test]
async fn retained_resources_are_forgotten_not_deleted() {
    let backend = MemoryBackend::new();
    let mut stack = stack_of(&[("keep", 1)]);
    stack.set_removal("keep", RemovalPolicy::Retain).unwrap();
    let mut p = MockProv::new();
    p.expect_create().returning(|ctx, t| Ok(out(ctx, t.size)));
    deploy(&stack, &providers(p), &backend, 4).await.unwrap();

    let p = MockProv::new(); // a delete would panic
    let run = deploy(&Stack::new("app", "test"), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("keep".into(), Action::Forget)]);
    assert!(render_human(&run.plan).contains("retain"));
    assert!(run.state.resources.is_empty());
}

#[tokio::test]
async fn references_order_creation_and_carry_outputs() {
    let backend = MemoryBackend::new();
    let mut stack = Stack::new("app", "test");
    // Added in reverse, so only the reference can put `base` first.
    let base = Input::<String>::Ref {
        id: "base".into(),
        path: "name".into(),
    };
    stack
        .add(
            "top",
            Thing {
                size: 2,
                link: Some(base),
            },
        )
        .unwrap();
    stack.add("base", thing(1)).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut p = MockProv::new();
    let o = order.clone();
    p.expect_create().times(2).returning(move |ctx, t| {
        o.lock()
            .unwrap()
            .push((ctx.id.clone(), t.link.as_ref().map(|l| l.get().clone())));
        Ok(out(ctx, t.size))
    });
    let run = deploy(&stack, &providers(p), &backend, 8).await.unwrap();
    assert_eq!(
        actions(&run.plan),
        [
            ("base".into(), Action::Create),
            ("top".into(), Action::Create)
        ]
    );
    assert!(
        render_human(&run.plan).contains("+ link = (known after apply)"),
        "{}",
        render_human(&run.plan)
    );
    assert_eq!(
        *order.lock().unwrap(),
        [
            ("base".to_string(), None),
            ("top".to_string(), Some("app-test-base".to_string()))
        ]
    );
    assert_eq!(run.state.resources["top"].deps, ["base"]);
}

#[tokio::test]
async fn cycles_are_an_error_that_names_the_cycle() {
    let mut stack = Stack::new("app", "test");
    stack
        .add(
            "a",
            Thing {
                size: 1,
                link: Some(Input::Ref {
                    id: "c".into(),
                    path: "name".into(),
                }),
            },
        )
        .unwrap();
    stack
        .add(
            "b",
            Thing {
                size: 1,
                link: Some(Input::Ref {
                    id: "a".into(),
                    path: "name".into(),
                }),
            },
        )
        .unwrap();
    stack
        .add(
            "c",
            Thing {
                size: 1,
                link: Some(Input::Ref {
                    id: "b".into(),
                    path: "name".into(),
                }),
            },
        )
        .unwrap();
    let state = Snapshot::new("app", "test");
    let err = plan(
        &stack,
        &state,
        &providers(MockProv::new()),
        &PlanOptions::default(),
    )
    .await
    .unwrap_err();
    let Error::Cycle { cycle } = &err else {
        panic!("expected a cycle, got {err}")
    };
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    assert!(err.to_string().starts_with("dependency cycle: "), "{err}");
    for id in ["a", "b", "c"] {
        assert!(cycle.iter().any(|c| c == id));
    }
}

#[tokio::test]
async fn a_failed_step_skips_its_dependents_but_not_independent_steps() {
    let backend = MemoryBackend::new();
    let mut stack = Stack::new("app", "test");
    let bad = stack.add("bad", thing(13)).unwrap();
    stack
        .add(
            "child",
            Thing {
                size: 2,
                link: Some(bad.output("name")),
            },
        )
        .unwrap();
    stack.add("free", thing(3)).unwrap();
    let mut p = MockProv::new();
    p.expect_create().returning(|ctx, t| {
        if t.size == 13 {
            Err(Error::provider("quota exceeded"))
        } else {
            Ok(out(ctx, t.size))
        }
    });
    let run = deploy(&stack, &providers(p), &backend, 4).await.unwrap();
    assert!(!run.report.succeeded());
    let outcome = |id: &str| {
        run.report
            .steps
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .outcome
            .clone()
    };
    assert_eq!(
        outcome("bad"),
        Outcome::Failed {
            error: "test failed to create `bad`: quota exceeded".into()
        }
    );
    assert_eq!(
        outcome("child"),
        Outcome::Skipped {
            because: "bad".into()
        }
    );
    assert_eq!(
        outcome("free"),
        Outcome::Done {
            action: Action::Create
        }
    );
    assert_eq!(run.state.resources["free"].status, Status::Created);
    assert!(!run.state.resources.contains_key("child"));

    // The next deploy creates what is missing and nothing twice.
    let mut p = MockProv::new();
    p.expect_read().times(1).returning(|_, _, _| Ok(None));
    p.expect_create()
        .times(2)
        .returning(|ctx, t| Ok(out(ctx, t.size)));
    let run = deploy(&stack, &providers(p), &backend, 4).await.unwrap();
    assert!(run.report.succeeded());
    assert_eq!(run.state.resources.len(), 3);
}

#[tokio::test]
async fn an_uncertain_create_is_looked_up_before_creating_again() {
    let backend = MemoryBackend::new();
    let mut p = MockProv::new();
    p.expect_create()
        .returning(|_, _| Err(Error::provider("connection reset")));
    deploy(&stack_of(&[("a", 1)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert_eq!(
        backend.load().await.unwrap().unwrap().resources["a"].status,
        Status::Creating
    );

    // The resource was made before the connection was lost, but not all of its settings:
    // it is found (not created twice) and brought to its props.
    let mut p = MockProv::new();
    p.expect_read().times(1).returning(|ctx, t, o| {
        assert!(o.is_none());
        Ok(Some(out(ctx, t.size)))
    });
    p.expect_create().never();
    p.expect_update()
        .times(1)
        .returning(|ctx, old, new, found| {
            assert_eq!((old.size, new.size), (1, 1));
            assert_eq!(found, &out(ctx, 1));
            Ok(out(ctx, new.size))
        });
    let run = deploy(&stack_of(&[("a", 1)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert!(run.plan.changes[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(
        run.report.steps[0].outcome,
        Outcome::Done {
            action: Action::Create
        }
    );
    assert_eq!(run.state.resources["a"].status, Status::Created);
    assert_eq!(run.state.resources["a"].generation, 0);
}

#[tokio::test]
async fn concurrency_cap_is_honoured() {
    for cap in [1, 3, 7] {
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (n, m) = (now.clone(), max.clone());
        let providers = on_create(move |ctx, t| {
            let (now, max) = (n.clone(), m.clone());
            Box::pin(async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(out(&ctx, t.size))
            })
        });
        let items: Vec<(String, u32)> = (0..30).map(|i| (format!("r{i}"), i)).collect();
        let refs: Vec<(&str, u32)> = items.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        let run = deploy(&stack_of(&refs), &providers, &MemoryBackend::new(), cap)
            .await
            .unwrap();
        assert!(run.report.succeeded());
        assert_eq!(
            max.load(Ordering::SeqCst),
            cap,
            "at most {cap} at once, and the cap is used"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_error() {
    let mut stack = Stack::new("app", "test");
    let err = stack.add("9lives", thing(1)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid id `9lives`: it does not start with a letter"),
        "{err}"
    );
    let err = stack.add("a b", thing(1)).unwrap_err();
    assert!(err.to_string().contains("it contains ` `"), "{err}");
    stack.add("a", thing(1)).unwrap();
    assert!(matches!(
        stack.add("a", thing(1)),
        Err(Error::DuplicateId { .. })
    ));

    let state = Snapshot::new("app", "test");
    let err = plan(&stack, &state, &Providers::new(), &PlanOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown resource kind `test.thing` for `a`: no provider is registered for it (known kinds: none)"
    );

    let mut stack = Stack::new("app", "test");
    stack
        .add(
            "a",
            Thing {
                size: 1,
                link: Some(Input::Ref {
                    id: "ghost".into(),
                    path: "name".into(),
                }),
            },
        )
        .unwrap();
    let err = plan(
        &stack,
        &state,
        &providers(MockProv::new()),
        &PlanOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("refers to `ghost`, which is not in the stack"),
        "{err}"
    );
}

#[tokio::test]
async fn a_lost_lease_stops_the_apply_with_that_error() {
    let backend = Arc::new(MemoryBackend::new());
    // Takes the lease away during the first create, as another deploy taking it over would.
    let usurper = backend.clone();
    let providers = on_create(move |ctx, t| {
        let backend = usurper.clone();
        Box::pin(async move {
            backend.force_unlock().await?;
            backend
                .lock(&LeaseOwner::current(), Duration::from_secs(30))
                .await?;
            Ok(out(&ctx, t.size))
        })
    });
    let err = deploy(&stack_of(&[("a", 1), ("b", 2)]), &providers, &backend, 1)
        .await
        .err()
        .expect("the apply stops");
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");
    assert!(err.to_string().contains("was lost"), "{err}");
}

#[tokio::test]
async fn an_interrupt_lets_steps_in_flight_finish_and_skips_the_rest() {
    use std::sync::atomic::AtomicBool;
    let flag = Arc::new(AtomicBool::new(false));
    // Sets the interrupt flag during the first create, as Ctrl-C would.
    let ctrl_c = flag.clone();
    let providers = on_create(move |ctx, t| {
        ctrl_c.store(true, Ordering::SeqCst);
        Box::pin(async move { Ok(out(&ctx, t.size)) })
    });
    let backend = MemoryBackend::new();
    let stack = stack_of(&[("a", 1), ("b", 2), ("c", 3)]);
    let mut state = Snapshot::new("app", "test");
    let plan = plan(&stack, &state, &providers, &PlanOptions::default())
        .await
        .unwrap();
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(30))
        .await
        .unwrap();
    let engine = Engine::new(&providers, &backend, lease, Duration::from_secs(30))
        .concurrency(1)
        .interrupt(flag);
    let report = engine.apply(&stack, &plan, &mut state).await.unwrap();
    let done: Vec<_> = report
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Done { .. }))
        .collect();
    let skipped: Vec<_> = report
        .steps
        .iter()
        .filter(|s| {
            s.outcome
                == Outcome::Skipped {
                    because: "interrupted".into(),
                }
        })
        .collect();
    assert_eq!((done.len(), skipped.len()), (1, 2), "{:?}", report.steps);
    assert_eq!(state.resources.len(), 1);
    assert_eq!(
        backend.load().await.unwrap().unwrap().resources,
        state.resources,
        "committed"
    );
}

/// Plans with `options` (after a refresh when `refresh`) and applies the plan.
async fn deploy_with(
    stack: &Stack,
    providers: &Providers,
    backend: &MemoryBackend,
    options: &PlanOptions,
    refresh: bool,
) -> Result<Run> {
    let mut state = backend
        .load()
        .await?
        .unwrap_or_else(|| Snapshot::new(stack.app(), stack.stage()));
    let drift = if refresh {
        alchemy::plan::refresh(stack, &mut state, providers, options).await?
    } else {
        Vec::new()
    };
    let mut plan = plan(stack, &state, providers, options).await?;
    plan.drift = drift;
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(30))
        .await?;
    let engine = Engine::new(providers, backend, lease.clone(), Duration::from_secs(30));
    let report = engine.apply(stack, &plan, &mut state).await?;
    backend.unlock(&lease).await?;
    Ok(Run {
        plan,
        report,
        state,
    })
}

#[tokio::test]
async fn adopt_takes_over_a_resource_that_exists_with_its_name() {
    let backend = MemoryBackend::new();
    let mut p = MockProv::new();
    p.expect_read()
        .times(1)
        .withf(|ctx, t, o| ctx.id == "a" && t.size == 3 && o.is_none())
        .returning(|ctx, _, _| Ok(Some(out(ctx, 1))));
    p.expect_update()
        .times(1)
        .withf(|_, old, new, o| old.size == 3 && new.size == 3 && o.size == 1)
        .returning(|ctx, _, t, _| Ok(out(ctx, t.size)));
    p.expect_create().never();
    let options = PlanOptions {
        adopt: true,
        ..PlanOptions::default()
    };
    let run = deploy_with(
        &stack_of(&[("a", 3)]),
        &providers(p),
        &backend,
        &options,
        false,
    )
    .await
    .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Create)]);
    assert!(render_human(&run.plan)
        .contains("# --adopt: a resource that exists with its name is taken over"));
    assert!(run.report.succeeded(), "{:?}", run.report);
    assert!(matches!(
        run.report.steps[0].outcome,
        Outcome::Done {
            action: Action::Update
        }
    ));
    let rec = &backend.load().await.unwrap().unwrap().resources["a"];
    assert_eq!(rec.status, Status::Created);
    assert_eq!(
        rec.output.as_ref().unwrap()["size"],
        3,
        "set to the desired props"
    );
}

#[tokio::test]
async fn adopt_creates_what_does_not_exist_and_without_it_nothing_is_looked_up() {
    let backend = MemoryBackend::new();
    let mut p = MockProv::new();
    p.expect_read().times(1).returning(|_, _, _| Ok(None));
    p.expect_create()
        .times(1)
        .returning(|ctx, t| Ok(out(ctx, t.size)));
    let options = PlanOptions {
        adopt: true,
        ..PlanOptions::default()
    };
    let run = deploy_with(
        &stack_of(&[("a", 1)]),
        &providers(p),
        &backend,
        &options,
        false,
    )
    .await
    .unwrap();
    assert!(matches!(
        run.report.steps[0].outcome,
        Outcome::Done {
            action: Action::Create
        }
    ));

    let mut p = MockProv::new();
    p.expect_read().never();
    p.expect_create()
        .times(1)
        .returning(|ctx, t| Ok(out(ctx, t.size)));
    let run = deploy(&stack_of(&[("a", 1), ("b", 1)]), &providers(p), &backend, 4)
        .await
        .unwrap();
    assert!(run.report.succeeded());
}

#[tokio::test]
async fn refresh_finds_a_resource_deleted_outside_and_the_deploy_makes_it_again() {
    let backend = existing(&[("a", 1), ("b", 2)]).await;
    let mut p = MockProv::new();
    p.expect_read()
        .withf(|ctx, _, o| ctx.id == "a" && o.is_some())
        .returning(|ctx, t, _| Ok(Some(out(ctx, t.size))));
    p.expect_read()
        .withf(|ctx, _, _| ctx.id == "b")
        .returning(|_, _, _| Ok(None));
    p.expect_create()
        .times(1)
        .withf(|ctx, t| ctx.id == "b" && t.size == 2)
        .returning(|ctx, t| Ok(out(ctx, t.size)));
    let run = deploy_with(
        &stack_of(&[("a", 1), ("b", 2)]),
        &providers(p),
        &backend,
        &PlanOptions::default(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        run.plan.drift,
        [alchemy::plan::Drift {
            id: "b".into(),
            kind: "test.thing".into(),
            change: alchemy::plan::DriftChange::Gone,
        }]
    );
    assert_eq!(
        actions(&run.plan),
        [("a".into(), Action::Noop), ("b".into(), Action::Create)]
    );
    let text = render_human(&run.plan);
    assert!(
        text.contains(
            "Changed outside Alchemy (read from the providers):\n  ! b (test.thing)  deleted"
        ),
        "{text}"
    );
    assert_eq!(run.plan.to_json()["drift"][0]["drift"], "gone");
    assert!(run.report.succeeded());
}

/// A provider whose live settings differ from the recorded ones: its size is 5 outside.
struct Drifted(Mutex<Vec<(u32, u32)>>);

#[async_trait]
impl Provider<Thing> for Arc<Drifted> {
    async fn read(
        &self,
        ctx: &Context,
        _: &Thing,
        _: Option<ThingOut>,
    ) -> Result<Option<ThingOut>> {
        Ok(Some(out(ctx, 5)))
    }
    async fn refresh(
        &self,
        ctx: &Context,
        _: &Thing,
        _: &ThingOut,
    ) -> Result<Option<(Thing, ThingOut)>> {
        Ok(Some((thing(5), out(ctx, 5))))
    }
    async fn create(&self, ctx: &Context, t: &Thing) -> Result<ThingOut> {
        Ok(out(ctx, t.size))
    }
    async fn update(
        &self,
        ctx: &Context,
        old: &Thing,
        new: &Thing,
        _: &ThingOut,
    ) -> Result<ThingOut> {
        self.0.lock().unwrap().push((old.size, new.size));
        Ok(out(ctx, new.size))
    }
    async fn delete(&self, _: &Context, _: &Thing, _: &ThingOut) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refresh_shows_settings_changed_outside_and_the_deploy_sets_them_back() {
    let backend = existing(&[("a", 3)]).await;
    let updates = Arc::new(Drifted(Mutex::new(Vec::new())));
    let mut providers = Providers::new();
    providers.register::<Thing>("test", updates.clone());
    let stack = stack_of(&[("a", 3)]);

    // Without a refresh the recorded state is trusted: nothing to do.
    let plain = plan(
        &stack,
        &backend.load().await.unwrap().unwrap(),
        &providers,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    assert!(!plain.has_changes());

    let run = deploy_with(&stack, &providers, &backend, &PlanOptions::default(), true)
        .await
        .unwrap();
    assert_eq!(actions(&run.plan), [("a".into(), Action::Update)]);
    let text = render_human(&run.plan);
    assert!(
        text.contains("  ! a (test.thing)  changed\n      ~ size: 3 -> 5"),
        "{text}"
    );
    assert!(
        text.contains("  ~ a (test.thing, test)\n      ~ size: 5 -> 3"),
        "{text}"
    );
    assert!(run.report.succeeded());
    assert_eq!(
        *updates.0.lock().unwrap(),
        [(5, 3)],
        "updated from the live settings"
    );
}

#[tokio::test]
async fn a_failure_that_skips_every_remaining_step_ends_the_apply_with_a_report() {
    let backend = MemoryBackend::new();
    let mut stack = Stack::new("app", "test");
    let a = stack.add("a", thing(1)).unwrap();
    for id in ["b", "c", "d"] {
        stack
            .add(
                id,
                Thing {
                    size: 2,
                    link: Some(a.output("name")),
                },
            )
            .unwrap();
    }
    let mut p = MockProv::new();
    p.expect_create()
        .times(1)
        .returning(|ctx, _| Err(Error::AlreadyExists(ctx.physical_name())));
    let run = deploy(&stack, &providers(p), &backend, 4)
        .await
        .expect("a failed step is reported, not an error of the apply");
    let failures: Vec<(&str, &Outcome)> = run
        .report
        .failures()
        .map(|s| (s.id.as_str(), &s.outcome))
        .collect();
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert!(matches!(failures[0], ("a", Outcome::Failed { .. })));
    for (_, outcome) in &failures[1..] {
        assert!(
            matches!(outcome, Outcome::Skipped { because } if because == "a"),
            "{outcome:?}"
        );
    }
}
