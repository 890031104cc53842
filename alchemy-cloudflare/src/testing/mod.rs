//! Cloudflare on this machine, for tests (feature `testing`): [`ApiServer`], a stand-in for the
//! v4 API, [`Workerd`], a built Worker running in workerd, and [`LocalCloudflare`], the two
//! joined: every script deployed to the API server runs in workerd.
//!
//! [`ApiServer`] checks every request against Cloudflare's published OpenAPI documents (vendored
//! in this crate's `openapi/`).
//!
//! [`ApiServer`] listens on a free 127.0.0.1 port. Each request is matched to a documented
//! operation by method and path template; its path and query parameters, its JSON body, and
//! for a script upload its multipart parts and `metadata`, are checked against the documented
//! schemas. A request the documents do not describe is answered 400 and recorded as a
//! violation. Valid requests change an in-memory account (buckets, scripts with their metadata
//! and modules, Durable Object namespaces made by migrations, the workers.dev switches) and are
//! answered with v4 envelopes, including error envelopes for conflicts and missing resources.
//! Throttling and server errors can be injected.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use alchemy_cloudflare::testing::ApiServer;
//!
//! let server = ApiServer::start().await?;
//! let client = server.client();            // an `api::Client` pointed at it
//! server.throttle(2, 1);                   // the next 2 requests: 429 with Retry-After: 1
//! # let _ = client;
//! assert!(server.violations().is_empty());
//! # Ok(())
//! # }
//! ```

mod cloud;
mod local;
mod multipart;
mod openapi;
mod workerd;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub use cloud::{Bucket, Cloud, Module, Namespace, Script};
pub use local::LocalCloudflare;
pub use workerd::{WorkerConfig, Workerd, WorkerdError, COMPATIBILITY_DATE};

use crate::api::{Client, Config};
use openapi::Documents;

/// The account id the server answers for.
pub const ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// The API token it expects.
pub const API_TOKEN: &str = "test-api-token";
/// The account's workers.dev subdomain, until changed with [`ApiServer::set_subdomain`].
pub const SUBDOMAIN: &str = "alchemy-test";
/// The path the API is served under, as on api.cloudflare.com.
const BASE_PATH: &str = "/client/v4";

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its method.
    pub method: String,
    /// Its path below `/client/v4`, with the query.
    pub path: String,
    /// The documented operation it matched.
    pub operation: Option<String>,
    /// The status it was answered with.
    pub status: u16,
}

impl Recorded {
    /// Whether it asked for a change (any method but GET and HEAD).
    pub fn writes(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    status: u16,
    retry_after: Option<u64>,
}

/// What runs after a script was uploaded or deleted, with the script's name and the account as
/// it is now; an error undoes the change, and the request is answered with it.
pub(crate) type ScriptHook = Arc<dyn Fn(&str, &Cloud) -> Result<(), String> + Send + Sync>;

/// The operations that change what a script runs.
const SCRIPT_CHANGES: [&str; 2] = [
    "worker-script-upload-worker-module",
    "worker-script-delete-worker",
];

struct Shared {
    docs: Documents,
    hook: Mutex<Option<ScriptHook>>,
    cloud: Mutex<Cloud>,
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<Recorded>>,
    violations: Mutex<Vec<String>>,
    latency: Mutex<Duration>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The checking server. Dropping it stops it.
pub struct ApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ApiServer {
    /// Starts the server on a free 127.0.0.1 port, with an empty account whose workers.dev
    /// subdomain is [`SUBDOMAIN`].
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            docs: Documents::load(),
            hook: Mutex::new(None),
            cloud: Mutex::new(Cloud::with_subdomain(SUBDOMAIN)),
            faults: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move {
                            let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
                            let latency = *lock(&shared.latency);
                            if !latency.is_zero() {
                                tokio::time::sleep(latency).await;
                            }
                            let response = serve(&shared, req).await;
                            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(response)
                        }
                    });
                    // A client that goes away mid-request is not the server's problem.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ApiServer { addr, shared, task })
    }

    /// The base URL to give clients (`CLOUDFLARE_API_BASE_URL`).
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    /// Client settings for this server: its account and token, and quick retries (a first
    /// pause of 10 ms; `Retry-After` is still honoured, up to 5 s).
    pub fn config(&self) -> Config {
        let mut config = Config::new(ACCOUNT_ID, API_TOKEN).with_base_url(&self.base_url());
        config.base_delay = Duration::from_millis(10);
        config.max_delay = Duration::from_secs(5);
        config
    }

    /// A client of this server with [`ApiServer::config`].
    pub fn client(&self) -> Client {
        Client::new(self.config()).expect("a client for a loopback server")
    }

    /// Answers the next `requests` requests with 429 and `Retry-After: <retry_after_secs>`.
    pub fn throttle(&self, requests: usize, retry_after_secs: u64) {
        lock(&self.shared.faults).extend(std::iter::repeat_n(
            Fault {
                status: 429,
                retry_after: Some(retry_after_secs),
            },
            requests,
        ));
    }

    /// Answers the next `requests` requests with HTTP `status` (e.g. 503).
    pub fn fail(&self, requests: usize, status: u16) {
        lock(&self.shared.faults).extend(std::iter::repeat_n(
            Fault {
                status,
                retry_after: None,
            },
            requests,
        ));
    }

    /// Drops every injected fault not yet used.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Holds every answer back by `latency` (default: none).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// The most requests that were being answered at once since the start or the last
    /// [`ApiServer::reset_max_concurrent`].
    pub fn max_concurrent(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// Starts counting [`ApiServer::max_concurrent`] afresh.
    pub fn reset_max_concurrent(&self) {
        self.shared.most_in_flight.store(0, Ordering::SeqCst);
    }

    /// Sets (or removes) the account's workers.dev subdomain.
    pub fn set_subdomain(&self, subdomain: Option<&str>) {
        lock(&self.shared.cloud).subdomain = subdomain.map(str::to_owned);
    }

    /// Marks bucket `name` as holding objects, so that deleting it fails as R2's does.
    pub fn fill_bucket(&self, name: &str) {
        if let Some(b) = lock(&self.shared.cloud).buckets.get_mut(name) {
            b.has_objects = true;
        }
    }

    /// Runs `hook` after every script upload or deletion, before the request is answered.
    pub(crate) fn on_script_change(&self, hook: Option<ScriptHook>) {
        *lock(&self.shared.hook) = hook;
    }

    /// A copy of the account.
    pub fn cloud(&self) -> Cloud {
        lock(&self.shared.cloud).clone()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.log).clone()
    }

    /// Every request so far that the documents do not describe, with what is wrong with it.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn envelope(status: u16, body: &Value, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(secs) = retry_after {
        response = response.header("retry-after", secs.to_string());
    }
    response
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

async fn serve(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let uri = req.uri().clone();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (authorization, content_type) = (header("authorization"), header("content-type"));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let full_path = uri.path().to_owned();
    let query = query_pairs(uri.query().unwrap_or(""));
    let shown = match uri.query() {
        Some(q) => format!(
            "{}?{q}",
            full_path.strip_prefix(BASE_PATH).unwrap_or(&full_path)
        ),
        None => full_path
            .strip_prefix(BASE_PATH)
            .unwrap_or(&full_path)
            .to_owned(),
    };
    let record = |operation: Option<&str>, status: u16| {
        lock(&shared.log).push(Recorded {
            method: method.clone(),
            path: shown.clone(),
            operation: operation.map(str::to_owned),
            status,
        });
    };
    let violation = |operation: Option<&str>, problems: Vec<String>| {
        let message = format!("{method} {shown}: {}", problems.join("; "));
        lock(&shared.violations).push(message.clone());
        record(operation, 400);
        let answer = cloud::failure(
            400,
            10001,
            &format!("request not described by the Cloudflare API documents: {message}"),
        );
        envelope(answer.status, &answer.body, None)
    };

    let Some(path) = full_path.strip_prefix(BASE_PATH) else {
        return violation(None, vec![format!("the API lives under {BASE_PATH}")]);
    };
    let Some((op, params)) = shared.docs.find(&method, path) else {
        return violation(
            None,
            vec!["no documented operation has this method and path".into()],
        );
    };
    let incoming = openapi::Incoming {
        query: &query,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        body: &body,
    };
    let (problems, decoded) = shared.docs.check(op, &params, &incoming);
    if !problems.is_empty() {
        return violation(Some(&op.id), problems);
    }
    if let Some(fault) = lock(&shared.faults).pop_front() {
        record(Some(&op.id), fault.status);
        let answer = match fault.status {
            429 => cloud::failure(
                429,
                10429,
                "Rate limited. Please wait and consider throttling your request speed.",
            ),
            status => cloud::failure(
                status,
                10002,
                "An unexpected internal server error occurred.",
            ),
        };
        return envelope(answer.status, &answer.body, fault.retry_after);
    }
    if authorization.as_deref() != Some(&format!("Bearer {API_TOKEN}")) {
        record(Some(&op.id), 403);
        let answer = cloud::failure(403, 10000, "Authentication error");
        return envelope(answer.status, &answer.body, None);
    }
    if params.get("account_id").is_some_and(|a| a != ACCOUNT_ID) {
        record(Some(&op.id), 403);
        let answer = cloud::failure(403, 9109, "Unauthorized to access requested resource");
        return envelope(answer.status, &answer.body, None);
    }
    let hook = SCRIPT_CHANGES
        .contains(&op.id.as_str())
        .then(|| lock(&shared.hook).clone())
        .flatten();
    let (outcome, before) = {
        let mut cloud = lock(&shared.cloud);
        let before = hook.as_ref().map(|_| cloud.clone());
        let outcome = cloud.handle(&shared.docs, &op.id, &params, &query, decoded);
        (outcome, before)
    };
    let outcome = match (outcome, hook, before) {
        (Ok(answer), Some(hook), Some(before)) if answer.status == 200 => {
            let script = params.get("script_name").cloned().unwrap_or_default();
            let now = lock(&shared.cloud).clone();
            match run_hook(&hook, &script, now).await {
                Ok(()) => Ok(answer),
                Err(problem) => {
                    let restored = {
                        let mut cloud = lock(&shared.cloud);
                        cloud.restore_script(&before, &script);
                        cloud.clone()
                    };
                    // Back to what ran before; if that fails too, the first error says why.
                    let _ = run_hook(&hook, &script, restored).await;
                    Ok(cloud::failure(
                        400,
                        10021,
                        &format!("Uncaught error while starting script '{script}': {problem}"),
                    ))
                }
            }
        }
        (outcome, _, _) => outcome,
    };
    match outcome {
        Ok(answer) => {
            record(Some(&op.id), answer.status);
            envelope(answer.status, &answer.body, None)
        }
        Err(problem) => violation(Some(&op.id), vec![problem]),
    }
}

/// Runs `hook` for `script` on a blocking thread (it may start processes and wait for them).
async fn run_hook(hook: &ScriptHook, script: &str, cloud: Cloud) -> Result<(), String> {
    let (hook, script) = (hook.clone(), script.to_owned());
    tokio::task::spawn_blocking(move || hook(&script, &cloud))
        .await
        .unwrap_or_else(|panicked| Err(format!("the script hook panicked: {panicked}")))
}
