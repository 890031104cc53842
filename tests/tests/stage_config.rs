//! `alchemy.toml` mistakes, each refused by the app's command line with an exact message
//! before anything is planned, and with the state left alone.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{text, Sandbox};

/// Runs `exe args` in `dir` with no stage configuration from the environment.
fn run_in(exe: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .current_dir(dir)
        .env("CLOUD_DIR", dir.join("cloud"))
        .env("VERSION", "1")
        .env_remove("ALCHEMY_CONFIG")
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_STATE_DIR")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the app runs")
}

/// Writes `config` as `alchemy.toml` in a fresh sandbox, runs `exe args` there and expects
/// exit code 1 with `error: {message}` as the whole of stderr, and no state written.
fn refused_with(exe: &str, config: &str, args: &[&str], message: &str) {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    std::fs::write(dir.join("alchemy.toml"), config).unwrap();
    let out = run_in(exe, dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr).trim_end(), format!("error: {message}"));
    assert!(!dir.join(".alchemy").exists(), "{args:?} wrote state");
}

const CRASH_APP: &str = env!("CARGO_BIN_EXE_crash-app");
const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");

#[test]
fn a_provider_the_app_does_not_register_names_the_fix() {
    refused_with(
        CRASH_APP,
        "[stages.prod]\nprovider = \"aws\"\n",
        &["plan", "--stage", "prod"],
        "stage `prod` in alchemy.toml uses provider `aws`, which this app does not register (registered: local): add `.cloud(alchemy_aws::Aws)` to the app",
    );
    refused_with(
        CRASH_APP,
        "[stages.edge]\nprovider = \"cloudflare\"\n",
        &["deploy", "--yes", "--stage", "edge"],
        "stage `edge` in alchemy.toml uses provider `cloudflare`, which this app does not register (registered: local): add `.cloud(alchemy_cloudflare::Cloudflare)` to the app",
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_place() {
    refused_with(
        CRASH_APP,
        "[stages.prod]\nprovider = \"local\"\nregion = \"eu-west-1\"\n",
        &["plan", "--stage", "prod"],
        "invalid alchemy.toml at line 3, column 1: unknown field `region`, expected one of `provider`, `settings`, `state`, `place`, `providers`, `allow_unsupported`; a stage is a `[stages.NAME]` table with `provider = \"local\"` (or the name of a cloud the app registers), an optional `[stages.NAME.settings]` table, an optional `[stages.NAME.state]` table saying where its state is kept, an optional `[stages.NAME.place]` table putting resources (by id or kind) on other providers, whose settings go in `[stages.NAME.providers.PROVIDER]`, and an optional `allow_unsupported` list of actor namespaces",
    );
}

#[test]
fn an_unknown_provider_setting_is_refused_by_the_provider() {
    refused_with(
        PHOTO_SHARE,
        "[stages.aws]\nprovider = \"aws\"\n[stages.aws.settings]\nmemory = 256\n",
        &["plan", "--stage", "aws"],
        "invalid settings for the `aws` platform: unknown field `memory`, expected one of `region`, `endpoint_url`, `bootstrap`, `memory_mb`, `timeout_s`, `environment`. The settings are `region`, `endpoint_url`, `bootstrap` (a path), `memory_mb`, `timeout_s` and `environment` (a table of strings)",
    );
}

#[test]
fn a_stage_name_that_is_not_an_id_is_refused() {
    refused_with(
        CRASH_APP,
        "[stages.local]\nprovider = \"local\"\n\n[stages.\"blue green\"]\nprovider = \"local\"\n",
        &["plan"],
        "invalid stage `blue green` in alchemy.toml at line 4: a stage starts with a letter and uses only letters, digits, `-` and `_`",
    );
}

#[test]
fn malformed_toml_is_refused_with_line_and_column() {
    refused_with(
        CRASH_APP,
        "[stages.prod]\nprovider = local\n",
        &["plan", "--stage", "prod"],
        "malformed TOML in alchemy.toml at line 2, column 12: string values must be quoted, expected literal string",
    );
}

#[test]
fn dev_stays_local() {
    refused_with(
        CRASH_APP,
        "[stages.dev]\nprovider = \"aws\"\n",
        &["plan"],
        "stage `dev` in alchemy.toml at line 1 is on `aws`, but `dev` is the local development stage and always runs on the local provider: give that stage another name, such as `aws`",
    );
}

#[test]
fn dev_refuses_a_stage_on_another_provider() {
    refused_with(
        env!("CARGO_BIN_EXE_photo-archive-app"),
        "[stages.aws]\nprovider = \"aws\"\n",
        &["dev", "--stage", "aws"],
        "dev runs an app on the local provider, and stage `aws` is on `aws`: pick a local stage with --stage",
    );
}

#[test]
fn a_config_named_by_flag_or_environment_must_exist() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    let missing = dir.join("nowhere.toml");
    let out = run_in(
        CRASH_APP,
        dir,
        &["plan", "--config", missing.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: cannot read the config file {} (from --config): No such file or directory (os error 2). Point --config or ALCHEMY_CONFIG at an existing alchemy.toml, or leave both unset to run every stage locally",
            missing.display()
        )
    );
    let out = Command::new(CRASH_APP)
        .current_dir(dir)
        .env("CLOUD_DIR", dir.join("cloud"))
        .env("VERSION", "1")
        .env("ALCHEMY_CONFIG", &missing)
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_STATE_DIR")
        .arg("plan")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot read the config file {} (from ALCHEMY_CONFIG)",
            missing.display()
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_flag_and_the_environment_find_a_config_elsewhere() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    let elsewhere = dir.join("conf");
    std::fs::create_dir(&elsewhere).unwrap();
    let file = elsewhere.join("stages.toml");
    std::fs::write(&file, "[stages.prod]\nprovider = \"aws\"\n").unwrap();
    let expected = format!(
        "error: stage `prod` in {} uses provider `aws`, which this app does not register (registered: local): add `.cloud(alchemy_aws::Aws)` to the app",
        file.display()
    );
    let out = run_in(
        CRASH_APP,
        dir,
        &[
            "plan",
            "--stage",
            "prod",
            "--config",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(text(&out.stderr).trim_end(), expected);
    let out = Command::new(CRASH_APP)
        .current_dir(dir)
        .env("CLOUD_DIR", dir.join("cloud"))
        .env("VERSION", "1")
        .env("ALCHEMY_CONFIG", &file)
        .env_remove("ALCHEMY_STAGE")
        .env_remove("ALCHEMY_STATE_DIR")
        .args(["plan", "--stage", "prod"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(text(&out.stderr).trim_end(), expected);
    // A stage the file does not name is on the app's own platform, as without a file.
    let out = run_in(
        CRASH_APP,
        dir,
        &["plan", "--stage", "qa", "--config", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Plan: 13 to create"),
        "{}",
        text(&out.stdout)
    );
}

/// A stage whose state lives in a shared bucket directory: another checkout (another working
/// directory) sees the same state, a held lease blocks its deploy, and `state export` /
/// `state import` move the state to another backend.
#[test]
fn state_in_a_shared_bucket_is_seen_from_every_checkout_and_can_move() {
    let shared = tempfile::tempdir().unwrap();
    let config = format!(
        "[stages.team]\nprovider = \"local\"\n\n[stages.team.state]\nprovider = \"local\"\npath = \"{}\"\nprefix = \"photo-share/team\"\n",
        shared.path().display()
    );
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&alice, &bob] {
        std::fs::write(dir.path().join("alchemy.toml"), &config).unwrap();
    }
    let run = |dir: &tempfile::TempDir, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_photo-share-app"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("ALCHEMY_CONFIG")
            .env_remove("ALCHEMY_STATE_DIR")
            .env_remove("ALCHEMY_STAGE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let deployed = run(&alice, &["deploy", "--stage", "team", "--yes"]);
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    assert!(
        std::fs::read_dir(shared.path()).unwrap().next().is_some(),
        "the state is in the shared bucket"
    );
    assert!(!alice.path().join(".alchemy/team/state.json").exists());

    // Bob's checkout sees Alice's deploy: nothing to do.
    let plan = run(&bob, &["plan", "--stage", "team", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let listed = String::from_utf8_lossy(&run(&bob, &["state", "list", "--stage", "team"]).stdout)
        .into_owned();
    assert!(listed.contains("photos"), "{listed}");

    // Moving the stage to another backend: export, point the config elsewhere, import.
    let exported = run(&alice, &["state", "export", "--stage", "team"]);
    assert!(exported.status.success());
    let file = alice.path().join("team-state.json");
    std::fs::write(&file, &exported.stdout).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = config.replace(
        &shared.path().display().to_string(),
        &elsewhere.path().display().to_string(),
    );
    std::fs::write(alice.path().join("alchemy.toml"), moved).unwrap();
    let imported = run(
        &alice,
        &["state", "import", file.to_str().unwrap(), "--stage", "team"],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        String::from_utf8_lossy(&imported.stdout).contains("Imported 4 resources"),
        "{}",
        String::from_utf8_lossy(&imported.stdout)
    );
    let plan = run(&alice, &["plan", "--stage", "team", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let again = run(
        &alice,
        &["state", "import", file.to_str().unwrap(), "--stage", "team"],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("already has state in local://photo-share/team/: pass --force to replace it"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
