//! Running an example app's command line against a `LocalCloudflare` (the checking v4 API
//! server joined with real workerd), and reaching the Worker it deploys.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use alchemy_cloudflare::testing::LocalCloudflare;
use serde_json::Value;

use super::text;

/// Runs `exe args` in `dir` (the example's directory: its `alchemy.toml` names the crate as
/// `.`) against `cloudflare`, its state under `state`, with no stray stage settings.
pub fn run(
    exe: &str,
    dir: &Path,
    cloudflare: &LocalCloudflare,
    state: &Path,
    args: &[&str],
) -> Output {
    let mut command = Command::new(exe);
    command
        .current_dir(dir)
        .env("ALCHEMY_STATE_DIR", state)
        .env_remove("ALCHEMY_CONFIG")
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_PASSPHRASE")
        .env_remove("ALCHEMY_SECRET_KEY")
        .args(args)
        .stdin(Stdio::null());
    for (name, value) in cloudflare.env() {
        command.env(name, value);
    }
    command.output().expect("the app runs")
}

/// [`run`], which must succeed; its standard output.
pub fn ok(
    exe: &str,
    dir: &Path,
    cloudflare: &LocalCloudflare,
    state: &Path,
    args: &[&str],
) -> String {
    let out = run(exe, dir, cloudflare, state, args);
    assert!(
        out.status.success(),
        "{args:?} failed with {}:\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `deploy --yes --stage STAGE --json`, and the local base URL (no trailing `/`) of the
/// workers.dev URL the service `service` reports.
pub fn deploy(
    exe: &str,
    dir: &Path,
    cloudflare: &LocalCloudflare,
    state: &Path,
    stage: &str,
    service: &str,
) -> String {
    let deployed: Value = serde_json::from_str(&ok(
        exe,
        dir,
        cloudflare,
        state,
        &["deploy", "--yes", "--stage", stage, "--json"],
    ))
    .expect("the deploy report is JSON");
    let url = deployed["outputs"][service]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no workers.dev URL of `{service}` in {deployed}"));
    let base = cloudflare
        .resolve(url)
        .unwrap_or_else(|| panic!("{url} does not resolve to a running Worker"));
    base.trim_end_matches('/').to_owned()
}

/// `plan --stage STAGE --detailed-exitcode` says nothing changes (exit 0), and the one
/// running Worker was not restarted by it.
pub fn plan_changes_nothing(
    exe: &str,
    dir: &Path,
    cloudflare: &LocalCloudflare,
    state: &Path,
    stage: &str,
) {
    let script = cloudflare
        .running()
        .into_keys()
        .next()
        .expect("one Worker runs");
    let starts = cloudflare.starts(&script);
    let again = run(
        exe,
        dir,
        cloudflare,
        state,
        &["plan", "--stage", stage, "--detailed-exitcode"],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        text(&again.stdout),
        text(&again.stderr)
    );
    assert_eq!(cloudflare.starts(&script), starts);
}

/// `destroy --yes --stage STAGE` leaves no Worker running, no script, no bucket and no
/// Durable Object namespace, and nothing the app sent broke the API's documents.
pub fn destroy_leaves_nothing(
    exe: &str,
    dir: &Path,
    cloudflare: &LocalCloudflare,
    state: &Path,
    stage: &str,
) {
    ok(
        exe,
        dir,
        cloudflare,
        state,
        &["destroy", "--yes", "--stage", stage],
    );
    assert!(cloudflare.running().is_empty());
    let account = cloudflare.api().cloud();
    assert!(account.scripts.is_empty(), "{:?}", account.scripts.keys());
    assert!(account.buckets.is_empty(), "{:?}", account.buckets.keys());
    assert!(account.namespaces.is_empty(), "{:?}", account.namespaces);
    let violations = cloudflare.api().violations();
    assert!(violations.is_empty(), "{violations:#?}");
}
