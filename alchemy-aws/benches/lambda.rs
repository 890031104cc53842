//! The Lambda bootstrap: how big photo-share's `bootstrap` zip is and how long the function
//! takes to start in MiniStack, against a minimal `lambda_runtime` function (the
//! `lambda_hello` example) packaged and deployed the same way, in the same run.
//!
//! Run with `cargo bench -p alchemy-aws --bench lambda`. Both binaries are release builds:
//! the bench uses `target/release/photo-share` and `target/release/examples/lambda_hello`
//! when they are there, and builds them (`cargo build --release ...`, timed) when they are
//! not. Each is stripped of its debug information as a deploy strips it (`objcopy
//! --strip-debug`), packaged with `bootstrap::package` and, for several rounds, deployed as a
//! new function, invoked once cold and a few times warm, and deleted. The cold start is the
//! first invocation's wall time minus the median warm one's; MiniStack's own `Init Duration`
//! is shown when the function's log tail reports one. The tables it prints are Markdown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alchemy::provider::{Context, Provider};
use alchemy_aws::control::bootstrap::{self, Package};
use alchemy_aws::control::{lambda_trust_policy, LambdaFunctionProps, LambdaFunctionProvider};
use alchemy_aws::testing::Emulator;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use base64::Engine as _;
use serde_json::json;

const ROUNDS: usize = 5;
const WARM: usize = 3;

/// One function under test: its release binary and what it needs to serve.
struct Subject {
    name: &'static str,
    exe: PathBuf,
    build_secs: Option<f64>,
    environment: Vec<(&'static str, &'static str)>,
}

/// What one subject measured.
struct Measured {
    raw: u64,
    stripped: u64,
    zip: u64,
    first_ms: Vec<f64>,
    cold_ms: Vec<f64>,
    warm_ms: Vec<f64>,
    init_ms: Vec<f64>,
}

/// `target/release`, beside the profile directory this bench binary was built in.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench binary");
    exe.ancestors()
        .nth(3)
        .expect("the bench binary is in target/<profile>/deps")
        .join("release")
}

/// `path`, built with `cargo build --release ARGS` first if it is missing; the build's
/// seconds when it had to run.
fn built(path: PathBuf, args: &[&str]) -> (PathBuf, Option<f64>) {
    if path.is_file() {
        return (path, None);
    }
    eprintln!(
        "building {} (cargo build --release {})",
        path.display(),
        args.join(" ")
    );
    let started = Instant::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .arg("--release")
        .args(args)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "cargo build --release {} failed",
        args.join(" ")
    );
    assert!(path.is_file(), "{} was not built", path.display());
    (path, Some(started.elapsed().as_secs_f64()))
}

/// A copy of `exe` at `dir/bootstrap` without debug information, as deploys strip it.
fn stripped(exe: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("bootstrap");
    let status = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(exe)
        .arg(&out)
        .status()
        .expect("objcopy is missing: install binutils (apt-get install binutils)");
    assert!(
        status.success(),
        "objcopy --strip-debug {} failed",
        exe.display()
    );
    out
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// An API Gateway v2 `GET /` event, as a function URL sends it.
fn event() -> Blob {
    Blob::new(
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": { "host": "bench.example" },
            "requestContext": { "http": { "method": "GET", "path": "/" } },
            "isBase64Encoded": false,
        })
        .to_string(),
    )
}

/// Invokes `function`; the wall time, and the `Init Duration` of its log tail if any.
async fn invoke(lambda: &aws_sdk_lambda::Client, function: &str) -> (Duration, Option<f64>) {
    let started = Instant::now();
    let out = lambda
        .invoke()
        .function_name(function)
        .log_type(LogType::Tail)
        .payload(event())
        .send()
        .await
        .expect("invoke");
    let elapsed = started.elapsed();
    let payload = out
        .payload()
        .map(|p| p.as_ref().to_vec())
        .unwrap_or_default();
    assert_eq!(
        out.function_error(),
        None,
        "{function} failed: {}",
        String::from_utf8_lossy(&payload)
    );
    let response: serde_json::Value = serde_json::from_slice(&payload).expect("a JSON response");
    assert_eq!(response["statusCode"], 200, "{function}: {response}");
    let init = out
        .log_result()
        .and_then(|log| base64::engine::general_purpose::STANDARD.decode(log).ok())
        .and_then(|log| init_duration(&String::from_utf8_lossy(&log)));
    (elapsed, init)
}

/// The `Init Duration: N ms` of a Lambda `REPORT` line.
fn init_duration(log: &str) -> Option<f64> {
    let rest = log.split("Init Duration:").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(emulator: &Emulator, role_arn: &str, subject: &Subject, dir: &Path) -> Measured {
    let dir = dir.join(subject.name);
    std::fs::create_dir_all(&dir).expect("a directory for the package");
    let exe = stripped(&subject.exe, &dir);
    let package: Package = bootstrap::package(&exe, &dir.join("out")).expect("package");
    let functions = LambdaFunctionProvider::from_sdk_config(&emulator.sdk_config());
    let lambda = aws_sdk_lambda::Client::new(&emulator.sdk_config());
    let mut props = LambdaFunctionProps::new(role_arn.to_owned(), &package);
    props.memory_mb = 512;
    for (k, v) in &subject.environment {
        props.environment.insert((*k).into(), (*v).into());
    }
    let mut measured = Measured {
        raw: size(&subject.exe),
        stripped: size(&exe),
        zip: package.size,
        first_ms: Vec::new(),
        cold_ms: Vec::new(),
        warm_ms: Vec::new(),
        init_ms: Vec::new(),
    };
    for round in 0..ROUNDS {
        // A new function each round: its first invocation starts the process.
        let ctx = Context {
            app: "bench".into(),
            stage: "lambda".into(),
            id: format!("{}-{round}", subject.name),
            generation: 0,
        };
        let function = functions
            .create(&ctx, &props)
            .await
            .expect("create the function");
        let (cold, init) = invoke(&lambda, &function.name).await;
        let mut warm = Vec::new();
        for _ in 0..WARM {
            warm.push(ms(invoke(&lambda, &function.name).await.0));
        }
        let warm = median(&warm);
        measured.first_ms.push(ms(cold));
        measured.cold_ms.push(ms(cold) - warm);
        measured.warm_ms.push(warm);
        measured.init_ms.extend(init);
        functions
            .delete(&ctx, &props, &function)
            .await
            .expect("delete the function");
    }
    measured
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let release = release_dir();
    let (photo_share, photo_share_build) =
        built(release.join("photo-share"), &["-p", "photo-share"]);
    let (hello, hello_build) = built(
        release.join("examples/lambda_hello"),
        &["-p", "alchemy-aws", "--example", "lambda_hello"],
    );
    let subjects = [
        Subject {
            name: "photo-share",
            exe: photo_share,
            build_secs: photo_share_build,
            environment: vec![
                ("ALCHEMY_SERVICE", "api"),
                ("ALCHEMY_BUCKET_PHOTOS", "bench-photos"),
                ("ALCHEMY_ACTORS_ROOMS", "bench-rooms"),
                ("ALCHEMY_ACTORS_COUNTERS", "bench-counters"),
            ],
        },
        Subject {
            name: "lambda_hello",
            exe: hello,
            build_secs: hello_build,
            environment: Vec::new(),
        },
    ];

    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config());
    let role = iam
        .create_role()
        .role_name("bench-lambda")
        .assume_role_policy_document(lambda_trust_policy())
        .send()
        .await
        .expect("create the role");
    let role_arn = role.role().expect("a role").arn().to_owned();
    let dir = std::env::temp_dir().join(format!("alchemy-bench-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");

    let mut results = Vec::new();
    for subject in &subjects {
        results.push(measure(&emulator, &role_arn, subject, &dir).await);
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("| function | release binary | stripped | zip | first invocation (median of {ROUNDS}) | warm invocation | cold start (first − warm) | MiniStack Init Duration | release build |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (subject, m) in subjects.iter().zip(&results) {
        let init = if m.init_ms.is_empty() {
            "not reported".to_owned()
        } else {
            format!("{:.0} ms", median(&m.init_ms))
        };
        let build = subject
            .build_secs
            .map_or_else(|| "reused".to_owned(), |s| format!("{s:.0} s"));
        println!(
            "| {} | {} | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {init} | {build} |",
            subject.name,
            mib(m.raw),
            mib(m.stripped),
            mib(m.zip),
            median(&m.first_ms),
            median(&m.warm_ms),
            median(&m.cold_ms),
        );
    }
    let (app, base) = (&results[0], &results[1]);
    println!();
    println!(
        "photo-share / lambda_hello: release binary {:.1}×, stripped {:.1}×, zip {:.1}×, first invocation {:.1}×",
        app.raw as f64 / base.raw as f64,
        app.stripped as f64 / base.stripped as f64,
        app.zip as f64 / base.zip as f64,
        median(&app.first_ms) / median(&base.first_ms),
    );
    for (subject, m) in subjects.iter().zip(&results) {
        let rounds: Vec<String> = m.cold_ms.iter().map(|c| format!("{c:.0}")).collect();
        println!(
            "{} first minus later invocations by round (ms): {}",
            subject.name,
            rounds.join(", ")
        );
    }
}
