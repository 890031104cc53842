//! Bad input gives a clear error and leaves the state untouched.

mod common;

use common::{text, Sandbox};

/// Runs `args` expecting exit code 1 with `message` on stderr, and checks the state files did not change.
fn refused(sandbox: &Sandbox, version: u32, extra: &str, args: &[&str], message: &str) {
    let before = sandbox.state_files();
    let out = sandbox
        .command(version, args)
        .env("EXTRA", extra)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} with EXTRA={extra}: {err}"
    );
    assert!(err.contains(message), "expected `{message}` in:\n{err}");
    assert!(
        sandbox.state_files() == before,
        "{args:?}: the state files were changed"
    );
}

/// A sandbox with two deploys behind it, so a backup of the previous state exists.
fn deployed() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.ok(1, &["deploy", "--yes"]);
    sandbox.ok(2, &["deploy", "--yes"]);
    assert!(sandbox.stage_dir().join("state.json.bak").exists());
    sandbox
}

fn edit_state(sandbox: &Sandbox, f: impl FnOnce(&mut serde_json::Value)) {
    let path = sandbox.stage_dir().join("state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn a_truncated_state_file_is_refused_and_the_backup_kept() {
    let sandbox = deployed();
    let path = sandbox.stage_dir().join("state.json");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    for args in [
        &["plan"][..],
        &["deploy", "--yes"],
        &["destroy", "--yes"],
        &["outputs"],
    ] {
        refused(&sandbox, 2, "", args, "state.json is unreadable");
    }
    refused(&sandbox, 2, "", &["plan"], "state.json.bak");
}

#[test]
fn a_malformed_state_file_is_refused() {
    let sandbox = deployed();
    std::fs::write(
        sandbox.stage_dir().join("state.json"),
        b"{\"version\": 1, \"resources\": [oops",
    )
    .unwrap();
    refused(&sandbox, 2, "", &["deploy", "--yes"], "is unreadable");
}

#[test]
fn a_state_file_from_a_newer_format_is_refused() {
    let sandbox = deployed();
    edit_state(&sandbox, |v| v["version"] = 99.into());
    refused(
        &sandbox,
        2,
        "",
        &["deploy", "--yes"],
        "has format version 99, newer than the 1 this version of Alchemy understands",
    );
}

#[test]
fn an_unknown_resource_kind_in_state_is_refused() {
    let sandbox = deployed();
    edit_state(&sandbox, |v| {
        v["resources"]["t5"]["kind"] = "cloud.gizmo".into()
    });
    refused(
        &sandbox,
        2,
        "",
        &["deploy", "--yes"],
        "unknown resource kind `cloud.gizmo` for `t5`",
    );
}

#[test]
fn a_cycle_is_refused_naming_it() {
    let sandbox = deployed();
    refused(
        &sandbox,
        2,
        "cycle",
        &["deploy", "--yes"],
        "dependency cycle: x -> y -> x",
    );
}

#[test]
fn an_invalid_id_is_refused() {
    let sandbox = deployed();
    refused(
        &sandbox,
        2,
        "bad-id",
        &["deploy", "--yes"],
        "invalid id `no spaces`: it contains ` `",
    );
}

#[test]
fn an_invalid_stage_is_refused() {
    let sandbox = deployed();
    refused(
        &sandbox,
        2,
        "",
        &["plan", "--stage", "../etc"],
        "invalid stage `../etc`",
    );
}

#[test]
fn secrets_need_a_key_are_sealed_in_state_and_never_printed() {
    let sandbox = deployed();
    refused(
        &sandbox,
        2,
        "secret",
        &["deploy", "--yes"],
        "this stack has secrets but no key to encrypt them: set ALCHEMY_PASSPHRASE",
    );
    let with_key = |pass: &str, args: &[&str]| {
        sandbox
            .command(2, args)
            .env("EXTRA", "secret")
            .env("ALCHEMY_PASSPHRASE", pass)
            .output()
            .unwrap()
    };
    let plan = with_key("correct horse", &["plan"]);
    assert!(plan.status.success());
    let shown = text(&plan.stdout);
    assert!(shown.contains("+ secret = \"[secret]\""), "{shown}");
    let json = text(&with_key("correct horse", &["plan", "--json"]).stdout);
    assert!(
        json.contains("[secret]") && !json.contains("hunter2"),
        "{json}"
    );

    let deploy = with_key("correct horse", &["deploy", "--yes"]);
    assert!(deploy.status.success(), "{}", text(&deploy.stderr));
    for out in [&deploy.stdout, &deploy.stderr] {
        assert!(!text(out).contains("hunter2"));
    }
    for (name, bytes) in sandbox.state_files() {
        assert!(
            !text(&bytes).contains("hunter2"),
            "{name} holds the secret in the clear"
        );
    }
    let state = text(&sandbox.state_files()["state.json"]);
    assert!(state.contains("$sealed"), "{state}");

    let show = with_key("correct horse", &["state", "show", "t0"]);
    assert!(text(&show.stdout).contains("[secret]") && !text(&show.stdout).contains("hunter2"));

    // The same stage without the key, or with another one, is refused before anything happens.
    refused(&sandbox, 2, "secret", &["plan"], "no key to encrypt them");
    let before = sandbox.state_files();
    let wrong = with_key("wrong horse", &["deploy", "--yes"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("do not open with the configured key"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(
        sandbox.state_files() == before,
        "a refused deploy changed the state files"
    );

    // With the key, the stage is unchanged.
    let again = with_key("correct horse", &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));
}
