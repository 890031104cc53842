//! Rate limits and server errors: waited out when they pass, a clear error when they do not.

mod control_support;

use alchemy::apply::Outcome;
use alchemy_cloudflare::api::{Body, Client, Method};
use alchemy_cloudflare::control::CloudflarePlatform;
use control_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_waited_out_and_the_deploy_succeeds() {
    let target = Target::new().await;
    target.server.throttle(2, 1);
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    let requests = target.server.requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2, "{requests:#?}");
    // Each throttled request was sent again and answered.
    for t in throttled {
        assert!(
            requests
                .iter()
                .any(|r| r.method == t.method && r.path == t.path && r.status < 300),
            "{t:?} was not retried"
        );
    }
    assert_eq!(target.server.cloud().scripts.len(), 1);
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff() {
    let target = Target::new().await;
    target.server.fail(3, 503);
    let (_, report) = target.deploy(&app()).await;
    assert_ok(&report);
    let failed = target
        .server
        .requests()
        .iter()
        .filter(|r| r.status == 503)
        .count();
    assert_eq!(failed, 3);
    target.assert_no_violations();
}

fn impatient(target: &Target) -> CloudflarePlatform {
    let mut config = target.server.config();
    config.max_attempts = 3;
    CloudflarePlatform::new(Client::new(config).unwrap(), target.options())
}

fn failed_errors(report: &alchemy::apply::Report) -> Vec<String> {
    report
        .failures()
        .filter_map(|f| match &f.outcome {
            Outcome::Failed { error } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_throttling_or_server_errors_stop_the_deploy_with_a_clear_error() {
    let target = Target::new().await;
    let platform = impatient(&target);

    target.server.throttle(1000, 1);
    let (_, report) = target.deploy_with(&app(), &platform, false).await;
    assert!(!report.succeeded());
    let errors = failed_errors(&report);
    let [error] = errors.as_slice() else {
        panic!("one failed step (the bucket; the worker waits for it): {errors:#?}");
    };
    assert!(error.contains("photos"), "names the resource: {error}");
    assert!(
        error.contains("throttled") && error.contains("429"),
        "says why: {error}"
    );
    assert!(error.contains("3 times"), "says how often: {error}");
    assert!(
        error.contains("wait a few minutes"),
        "says what to do: {error}"
    );
    assert!(
        error.contains("POST /accounts/"),
        "names the request: {error}"
    );
    assert!(target.server.cloud().buckets.is_empty());

    target.server.clear_faults();
    target.server.fail(1000, 502);
    let (_, report) = target.deploy_with(&app(), &platform, false).await;
    let errors = failed_errors(&report);
    let [error] = errors.as_slice() else {
        panic!("one failed step: {errors:#?}");
    };
    assert!(
        error.contains("HTTP 502") && error.contains("unavailable"),
        "{error}"
    );

    // Once the API answers again, the next deploy converges.
    target.server.clear_faults();
    let (_, report) = target.deploy_with(&app(), &platform, false).await;
    assert_ok(&report);
    let cloud = target.server.cloud();
    assert_eq!(
        (
            cloud.buckets.len(),
            cloud.scripts.len(),
            cloud.namespaces.len()
        ),
        (1, 1, 1)
    );
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped() {
    let target = Target::new().await;
    // Slow answers, so that requests not held back would overlap.
    target
        .server
        .set_latency(std::time::Duration::from_millis(50));
    for cap in [1, 3] {
        let mut config = target.server.config();
        config.max_in_flight = cap;
        let client = Client::new(config).unwrap();
        let path = client.account_path("/r2/buckets");
        target.server.reset_max_concurrent();
        let calls: Vec<_> = (0..9)
            .map(|_| {
                let client = client.clone();
                let path = path.clone();
                tokio::spawn(async move { client.call(Method::GET, &path, Body::Empty).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap().expect("a list of buckets");
        }
        let most = target.server.max_concurrent();
        assert!(most <= cap, "{most} requests in flight with a cap of {cap}");
        assert!(most >= 1);
    }
    target.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_then_reported() {
    // A port nothing listens on any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = alchemy_cloudflare::api::Config::new("0123", "token")
        .with_base_url(&format!("http://127.0.0.1:{port}/client/v4"));
    config.max_attempts = 3;
    config.base_delay = std::time::Duration::from_millis(5);
    let client = Client::new(config).unwrap();
    let e = client
        .call(
            Method::GET,
            &client.account_path("/r2/buckets"),
            Body::Empty,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("failed 3 times") && e.contains("transport error"),
        "{e}"
    );
    assert!(
        e.contains("GET /accounts/0123/r2/buckets"),
        "names the request: {e}"
    );
}
