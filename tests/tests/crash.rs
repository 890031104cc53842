//! A deploy killed with SIGKILL at any point leaves state from which the next deploy converges:
//! every resource exists exactly once, nothing is orphaned, and the state is valid.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alchemy_tests::cloud::DirCloud;
use common::{expected, Sandbox};

const TRIALS: usize = 64;
const DELAY_MS: u64 = 2;

/// The logical id of a thing from its physical name (`crash-dev-ID` or `crash-dev-ID-gN`).
fn logical(name: &str) -> String {
    let id = name
        .strip_prefix("crash-dev-")
        .expect("a thing of this app");
    match id.rsplit_once("-g") {
        Some((base, g)) if g.chars().all(|c| c.is_ascii_digit()) => base.to_string(),
        _ => id.to_string(),
    }
}

/// Checks the cloud against what `version` wants, and the state against the cloud.
fn converged(sandbox: &Sandbox, version: u32, trial: usize) {
    let want = expected(version);
    let cloud = DirCloud::list(&sandbox.cloud());
    let mut per_id: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for name in cloud.keys() {
        per_id.entry(logical(name)).or_default().push(name);
    }
    for (id, names) in &per_id {
        assert_eq!(
            names.len(),
            1,
            "trial {trial}: `{id}` exists more than once: {names:?}"
        );
    }
    let ids: BTreeSet<&String> = per_id.keys().collect();
    assert_eq!(
        ids,
        want.keys().collect(),
        "trial {trial}: the cloud holds exactly what the stack wants"
    );
    let outputs = sandbox.outputs();
    assert_eq!(
        outputs.len(),
        want.len(),
        "trial {trial}: state has every resource and no other"
    );
    for (id, size) in &want {
        let out = &outputs[id];
        let name = out["name"].as_str().unwrap();
        assert_eq!(
            cloud.get(name),
            Some(size),
            "trial {trial}: `{id}` is {name} with size {size}"
        );
        assert_eq!(out["size"].as_u64(), Some(*size));
    }
    // Nothing is left to do.
    let out = match version {
        0 => sandbox.run(1, &["plan", "--destroy", "--detailed-exitcode"]),
        v => sandbox.run(v, &["plan", "--detailed-exitcode"]),
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "trial {trial}: a converged stage plans no changes:\n{}",
        common::text(&out.stdout)
    );
}

/// How many checkpoints the journal holds now.
fn checkpoints(sandbox: &Sandbox) -> usize {
    let journal = std::fs::read(sandbox.stage_dir().join("journal.jsonl")).unwrap_or_default();
    journal.iter().filter(|b| **b == b'\n').count()
}

#[test]
fn killed_deploys_converge() {
    // Deploy, update, replace everything, destroy; again and again. With each: how many
    // checkpoints it writes uninterrupted (two per step; a replace adds its clean-up).
    let ops: [(u32, &[&str], usize); 4] = [
        (1, &["deploy", "--yes", "--concurrency", "2"], 26),
        (2, &["deploy", "--yes", "--concurrency", "2"], 28),
        (3, &["deploy", "--yes", "--concurrency", "2"], 39),
        (0, &["destroy", "--yes", "--concurrency", "2"], 26),
    ];
    let sandbox = Sandbox::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut interrupted = 0;
    let mut kill_points = BTreeSet::new();
    for trial in 0..TRIALS {
        let (version, args, total) = ops[trial % ops.len()];
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Kill once the deploy has written `target` checkpoints: anywhere from before its first
        // provider call to just before its last one.
        let target = (seed >> 33) as usize % total;
        let mut child = sandbox.spawn(version.max(1), args, DELAY_MS);
        while checkpoints(&sandbox) < target && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            interrupted += 1;
        }
        child.wait().unwrap();
        kill_points.insert((trial % ops.len(), checkpoints(&sandbox)));

        sandbox.ok(version.max(1), args);
        converged(&sandbox, version, trial);
    }
    assert!(
        interrupted >= 50,
        "only {interrupted} of {TRIALS} trials interrupted a deploy"
    );
    assert!(
        kill_points.len() >= 20,
        "kills landed at only {} distinct points",
        kill_points.len()
    );
    println!(
        "{interrupted} of {TRIALS} deploys killed, at {} distinct points",
        kill_points.len()
    );
}

#[test]
fn a_second_deploy_on_locked_state_fails_fast_and_harms_nothing() {
    let sandbox = Sandbox::new();
    let mut slow = sandbox.spawn(1, &["deploy", "--yes", "--concurrency", "1"], 150);
    // Wait until the slow deploy holds the lease and has begun.
    let journal = sandbox.stage_dir().join("journal.jsonl");
    while !journal.exists() {
        assert!(
            slow.try_wait().unwrap().is_none(),
            "the slow deploy ended before the second started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = sandbox.run(1, &["deploy", "--yes"]);
    assert_eq!(second.status.code(), Some(5), "exit code 5 means locked");
    let err = common::text(&second.stderr);
    assert!(
        err.contains("the state of stage `dev` is locked by"),
        "{err}"
    );
    assert!(
        err.contains("state unlock"),
        "the message says what to do: {err}"
    );
    assert!(
        slow.wait().unwrap().success(),
        "the first deploy is not disturbed"
    );
    converged(&sandbox, 1, 0);
}
