//! A fault-injecting HTTP proxy for testing how clients cope with a flaky service.
//!
//! [`FaultProxy`] listens on `127.0.0.1`, forwards every request to an upstream endpoint (an
//! emulator) and, at a configurable rate, answers in its place the way a real AWS service
//! does when it is overloaded or failing: throttling errors in the service's own protocol,
//! 500s, connections dropped before or after the upstream saw the request, and added latency.
//! Point an SDK client's endpoint at [`FaultProxy::endpoint`] and the client's retry logic, and
//! everything above it, meets those faults for real.
//!
//! Dropping a connection *after* forwarding is the case that matters most for a deployment
//! engine: the service did the work, but the client never heard, so its next attempt (or the
//! next deploy) must find what the first one made instead of making it twice.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy_aws::faults::{Fault, FaultProxy, Faults};
//! use alchemy_aws::testing::Emulator;
//!
//! let emulator = Emulator::ministack().await?;
//! let proxy = FaultProxy::start(emulator.endpoint(), Faults::mixed(0.3)).await?;
//! let flaky = emulator.sdk_config().to_builder().endpoint_url(proxy.endpoint()).build();
//! // ... deploy with `flaky`, then:
//! assert!(proxy.stats().injected() > 0);
//! assert!(proxy.service_stats("s3").injected() > 0);
//! // From now on, every Lambda request fails; the others go through.
//! proxy.set_faults(Faults::always(Fault::ServerError).only("lambda"));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One kind of fault the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A throttling error in the protocol of the service asked: `SlowDown` (503) for S3,
    /// `Throttling` for query-protocol services such as IAM and STS, `TooManyRequestsException`
    /// (429) for Lambda, `ThrottlingException` for JSON-protocol services such as DynamoDB.
    Throttle,
    /// A 500 `InternalError`.
    ServerError,
    /// The connection closes before the request reaches the upstream.
    DropBefore,
    /// The request reaches the upstream, which acts on it, and the connection closes before
    /// its answer reaches the client.
    DropAfter,
    /// The request is forwarded after a delay.
    Latency(Duration),
}

impl Fault {
    fn label(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError => "server-error",
            Fault::DropBefore => "drop-before",
            Fault::DropAfter => "drop-after",
            Fault::Latency(_) => "latency",
        }
    }
}

/// Which faults the proxy injects, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    rate: f64,
    kinds: Vec<Fault>,
    seed: u64,
    service: Option<String>,
}

impl Faults {
    /// No faults: every request is forwarded as it is.
    pub fn none() -> Self {
        Faults {
            rate: 0.0,
            kinds: Vec::new(),
            seed: 1,
            service: None,
        }
    }

    /// Each request meets a fault with probability `rate` (0 to 1), chosen evenly from
    /// `kinds`.
    ///
    /// # Panics
    ///
    /// When `rate` is outside `0..=1`, or `kinds` is empty while `rate` is above zero.
    pub fn new(rate: f64, kinds: impl IntoIterator<Item = Fault>) -> Self {
        let kinds: Vec<Fault> = kinds.into_iter().collect();
        assert!(
            (0.0..=1.0).contains(&rate),
            "a fault rate is a probability between 0 and 1, not {rate}"
        );
        assert!(
            rate == 0.0 || !kinds.is_empty(),
            "a fault rate above zero needs at least one kind of fault"
        );
        Faults {
            rate,
            kinds,
            seed: 0x9E37_79B9_7F4A_7C15,
            service: None,
        }
    }

    /// Every kind of fault, at `rate`, with 50 ms of latency for the latency fault.
    pub fn mixed(rate: f64) -> Self {
        Faults::new(
            rate,
            [
                Fault::Throttle,
                Fault::ServerError,
                Fault::DropBefore,
                Fault::DropAfter,
                Fault::Latency(Duration::from_millis(50)),
            ],
        )
    }

    /// `fault` on every request.
    pub fn always(fault: Fault) -> Self {
        Faults::new(1.0, [fault])
    }

    /// The same faults drawn from another sequence: a different `seed` picks different
    /// requests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed.max(1);
        self
    }

    /// The same faults on the requests for `service` alone (its signing name, such as `s3`,
    /// `iam` or `lambda`: see [`FaultProxy::service_stats`]); other requests go through.
    pub fn only(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }
}

/// What the proxy has seen and done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests received.
    pub requests: u64,
    /// Requests whose answer came from the upstream.
    pub forwarded: u64,
    /// Injected faults by kind: throttle, server-error, drop-before, drop-after, latency.
    pub by_kind: Vec<(&'static str, u64)>,
}

impl FaultStats {
    /// How many faults were injected, of every kind.
    pub fn injected(&self) -> u64 {
        self.by_kind.iter().map(|(_, n)| n).sum()
    }

    /// How many faults of the kind labelled `label` (see [`FaultStats::by_kind`]) were injected.
    pub fn of(&self, label: &str) -> u64 {
        self.by_kind
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {} answered by the upstream",
            self.requests, self.forwarded
        )?;
        for (label, n) in &self.by_kind {
            write!(f, ", {n} {label}")?;
        }
        Ok(())
    }
}

/// The first state of the sequence of draws for `service`: never zero, where xorshift stays.
fn stream_seed(seed: u64, service: &str) -> u64 {
    let hash = service.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    (seed ^ hash).max(1)
}

/// Counts for one service, as [`FaultStats`] reports them.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    requests: u64,
    forwarded: u64,
    injected: [u64; 5],
}

impl Counts {
    fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.requests,
            forwarded: self.forwarded,
            by_kind: LABELS.iter().copied().zip(self.injected).collect(),
        }
    }
}

/// The service a request is for: the signing name in its SigV4 credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`), or `unsigned`.
fn service_of<B>(req: &Request<B>) -> String {
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .map_or_else(|| "unsigned".to_owned(), str::to_owned)
}

const LABELS: [&str; 5] = [
    "throttle",
    "server-error",
    "drop-before",
    "drop-after",
    "latency",
];

struct Shared {
    upstream: Uri,
    /// The faults, and the state of each service's sequence of draws.
    faults: Mutex<(Faults, BTreeMap<String, u64>)>,
    requests: AtomicU64,
    forwarded: AtomicU64,
    injected: [AtomicU64; 5],
    by_service: Mutex<BTreeMap<String, Counts>>,
    client: Client<HttpConnector, Incoming>,
}

impl Shared {
    /// Draws the fault for the next request for `service`, if any. Each service has its
    /// own sequence (xorshift64* from the seed and the service's name), so the n-th request
    /// for a service meets the same fault for a seed however requests for other services
    /// interleave with it.
    fn draw(&self, service: &str) -> Option<Fault> {
        let mut guard = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let (faults, states) = &mut *guard;
        if faults.rate == 0.0 || faults.service.as_deref().is_some_and(|s| s != service) {
            return None;
        }
        let seed = faults.seed;
        let state = states
            .entry(service.to_owned())
            .or_insert_with(|| stream_seed(seed, service));
        let mut next = || {
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let roll = (next() >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= faults.rate {
            return None;
        }
        let pick = (next() % faults.kinds.len() as u64) as usize;
        Some(faults.kinds[pick])
    }

    /// Counts a request for `service`, and the fault it met.
    fn count(&self, service: &str, fault: Option<&Fault>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut by_service = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let counts = by_service.entry(service.to_owned()).or_default();
        counts.requests += 1;
        if let Some(fault) = fault {
            let index = LABELS
                .iter()
                .position(|l| *l == fault.label())
                .expect("every fault has a label");
            self.injected[index].fetch_add(1, Ordering::Relaxed);
            counts.injected[index] += 1;
        }
    }

    /// Counts an answer of the upstream that reached the client.
    fn count_forwarded(&self, service: &str) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
        let mut by_service = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        by_service.entry(service.to_owned()).or_default().forwarded += 1;
    }
}

/// A fault-injecting proxy on `127.0.0.1` in front of one upstream endpoint; it stops when
/// dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint())
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// The error hyper's connection gets when a fault drops it: hyper closes the connection
/// without an answer.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

impl FaultProxy {
    /// Starts a proxy on a free `127.0.0.1` port in front of `upstream` (such as
    /// `http://127.0.0.1:4566`), injecting `faults`.
    pub async fn start(upstream: &str, faults: Faults) -> std::io::Result<FaultProxy> {
        let upstream: Uri = upstream.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the upstream `{upstream}` is not a URL: {e}"),
            )
        })?;
        if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the upstream `{upstream}` must be a plain http://HOST:PORT URL"),
            ));
        }
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            faults: Mutex::new((faults, BTreeMap::new())),
            requests: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            injected: Default::default(),
            by_service: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let (stop, mut stopped) = watch::channel(false);
        let accept_shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => return,
                };
                let shared = accept_shared.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { handle(&shared, req).await }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(FaultProxy { addr, shared, stop })
    }

    /// The proxy's endpoint, `http://127.0.0.1:PORT`, to give clients instead of the upstream's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the faults injected from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (faults, BTreeMap::new());
    }

    /// Counts of what the proxy has seen and done.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.shared.requests.load(Ordering::Relaxed),
            forwarded: self.shared.forwarded.load(Ordering::Relaxed),
            by_kind: LABELS
                .iter()
                .zip(&self.shared.injected)
                .map(|(label, n)| (*label, n.load(Ordering::Relaxed)))
                .collect(),
        }
    }

    /// Counts of what the proxy has seen and done for requests to `service`, named as
    /// requests sign it (the service of their SigV4 credential scope: `s3`, `iam`, `lambda`,
    /// `dynamodb`, `sts`; `unsigned` for requests without a signature).
    pub fn service_stats(&self, service: &str) -> FaultStats {
        self.shared
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(service)
            .copied()
            .unwrap_or_default()
            .stats()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Result<Response<ProxyBody>, Dropped> {
    let service = service_of(&req);
    let fault = shared.draw(&service);
    shared.count(&service, fault.as_ref());
    match fault {
        Some(Fault::Throttle) => return Ok(throttle(&req)),
        Some(Fault::ServerError) => return Ok(server_error(&req)),
        Some(Fault::DropBefore) => return Err(Dropped),
        Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::DropAfter) | None => {}
    }
    let response = forward(shared, req).await;
    if fault == Some(Fault::DropAfter) {
        // Let the upstream finish the request, then lose its answer.
        if let Ok(response) = response {
            let _ = response.into_body().collect().await;
        }
        return Err(Dropped);
    }
    match response {
        Ok(response) => {
            shared.count_forwarded(&service);
            Ok(response.map(BodyExt::boxed))
        }
        Err(e) => Ok(answer(
            StatusCode::BAD_GATEWAY,
            "text/plain",
            format!("the fault proxy could not reach the upstream: {e}"),
        )),
    }
}

async fn forward(
    shared: &Shared,
    mut req: Request<Incoming>,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
    let authority = shared
        .upstream
        .authority()
        .expect("checked at start")
        .clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *req.uri_mut() = Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query(path)
        .build()
        .expect("a URI from valid parts");
    // Keep the client's Host header: request signatures cover it.
    if !req.headers().contains_key(HOST) {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().insert(HOST, host);
        }
    }
    shared.client.request(req).await
}

/// The wire protocol of the AWS service a request is for, as far as errors look different.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson (DynamoDB, STS JSON, ...): an `X-Amz-Target` header names the operation.
    Json,
    /// awsQuery (IAM, STS): a form-encoded body.
    Query,
    /// restJson (Lambda): paths under a dated API version.
    RestJson,
    /// restXml (S3).
    RestXml,
}

fn protocol<B>(req: &Request<B>) -> Protocol {
    let headers = req.headers();
    if headers.contains_key("x-amz-target") {
        return Protocol::Json;
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Protocol::Query;
    }
    let path = req.uri().path();
    let dated = path
        .split('/')
        .nth(1)
        .is_some_and(|s| s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-');
    if dated {
        Protocol::RestJson
    } else {
        Protocol::RestXml
    }
}

fn answer(status: StatusCode, content_type: &str, body: String) -> Response<ProxyBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header("x-amzn-requestid", "fault-proxy")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
        .expect("a response from valid parts")
}

fn throttle<B>(req: &Request<B>) -> Response<ProxyBody> {
    const MESSAGE: &str = "Rate exceeded (injected by the fault proxy)";
    match protocol(req) {
        Protocol::Json => answer(
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"{MESSAGE}"}}"#),
        ),
        Protocol::Query => answer(
            StatusCode::BAD_REQUEST,
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>{MESSAGE}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"),
        ),
        Protocol::RestJson => {
            let mut response = answer(
                StatusCode::TOO_MANY_REQUESTS,
                "application/json",
                format!(r#"{{"Type":"User","message":"{MESSAGE}"}}"#),
            );
            response.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static("TooManyRequestsException"),
            );
            response
        }
        Protocol::RestXml => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/xml",
            format!("<Error><Code>SlowDown</Code><Message>{MESSAGE}</Message><RequestId>fault-proxy</RequestId></Error>"),
        ),
    }
}

fn server_error<B>(req: &Request<B>) -> Response<ProxyBody> {
    const MESSAGE: &str = "We encountered an internal error (injected by the fault proxy)";
    match protocol(req) {
        Protocol::Json | Protocol::RestJson => {
            let mut response = answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                format!(r#"{{"__type":"InternalFailure","message":"{MESSAGE}"}}"#),
            );
            response.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static("InternalFailure"),
            );
            response
        }
        Protocol::Query => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/xml",
            format!("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>{MESSAGE}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"),
        ),
        Protocol::RestXml => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/xml",
            format!("<Error><Code>InternalError</Code><Message>{MESSAGE}</Message><RequestId>fault-proxy</RequestId></Error>"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri(path);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn errors_speak_the_protocol_of_the_service_asked() {
        let s3 = request("/photos/cat.jpg", &[]);
        let iam = request(
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
        );
        let lambda = request("/2015-03-31/functions/f", &[]);
        let dynamo = request("/", &[("x-amz-target", "DynamoDB_20120810.PutItem")]);
        assert_eq!(protocol(&s3), Protocol::RestXml);
        assert_eq!(protocol(&iam), Protocol::Query);
        assert_eq!(protocol(&lambda), Protocol::RestJson);
        assert_eq!(protocol(&dynamo), Protocol::Json);
        assert_eq!(throttle(&s3).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(throttle(&iam).status(), StatusCode::BAD_REQUEST);
        assert_eq!(throttle(&lambda).status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            throttle(&lambda).headers()["x-amzn-errortype"],
            "TooManyRequestsException"
        );
        assert_eq!(throttle(&dynamo).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            server_error(&s3).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn draws_follow_the_rate_and_the_seed() {
        let shared = |faults: Faults| Shared {
            upstream: "http://127.0.0.1:1".parse().unwrap(),
            faults: Mutex::new((faults, BTreeMap::new())),
            requests: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            injected: Default::default(),
            by_service: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let none = shared(Faults::none());
        assert!((0..1000).all(|_| none.draw("s3").is_none()));
        let always = shared(Faults::always(Fault::ServerError));
        assert!((0..1000).all(|_| always.draw("s3") == Some(Fault::ServerError)));
        let mixed = shared(Faults::mixed(0.3));
        let draws: Vec<Option<Fault>> = (0..10_000).map(|_| mixed.draw("s3")).collect();
        let faulted = draws.iter().filter(|d| d.is_some()).count();
        assert!(
            (2_700..3_300).contains(&faulted),
            "{faulted} of 10000 draws faulted at rate 0.3"
        );
        for kind in LABELS {
            let n = draws.iter().flatten().filter(|f| f.label() == kind).count();
            assert!(n > 400, "{kind} drawn {n} times of {faulted}");
        }
        let again = shared(Faults::mixed(0.3));
        let replay: Vec<Option<Fault>> = (0..10_000).map(|_| again.draw("s3")).collect();
        assert_eq!(draws, replay, "the same seed draws the same faults");
        let interleaved = shared(Faults::mixed(0.3));
        let replay: Vec<Option<Fault>> = (0..10_000)
            .map(|_| {
                interleaved.draw("iam");
                interleaved.draw("s3")
            })
            .collect();
        assert_eq!(
            draws, replay,
            "other services do not change a service's draws"
        );
        let lambda_only = shared(Faults::always(Fault::Throttle).only("lambda"));
        assert!((0..100).all(|_| lambda_only.draw("iam").is_none()));
        assert!((0..100).all(|_| lambda_only.draw("lambda") == Some(Fault::Throttle)));
    }

    #[test]
    fn the_service_is_the_one_the_request_is_signed_for() {
        let signed = request(
            "/2015-03-31/functions/f",
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/lambda/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            )],
        );
        assert_eq!(service_of(&signed), "lambda");
        assert_eq!(service_of(&request("/", &[])), "unsigned");
    }
}
