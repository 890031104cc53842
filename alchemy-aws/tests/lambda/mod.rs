//! What the Lambda control-plane tests share: an app whose service binds a bucket, the echo
//! function's binary, and its actions and outputs.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use alchemy::bucket::Bucket;
use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy::plan::{Action, Plan};
use alchemy::state::{MemoryBackend, StateBackend};
use alchemy::{Init, Service};

pub const STAGE: &str = "test";

pub static PHOTOS: Bucket = Bucket::new("photos");

pub fn handler() -> BoxHandler {
    BoxHandler::new(handler_fn(|_: http::Request<ByteStream>| async {
        http::Response::new(ByteStream::from("served on Lambda by the bootstrap"))
    }))
}

/// Binds the bucket for reading and writing.
pub struct Writer;

impl Service for Writer {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind(&PHOTOS).await?;
        Ok(handler())
    }
}

/// Binds the same bucket for reading only.
pub struct Reader;

impl Service for Reader {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        ctx.bind_read_only(&PHOTOS).await?;
        Ok(handler())
    }
}

/// The `lambda_echo` example, built next to this test.
pub fn echo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let examples = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps")
        .join("examples");
    let echo = examples.join("lambda_echo");
    assert!(
        echo.is_file(),
        "{} is missing: run the tests with `cargo test -p alchemy-aws --all-features`, which \
         builds the examples, or build it with `cargo build -p alchemy-aws --example lambda_echo`",
        echo.display()
    );
    echo
}

/// A fresh directory for one test's state and binaries.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alchemy-lambda-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A copy of the echo binary at `dir/bootstrap`, with `extra` bytes appended (an ELF file
/// runs the same with trailing bytes, but its zip and digest differ).
pub fn bootstrap_in(dir: &Path, extra: &[u8]) -> PathBuf {
    let mut bytes = std::fs::read(echo_binary()).expect("read the echo binary");
    bytes.extend_from_slice(extra);
    let path = dir.join("bootstrap");
    std::fs::write(&path, bytes).expect("write the bootstrap");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

pub fn actions(plan: &Plan) -> Vec<(String, Action)> {
    let mut actions: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .map(|c| (c.id.clone(), c.action))
        .collect();
    actions.sort_by(|a, b| a.0.cmp(&b.0));
    actions
}

pub fn all(ids: &[&str], action: Action) -> Vec<(String, Action)> {
    let mut all: Vec<_> = ids.iter().map(|id| (id.to_string(), action)).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

pub async fn output<T: serde::de::DeserializeOwned>(backend: &MemoryBackend, id: &str) -> T {
    let state = backend.load().await.unwrap().unwrap();
    let output = state.resources[id].output.clone().expect("an output");
    serde_json::from_value(output).expect("the kind's output")
}
