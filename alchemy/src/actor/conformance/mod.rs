//! The conformance suite: one set of tests that every actor provider passes.
//!
//! Each test is a public `async fn` taking a [`Target`]: a namespace of the suite's own
//! [`ConformanceActor`] hosted by the provider under test, and a way to sleep. It panics,
//! naming the provider and what was expected, when the provider misbehaves. [`run_all`] runs
//! every test that the provider's [`Capabilities`](super::Capabilities) allow and reports
//! which ran and which were skipped.
//!
//! Tests use actors of their own (named after the test and a random suffix), so they can
//! share a namespace and run concurrently. None of them has a time limit: tests that wait
//! for an alarm poll until it has fired.
//!
//! ```
//! # #[cfg(feature = "deploy")]
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::actor::conformance::{self, ConformanceActor, Target};
//! use alchemy::actor::Actors;
//! use alchemy::local::actor::{LocalActors, LocalActorsOptions, RetryPolicy};
//! use std::time::Duration;
//!
//! static SUITE: Actors<ConformanceActor> = Actors::new("conformance");
//!
//! # let dir = tempfile::tempdir()?;
//! let retry = RetryPolicy { initial: Duration::from_millis(10), ..RetryPolicy::default() };
//! let local = LocalActors::open(dir.path(), LocalActorsOptions::default().alarm_retry(retry))?;
//! let target = Target::new(local.namespace(&SUITE).await?, tokio::time::sleep);
//! let report = conformance::run_all(&target).await;
//! assert!(report.skipped.is_empty(), "{report}");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "deploy"))]
//! # fn main() {}
//! ```

mod actor;
mod alarms;
mod basics;
mod storage;
mod websockets;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use alchemy_stream::ByteStream;
use http::{Method, Request, StatusCode};

pub use actor::ConformanceActor;
pub use alarms::{alarm_fires, alarm_replace_and_delete, alarm_retried_after_failure};
pub use basics::{
    concurrent_increments, counter, distinct_actors, handler_errors, ids_round_trip,
    malformed_and_unknown_ids,
};
pub use storage::{batch_is_atomic, sql, storage_bytes_and_json, storage_list, transactions};
pub use websockets::{
    websocket_attachments, websocket_broadcast, websocket_close, websocket_echo, websocket_refused,
};

use super::{ActorNamespace, ActorStub, BoxFuture, Capabilities};

/// What the suite tests: the provider's namespace of [`ConformanceActor`]s, and how to wait.
pub struct Target {
    namespace: ActorNamespace<ConformanceActor>,
    sleep: Box<dyn Fn(Duration) -> BoxFuture<'static, ()>>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A target over `namespace`, waiting with `sleep` (such as `tokio::time::sleep`).
    pub fn new<F>(
        namespace: ActorNamespace<ConformanceActor>,
        sleep: impl Fn(Duration) -> F + 'static,
    ) -> Self
    where
        F: Future<Output = ()> + super::MaybeSend + 'static,
    {
        Target {
            namespace,
            sleep: Box::new(move |duration| Box::pin(sleep(duration))),
        }
    }

    /// The namespace under test.
    pub fn namespace(&self) -> &ActorNamespace<ConformanceActor> {
        &self.namespace
    }

    pub(crate) fn provider(&self) -> &'static str {
        self.namespace.client().provider()
    }

    /// A stub for a fresh actor of test `test`.
    pub(crate) fn fresh(&self, test: &str) -> ActorStub {
        let name = format!(
            "{test}-{}",
            self.namespace.new_unique_id().expect("new_unique_id")
        );
        self.namespace
            .get_by_name(&name)
            .unwrap_or_else(|e| panic!("{}: id_from_name({name:?}) failed: {e}", self.provider()))
    }

    pub(crate) async fn sleep(&self, duration: Duration) {
        (self.sleep)(duration).await
    }

    /// Polls `check` until it returns `Some`.
    pub(crate) async fn eventually<T, F, Fut>(&self, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            self.sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Sends a request with `method` to `path` and returns the status and body.
pub(crate) async fn call(
    stub: &ActorStub,
    method: Method,
    path: &str,
    body: impl Into<ByteStream>,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .body(body.into())
        .expect("a valid request");
    let response = stub
        .fetch(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect(1 << 20)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: reading the body failed: {e}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Like [`call`], expecting 200 and a JSON body.
pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
    stub: &ActorStub,
    method: Method,
    path: &str,
    body: impl Into<ByteStream>,
) -> T {
    let (status, body) = call(stub, method.clone(), path, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {path} answered {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path}: {e} in {body:?}"))
}

/// Which tests [`run_all`] ran, and which it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The provider tested.
    pub provider: &'static str,
    /// The tests that ran and passed, in order.
    pub ran: Vec<&'static str>,
    /// The tests skipped, each with the capability the provider lacks.
    pub skipped: Vec<Skipped>,
}

/// A test that [`run_all`] skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The test's name.
    pub test: &'static str,
    /// The [`Capabilities`] field the provider does not set.
    pub missing: &'static str,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} tests passed", self.provider, self.ran.len())?;
        for skipped in &self.skipped {
            write!(f, "; skipped {} (no {})", skipped.test, skipped.missing)?;
        }
        Ok(())
    }
}

type Test = for<'a> fn(&'a Target) -> futures::future::LocalBoxFuture<'a, ()>;

macro_rules! tests {
    ($($name:ident $(if $capability:ident)?),* $(,)?) => {
        [$((
            stringify!($name),
            (|target| Box::pin($name(target))) as Test,
            None $(.or(Some((stringify!($capability), (|c: &Capabilities| c.$capability) as fn(&Capabilities) -> bool))))?,
        )),*]
    };
}

/// Runs every test the provider's capabilities allow, one after the other.
pub async fn run_all(target: &Target) -> Report {
    let capabilities = target.namespace.capabilities();
    let mut report = Report {
        provider: target.provider(),
        ..Report::default()
    };
    let all = tests![
        counter,
        concurrent_increments,
        distinct_actors,
        ids_round_trip,
        malformed_and_unknown_ids,
        handler_errors,
        storage_bytes_and_json,
        storage_list,
        batch_is_atomic,
        transactions,
        sql if sql,
        alarm_fires if alarms,
        alarm_replace_and_delete if alarms,
        alarm_retried_after_failure if alarms,
        websocket_echo if websockets,
        websocket_broadcast if websockets,
        websocket_attachments if websockets,
        websocket_close if websockets,
        websocket_refused if websockets,
    ];
    for (name, test, requirement) in all {
        if let Some((missing, has)) = requirement {
            if !has(&capabilities) {
                report.skipped.push(Skipped {
                    test: name,
                    missing,
                });
                continue;
            }
        }
        test(target).await;
        report.ran.push(name);
    }
    report
}
