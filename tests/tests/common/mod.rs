//! Running the test app as a real process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// A working directory with its own cloud and state.
pub struct Sandbox {
    /// Kept alive for the test's duration.
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn cloud(&self) -> PathBuf {
        self.dir.path().join("cloud")
    }

    pub fn stage_dir(&self) -> PathBuf {
        self.dir.path().join(".alchemy").join("dev")
    }

    /// The app as a command: `VERSION=version crash-app args...`.
    pub fn command(&self, version: u32, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_crash-app"));
        c.current_dir(self.dir.path())
            .env("CLOUD_DIR", self.cloud())
            .env("VERSION", version.to_string())
            .env_remove("ALCHEMY_PASSPHRASE")
            .env_remove("ALCHEMY_SECRET_KEY")
            .env_remove("ALCHEMY_STAGE")
            .env_remove("ALCHEMY_STATE_DIR")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, version: u32, args: &[&str]) -> Output {
        self.command(version, args).output().expect("the app runs")
    }

    pub fn spawn(&self, version: u32, args: &[&str], delay_ms: u64) -> Child {
        self.command(version, args)
            .env("DELAY_MS", delay_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the app starts")
    }

    /// Runs and insists on exit code 0.
    pub fn ok(&self, version: u32, args: &[&str]) -> String {
        succeeded(args, &self.run(version, args))
    }

    /// The files of the stage's state (snapshot, backup, journal; not the lease), with their bytes.
    pub fn state_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = files(&self.stage_dir());
        files.retain(|name, _| name.starts_with("state.json") || name.starts_with("journal"));
        files
    }

    /// The outputs of every resource, from `outputs --json`.
    pub fn outputs(&self) -> BTreeMap<String, Value> {
        let out = self.ok(1, &["outputs", "--json"]);
        serde_json::from_str(&out).expect("outputs are JSON")
    }
}

pub mod aws;
pub mod cloudflare;
pub mod dev;
pub mod links;
pub mod photos;

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The standard output of the run of `args` that gave `out`, which must have succeeded.
pub fn succeeded(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "{args:?} failed with {}:\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The logical ids and sizes each version of the test app wants.
pub fn expected(version: u32) -> BTreeMap<String, u64> {
    let ids: Vec<usize> = match version {
        0 => vec![],
        1 | 3 => (0..12).collect(),
        _ => (0..11).chain([12]).collect(),
    };
    let bump = if version >= 2 { 100 } else { 0 };
    let mut m: BTreeMap<String, u64> = ids
        .into_iter()
        .map(|i| (format!("t{i}"), i as u64 + bump))
        .collect();
    if version > 0 {
        m.insert("api".into(), 2);
    }
    m
}
