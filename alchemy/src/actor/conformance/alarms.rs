//! Alarms: firing, replacing, deleting and retrying.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;

use super::{call, call_json, Target};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// An alarm fires once, after its time, and is gone afterwards.
pub async fn alarm_fires(target: &Target) {
    let stub = target.fresh("alarm");
    let before = now_ms();
    call(&stub, Method::PUT, "/alarm?in_ms=50", "").await;
    let scheduled: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    let scheduled = scheduled.expect("get_alarm must return the alarm just set");
    assert!(
        scheduled >= before + 40,
        "{}: the alarm is scheduled at {scheduled}, before the time it was set for",
        target.provider()
    );
    target
        .eventually(|| async {
            let fired: u64 = call_json(&stub, Method::GET, "/alarm/fired", "").await;
            (fired > 0).then_some(())
        })
        .await;
    assert!(now_ms() >= scheduled, "the alarm fired early");
    let after: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    assert_eq!(
        after,
        None,
        "{}: a fired alarm is still scheduled",
        target.provider()
    );
    // Give a wrongly repeating alarm the chance to fire again.
    target.sleep(Duration::from_millis(100)).await;
    assert_eq!(
        call_json::<u64>(&stub, Method::GET, "/alarm/fired", "").await,
        1
    );
}

/// Setting an alarm replaces the one before; deleting it means it never fires.
pub async fn alarm_replace_and_delete(target: &Target) {
    let stub = target.fresh("alarm-replace");
    call(&stub, Method::PUT, "/alarm?in_ms=3600000", "").await;
    let far: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    assert!(far.is_some());
    call(&stub, Method::DELETE, "/alarm", "").await;
    let none: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    assert_eq!(none, None);

    call(&stub, Method::PUT, "/alarm?in_ms=3600000", "").await;
    call(&stub, Method::PUT, "/alarm?in_ms=20", "").await;
    let near: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    assert!(near.expect("the replacing alarm") < far.expect("the first alarm"));
    target
        .eventually(|| async {
            let fired: u64 = call_json(&stub, Method::GET, "/alarm/fired", "").await;
            (fired > 0).then_some(())
        })
        .await;
    let after: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
    assert_eq!(
        after,
        None,
        "{}: the replaced alarm is still scheduled",
        target.provider()
    );

    // A deleted alarm does not fire.
    let quiet = target.fresh("alarm-deleted");
    call(&quiet, Method::PUT, "/alarm?in_ms=30", "").await;
    call(&quiet, Method::DELETE, "/alarm", "").await;
    target.sleep(Duration::from_millis(100)).await;
    assert_eq!(
        call_json::<u64>(&quiet, Method::GET, "/alarm/fired", "").await,
        0
    );
}

/// An alarm handler that fails is run again (at least once), until it succeeds.
pub async fn alarm_retried_after_failure(target: &Target) {
    let stub = target.fresh("alarm-retry");
    call(&stub, Method::PUT, "/alarm?in_ms=10&failures=2", "").await;
    let fired = target
        .eventually(|| async {
            let fired: u64 = call_json(&stub, Method::GET, "/alarm/fired", "").await;
            let pending: Option<u64> = call_json(&stub, Method::GET, "/alarm", "").await;
            (fired >= 3 && pending.is_none()).then_some(fired)
        })
        .await;
    assert_eq!(
        fired,
        3,
        "{}: two failures, then one success",
        target.provider()
    );
}
