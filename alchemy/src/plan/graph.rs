//! Dependency order, and the cycle that prevents one.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::{Error, Result};
use crate::resource::ResourceDef;
use crate::state::Snapshot;

/// Indices of `defs` with every resource after its dependencies, ties in the order given.
pub(crate) fn topological(defs: &[&ResourceDef]) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    let mut missing = vec![0usize; defs.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); defs.len()];
    for (i, def) in defs.iter().enumerate() {
        for dep in &def.deps {
            if let Some(&j) = index.get(dep.as_str()) {
                missing[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..defs.len()).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(defs.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &k in &dependents[i] {
            missing[k] -= 1;
            if missing[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    if order.len() < defs.len() {
        let left: HashSet<usize> = (0..defs.len()).filter(|&i| missing[i] > 0).collect();
        return Err(Error::Cycle {
            cycle: find_cycle(defs, &index, &left),
        });
    }
    Ok(order)
}

/// A cycle among `left` (the nodes a topological sort could not place), as ids.
fn find_cycle(
    defs: &[&ResourceDef],
    index: &HashMap<&str, usize>,
    left: &HashSet<usize>,
) -> Vec<String> {
    // Every node left has a dependency that is left too: walk those until a node repeats.
    let mut start = *left.iter().min().expect("a cycle leaves nodes");
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut path = Vec::new();
    loop {
        if let Some(&at) = seen.get(&start) {
            let mut cycle: Vec<String> = path[at..]
                .iter()
                .map(|&i: &usize| defs[i].id.clone())
                .collect();
            cycle.push(defs[start].id.clone());
            return cycle;
        }
        seen.insert(start, path.len());
        path.push(start);
        start = defs[start]
            .deps
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .find(|j| left.contains(j))
            .expect("a node left by the sort has a dependency left too");
    }
}

/// `ids` (recorded resources) ordered for deletion: whatever depends on a resource goes first.
pub(crate) fn reverse_order<'a>(state: &'a Snapshot, ids: &[&'a String]) -> Vec<&'a String> {
    let set: HashSet<&str> = ids.iter().map(|s| s.as_str()).collect();
    let mut visited = HashSet::new();
    let mut order = Vec::with_capacity(ids.len());
    // Depth-first: a resource is placed after everything it depends on; the result is reversed.
    fn visit<'a>(
        id: &'a String,
        state: &'a Snapshot,
        set: &HashSet<&str>,
        visited: &mut HashSet<&'a str>,
        order: &mut Vec<&'a String>,
    ) {
        if !visited.insert(id.as_str()) {
            return;
        }
        if let Some(rec) = state.resources.get(id) {
            for dep in &rec.deps {
                if set.contains(dep.as_str()) {
                    if let Some((key, _)) = state.resources.get_key_value(dep) {
                        visit(key, state, set, visited, order);
                    }
                }
            }
        }
        order.push(id);
    }
    for id in ids {
        visit(id, state, &set, &mut visited, &mut order);
    }
    order.reverse();
    order
}
