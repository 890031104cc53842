//! The planner: the desired stack against recorded state gives one plan for every provider.

mod diff;
mod draw;
mod graph;
mod refresh;
mod render;

pub use diff::PropDiff;
pub use draw::{to_dot, to_html, to_svg};
pub use refresh::{refresh, Drift, DriftChange};
pub use render::render_human;

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::provider::{Context, Diff, Providers};
use crate::resource::{as_ref, lookup, RemovalPolicy, ResourceDef};
use crate::stack::{Binding, Stack};
use crate::state::{Snapshot, Status};

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Make a new resource.
    Create,
    /// Change one in place.
    Update,
    /// Make a new one and delete the old (or the other way round).
    Replace,
    /// Delete one.
    Delete,
    /// Forget one in state and leave it in place (its removal policy is `retain`).
    Forget,
    /// Nothing to do.
    Noop,
}

impl Action {
    /// The sign used in human output.
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Forget => "-",
            Action::Noop => " ",
        }
    }
}

/// One change of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The logical id.
    pub id: String,
    /// The resource kind.
    pub kind: String,
    /// The provider that hosts it.
    pub provider: String,
    /// What happens.
    pub action: Action,
    /// For a replace: the old one goes first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete_first: bool,
    /// For a delete of an earlier generation left by a replace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Why, when it is not obvious (an interrupted step being resumed, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Property-level differences; secrets shown as `[secret]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<PropDiff>,
    /// The resources this one comes after (for a delete: came after when it was applied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip)]
    pub(crate) step: Step,
}

/// What the engine does for a change, with what it needs to do it.
#[derive(Debug, Clone, Default)]
pub(crate) enum Step {
    #[default]
    None,
    /// Bring a desired resource to its props: create, update or replace, decided finally once its
    /// inputs are known. `verify` means existence is uncertain (an interrupted step): read first.
    Up {
        def: ResourceDef,
        verify: bool,
        /// The provider's diff at plan time, valid while the props resolve to `planned`.
        diff: Option<Diff>,
        planned: Option<Value>,
    },
    /// Delete (or forget) a recorded resource that is not desired.
    Down { forget: bool },
    /// Delete a retired generation.
    Retire { generation: Option<u64> },
}

/// A plan: the changes for every provider of the stage, and the bindings of its services.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The app.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// Every change, in dependency order; deletes in reverse dependency order at the end.
    pub changes: Vec<Change>,
    /// The bindings of the stack's services.
    pub bindings: Vec<Binding>,
    /// How many of each action.
    pub summary: Summary,
    /// What a refresh found changed outside Alchemy (empty without `--refresh`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
}

/// Counts of a plan's actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete (forgotten ones included).
    pub delete: usize,
    /// Resources left as they are.
    pub unchanged: usize,
}

impl Plan {
    /// Whether applying the plan changes anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Noop)
    }

    /// The plan as one JSON object: `{"app", "stage", "changes": [...], "bindings", "summary"}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a plan always serializes")
    }
}

/// What to plan for.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these resources and what they depend on (for a destroy: and what depends on them).
    pub targets: Vec<String>,
    /// Plan the removal of everything.
    pub destroy: bool,
    /// Look up every resource to create by its name first, and take over one that exists
    /// (then set it to the desired props) instead of failing on the name being taken.
    pub adopt: bool,
}

/// An input not known until an upstream change is applied.
pub(crate) const UNKNOWN: &str = "(known after apply)";

/// Plans `stack` against `state`.
pub async fn plan(
    stack: &Stack,
    state: &Snapshot,
    providers: &Providers,
    options: &PlanOptions,
) -> Result<Plan> {
    let desired: Vec<&ResourceDef> = if options.destroy {
        Vec::new()
    } else {
        stack.resources().iter().collect()
    };
    for def in &desired {
        providers
            .get(&def.id, &def.kind)?
            .check(&def.id, &def.props)?;
        for dep in &def.deps {
            if stack.get(dep).is_none() {
                return Err(Error::UnknownReference {
                    id: def.id.clone(),
                    target: dep.clone(),
                });
            }
        }
    }
    for (id, rec) in &state.resources {
        providers.get(id, &rec.kind)?;
    }
    let order = graph::topological(&desired)?;
    let selected = select(stack, state, options)?;

    let mut changes = Vec::new();
    // Outputs known at plan time: those of resources that stay as they are.
    let mut known: HashMap<&str, &Value> = HashMap::new();
    for &i in &order {
        let def = desired[i];
        if !selected.contains(def.id.as_str()) {
            if let Some(output) = state.resources.get(&def.id).and_then(|r| r.output.as_ref()) {
                known.insert(&def.id, output);
            }
            continue;
        }
        let provider = providers.get(&def.id, &def.kind)?;
        let resolved = resolve(&def.id, &def.props, &known)?;
        let ctx = context(stack, &def.id, 0);
        let mut change = Change {
            id: def.id.clone(),
            kind: def.kind.clone(),
            provider: provider.provider().to_string(),
            action: Action::Create,
            delete_first: false,
            generation: None,
            reason: None,
            diffs: Vec::new(),
            depends_on: def.deps.iter().cloned().collect(),
            step: Step::None,
        };
        let mut verify = false;
        let mut decided = None;
        match state.resources.get(&def.id) {
            None => {
                change.diffs = diff::created(&resolved.value);
                if options.adopt {
                    verify = true;
                    change.reason =
                        Some("--adopt: a resource that exists with its name is taken over".into());
                }
            }
            Some(rec) if rec.kind != def.kind => {
                change.action = Action::Replace;
                change.delete_first = true;
                change.reason = Some(format!("kind changes from {} to {}", rec.kind, def.kind));
                change.diffs = diff::between(&rec.props, &resolved.value);
                decided = Some(Diff::Replace { delete_first: true });
            }
            Some(rec) => match rec.status {
                Status::Creating | Status::Deleting => {
                    verify = true;
                    change.reason = Some(match rec.status {
                        Status::Creating => {
                            "an earlier create was interrupted: it is looked up first".into()
                        }
                        _ => "an earlier delete was interrupted: it is looked up first".into(),
                    });
                    change.diffs = diff::created(&resolved.value);
                }
                Status::Updating => {
                    change.action = Action::Update;
                    change.reason =
                        Some("an earlier update was interrupted: it is applied again".into());
                    change.diffs = diff::between(&rec.props, &resolved.value);
                    decided = Some(Diff::Update);
                }
                Status::Created => {
                    let output = rec.output.clone().unwrap_or(Value::Null);
                    if resolved.complete && resolved.value == rec.props {
                        change.action = Action::Noop;
                        known.insert(&def.id, rec.output.as_ref().unwrap_or(&Value::Null));
                    } else {
                        if !resolved.complete {
                            // The provider sees `(known after apply)` where inputs are unknown;
                            // the engine asks again once they are known.
                            change.reason = Some("some inputs are known only after apply".into());
                        }
                        let ctx = Context {
                            generation: rec.generation,
                            ..ctx.clone()
                        };
                        let d = provider
                            .diff(&ctx, &rec.props, &resolved.value, &output)
                            .await?;
                        change.diffs = diff::between(&rec.props, &resolved.value);
                        match d {
                            Diff::Noop => {
                                change.action = Action::Noop;
                                known.insert(&def.id, rec.output.as_ref().unwrap_or(&Value::Null));
                            }
                            Diff::Update => {
                                change.action = Action::Update;
                                // Outputs of an update in place are taken to stay as recorded;
                                // the engine re-checks dependents once they are really known.
                                known.insert(&def.id, rec.output.as_ref().unwrap_or(&Value::Null));
                            }
                            Diff::Replace { delete_first } => {
                                change.action = Action::Replace;
                                change.delete_first = delete_first;
                            }
                        }
                        decided = Some(d);
                    }
                }
            },
        }
        if change.action != Action::Noop {
            change.step = Step::Up {
                def: def.clone(),
                verify,
                diff: decided,
                planned: resolved.complete.then_some(resolved.value),
            };
        }
        changes.push(change);
    }

    // Recorded resources no longer desired, dependents first.
    let desired_ids: HashSet<&str> = desired.iter().map(|d| d.id.as_str()).collect();
    let gone: Vec<&String> = state
        .resources
        .keys()
        .filter(|id| !desired_ids.contains(id.as_str()) && selected.contains(id.as_str()))
        .collect();
    for id in graph::reverse_order(state, &gone) {
        let rec = &state.resources[id];
        let forget = rec.removal == RemovalPolicy::Retain;
        changes.push(Change {
            id: id.clone(),
            kind: rec.kind.clone(),
            provider: providers.get(id, &rec.kind)?.provider().to_string(),
            action: if forget {
                Action::Forget
            } else {
                Action::Delete
            },
            delete_first: false,
            generation: None,
            reason: forget.then(|| "its removal policy is retain: it is left in place".to_string()),
            diffs: Vec::new(),
            depends_on: rec.deps.clone(),
            step: Step::Down { forget },
        });
    }

    // Generations replaced earlier whose delete has not happened yet.
    for (id, rec) in &state.resources {
        if !selected.contains(id.as_str()) {
            continue;
        }
        for old in &rec.retired {
            changes.push(Change {
                id: id.clone(),
                kind: rec.kind.clone(),
                provider: providers.get(id, &rec.kind)?.provider().to_string(),
                action: Action::Delete,
                delete_first: false,
                generation: Some(old.generation),
                reason: Some(format!("generation {} was replaced", old.generation)),
                diffs: Vec::new(),
                depends_on: rec.deps.clone(),
                step: Step::Retire {
                    generation: Some(old.generation),
                },
            });
        }
    }

    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete | Action::Forget => summary.delete += 1,
            Action::Noop => summary.unchanged += 1,
        }
    }
    Ok(Plan {
        app: stack.app().to_string(),
        stage: stack.stage().to_string(),
        changes,
        bindings: stack.bindings().to_vec(),
        summary,
        drift: Vec::new(),
    })
}

pub(crate) fn context(stack: &Stack, id: &str, generation: u64) -> Context {
    Context {
        app: stack.app().to_string(),
        stage: stack.stage().to_string(),
        id: id.to_string(),
        generation,
    }
}

/// The resources a targeted plan may touch; everything when there are no targets.
fn select<'a>(
    stack: &'a Stack,
    state: &'a Snapshot,
    options: &PlanOptions,
) -> Result<HashSet<&'a str>> {
    let all = || {
        stack
            .resources()
            .iter()
            .map(|d| d.id.as_str())
            .chain(state.resources.keys().map(String::as_str))
    };
    if options.targets.is_empty() {
        return Ok(all().collect());
    }
    let known: HashSet<&str> = all().collect();
    let mut selected = HashSet::new();
    let mut todo: Vec<&str> = Vec::new();
    for t in &options.targets {
        match known.get(t.as_str()) {
            Some(id) => todo.push(id),
            None => {
                return Err(Error::Config(format!(
                    "--target `{t}` is neither in the stack nor in state"
                )))
            }
        }
    }
    // A deploy of a target needs what it depends on; a destroy of one, what depends on it.
    while let Some(id) = todo.pop() {
        if !selected.insert(id) {
            continue;
        }
        if options.destroy {
            for (other, rec) in &state.resources {
                if rec.deps.iter().any(|d| d == id) {
                    todo.push(other);
                }
            }
        } else if let Some(def) = stack.get(id) {
            todo.extend(def.deps.iter().map(String::as_str));
        }
    }
    Ok(selected)
}

pub(crate) struct Resolved {
    pub value: Value,
    /// False if some reference is not known yet (it shows as `(known after apply)`).
    pub complete: bool,
}

/// Replaces references by the outputs they point to, where known.
pub(crate) fn resolve(id: &str, props: &Value, known: &HashMap<&str, &Value>) -> Result<Resolved> {
    let mut complete = true;
    let value = resolve_value(id, props, known, &mut complete)?;
    Ok(Resolved { value, complete })
}

fn resolve_value(
    id: &str,
    v: &Value,
    known: &HashMap<&str, &Value>,
    complete: &mut bool,
) -> Result<Value> {
    if let Some((target, path)) = as_ref(v) {
        return match known.get(target) {
            Some(output) => match lookup(output, path) {
                Some(found) => Ok(found.clone()),
                None => Err(Error::UnknownOutput {
                    id: id.to_string(),
                    target: target.to_string(),
                    path: path.to_string(),
                    available: match output {
                        Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
                        _ => "none".into(),
                    },
                }),
            },
            None => {
                *complete = false;
                Ok(Value::String(UNKNOWN.into()))
            }
        };
    }
    Ok(match v {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| resolve_value(id, x, known, complete))
                .collect::<Result<_>>()?,
        ),
        Value::Object(map) if map.values().any(has_ref) => Value::Object(
            map.iter()
                .map(|(k, x)| Ok((k.clone(), resolve_value(id, x, known, complete)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn has_ref(v: &Value) -> bool {
    let mut found = BTreeSet::new();
    crate::resource::references(v, &mut found);
    !found.is_empty()
}
