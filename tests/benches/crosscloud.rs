//! Deploy wall time of photo-share's `crosscloud` stage (the Worker and its Durable Objects on a
//! `LocalCloudflare`, the bucket, IAM user and access key on MiniStack) against the ideal: the
//! longest dependency path of the deploy, each step weighted by the duration the engine
//! measured for it (`steps[].millis` of `deploy --json`).
//!
//! Each round deploys a fresh state and destroys it after. Printed per round: the whole deploy
//! (the process: load, build check, plan, apply, commit), the plan alone (`plan --json` in its own
//! process), the engine's apply (`apply_millis`: every step and the final commit), the critical
//! path and the ratios, and the path itself.
//!
//! `cargo bench -p alchemy-tests --bench crosscloud` (needs the wasm toolchain:
//! `bash scripts/wasm-toolchain.sh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alchemy_aws::testing::Emulator;
use alchemy_cloudflare::testing::LocalCloudflare;
use serde_json::Value;

const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");
const STAGE: &str = "crosscloud";
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROUNDS: usize = 5;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share")
}

/// Runs photo-share with `args` against both clouds, state in `state`; must succeed.
fn run(aws: &Emulator, cloudflare: &LocalCloudflare, state: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(PHOTO_SHARE);
    command
        .current_dir(example_dir())
        .env("ALCHEMY_STATE_DIR", state)
        .env("ALCHEMY_SECRET_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT_URL", aws.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", alchemy_aws::testing::REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("ALCHEMY_CONFIG")
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_PASSPHRASE")
        .args(args)
        .stdin(Stdio::null());
    for (name, value) in cloudflare.env() {
        command.env(name, value);
    }
    let out = command.output().expect("photo-share runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The longest dependency path of a deploy report, weighted by each step's duration: its
/// length and its steps, first to last.
fn critical_path(report: &Value) -> (Duration, Vec<(String, u64)>) {
    let millis: BTreeMap<&str, u64> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["millis"].as_u64().unwrap()))
        .collect();
    // Changes are listed in dependency order: each one's longest path ending at it is its own
    // duration after the longest of its dependencies'.
    let mut best: BTreeMap<String, (u64, Option<String>)> = BTreeMap::new();
    for change in report["plan"]["changes"].as_array().expect("changes") {
        let id = change["id"].as_str().unwrap();
        let own = millis.get(id).copied().unwrap_or(0);
        let before = change["depends_on"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|d| best.get(d).map(|(len, _)| (*len, d.to_owned())))
            .max();
        let (len, prev) = match before {
            Some((len, d)) => (len + own, Some(d)),
            None => (own, None),
        };
        best.insert(id.to_owned(), (len, prev));
    }
    let Some((end, (total, _))) = best.iter().max_by_key(|(_, (len, _))| *len) else {
        return (Duration::ZERO, Vec::new());
    };
    let mut path = Vec::new();
    let mut at = Some(end.clone());
    while let Some(id) = at {
        path.push((id.clone(), millis.get(id.as_str()).copied().unwrap_or(0)));
        at = best[&id].1.clone();
    }
    path.reverse();
    (Duration::from_millis(*total), path)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let aws = Emulator::ministack().await.expect("MiniStack starts");
    let cloudflare = LocalCloudflare::start(dir.path().join("cloudflare"))
        .await
        .expect("the local Cloudflare target starts");

    // Warm the Worker's build, so that every round plans against the same built bundle.
    let warm = dir.path().join("warm");
    run(&aws, &cloudflare, &warm, &["plan", "--stage", STAGE]);

    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let state = dir.path().join(format!("state-{round}"));
        let started = Instant::now();
        run(
            &aws,
            &cloudflare,
            &state,
            &["plan", "--stage", STAGE, "--json"],
        );
        let plan = started.elapsed();
        let started = Instant::now();
        let out = run(
            &aws,
            &cloudflare,
            &state,
            &["deploy", "--yes", "--stage", STAGE, "--json"],
        );
        let wall = started.elapsed();
        let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
        let (critical, path) = critical_path(&report);
        let apply = Duration::from_millis(report["apply_millis"].as_u64().expect("apply_millis"));
        let shown: Vec<String> = path
            .iter()
            .map(|(id, ms)| format!("{id} ({ms} ms)"))
            .collect();
        eprintln!(
            "round {}: deploy {}, plan {}, apply {}, critical path {} ({}), apply / critical {:.2}x",
            round + 1,
            secs(wall),
            secs(plan),
            secs(apply),
            secs(critical),
            shown.join(" -> "),
            apply.as_secs_f64() / critical.as_secs_f64().max(1e-3),
        );
        rounds.push((wall, plan, apply, critical, shown));
        run(
            &aws,
            &cloudflare,
            &state,
            &["destroy", "--yes", "--stage", STAGE],
        );
    }

    rounds.sort_by_key(|r| r.0);
    let (wall, plan, apply, critical, path) = &rounds[rounds.len() / 2];
    println!("crosscloud deploy, median of {ROUNDS} rounds:");
    println!("  whole deploy     {}", secs(*wall));
    println!("  plan alone       {}", secs(*plan));
    println!("  engine's apply   {}", secs(*apply));
    println!("  critical path    {}", secs(*critical));
    println!("  path             {}", path.join(" -> "));
    println!(
        "  ratio            apply / critical {:.2}x, whole deploy / critical {:.2}x",
        apply.as_secs_f64() / critical.as_secs_f64().max(1e-3),
        wall.as_secs_f64() / critical.as_secs_f64().max(1e-3)
    );
}
