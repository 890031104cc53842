//! Refresh: what the providers say about the recorded resources now, folded into the state
//! before planning, so that drift shows in the plan and a deploy sets it back.

use serde::Serialize;

use super::diff::{self, PropDiff};
use super::{context, select, PlanOptions};
use crate::error::Result;
use crate::provider::Providers;
use crate::stack::Stack;
use crate::state::{Snapshot, Status};

/// A difference between state and the live resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// The logical id.
    pub id: String,
    /// The resource kind.
    pub kind: String,
    /// What changed outside Alchemy.
    #[serde(flatten)]
    pub change: DriftChange,
}

/// What changed about a resource outside Alchemy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum DriftChange {
    /// It no longer exists.
    Gone,
    /// Its settings differ from the recorded ones.
    Changed {
        /// Recorded (`old`) against live (`new`) values; secrets shown as `[secret]`.
        diffs: Vec<PropDiff>,
    },
}

/// Reads every selected resource recorded as created from its provider and updates `state`
/// with what is live: a resource that is gone is dropped from state (the plan then creates it
/// again, if it is still wanted), and changed settings replace the recorded ones (the plan
/// then sets them back). Returns the drift found, in state order.
pub async fn refresh(
    stack: &Stack,
    state: &mut Snapshot,
    providers: &Providers,
    options: &PlanOptions,
) -> Result<Vec<Drift>> {
    let selected: std::collections::HashSet<String> = select(stack, state, options)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut drift = Vec::new();
    let ids: Vec<String> = state.resources.keys().cloned().collect();
    for id in ids {
        let rec = &state.resources[&id];
        if rec.status != Status::Created || !selected.contains(&id) {
            continue;
        }
        let Some(output) = rec.output.clone() else {
            continue;
        };
        let provider = providers.get(&id, &rec.kind)?;
        let ctx = context(stack, &id, rec.generation);
        match provider.refresh(&ctx, &rec.props, &output).await? {
            None => {
                drift.push(Drift {
                    id: id.clone(),
                    kind: rec.kind.clone(),
                    change: DriftChange::Gone,
                });
                state.resources.remove(&id);
            }
            Some((props, live)) => {
                let diffs = diff::between(&rec.props, &props);
                if !diffs.is_empty() {
                    drift.push(Drift {
                        id: id.clone(),
                        kind: rec.kind.clone(),
                        change: DriftChange::Changed { diffs },
                    });
                }
                let rec = state.resources.get_mut(&id).expect("listed above");
                rec.props = props;
                rec.output = Some(live);
            }
        }
    }
    Ok(drift)
}
