//! Counters, ids, isolation and handler errors.

use http::{Method, StatusCode};

use super::{call, call_json, Target};
use crate::actor::ActorError;

/// Increments one actor's counter and reads it back.
pub async fn counter(target: &Target) {
    let stub = target.fresh("counter");
    assert_eq!(
        call_json::<u64>(&stub, Method::GET, "/counter", "").await,
        0
    );
    for expected in 1..=5u64 {
        let count: u64 = call_json(&stub, Method::POST, "/counter", "").await;
        assert_eq!(
            count,
            expected,
            "{}: increments are not sequential",
            target.provider()
        );
    }
    assert_eq!(
        call_json::<u64>(&stub, Method::GET, "/counter", "").await,
        5
    );
}

/// 64 concurrent clients increment one actor 100 times each: single-writer turns make the
/// total exactly 6,400, with no increment lost.
pub async fn concurrent_increments(target: &Target) {
    const CLIENTS: usize = 64;
    const INCREMENTS: usize = 100;
    let stub = target.fresh("concurrent");
    let clients = (0..CLIENTS).map(|_| {
        let stub = stub.clone();
        async move {
            let mut last = 0u64;
            for _ in 0..INCREMENTS {
                let count: u64 = call_json(&stub, Method::POST, "/counter", "").await;
                assert!(
                    count > last,
                    "a client saw the counter go from {last} to {count}"
                );
                last = count;
            }
        }
    });
    futures::future::join_all(clients).await;
    let total: u64 = call_json(&stub, Method::GET, "/counter", "").await;
    assert_eq!(
        total,
        (CLIENTS * INCREMENTS) as u64,
        "{}: concurrent increments were lost: the turns of one actor overlapped",
        target.provider()
    );
}

/// Actors are isolated: two names have two states, one name always reaches the same actor,
/// and unique ids are fresh.
pub async fn distinct_actors(target: &Target) {
    let namespace = target.namespace();
    let a = target.fresh("distinct-a");
    let b = target.fresh("distinct-b");
    call_json::<u64>(&a, Method::POST, "/counter", "").await;
    call_json::<u64>(&a, Method::POST, "/counter", "").await;
    assert_eq!(call_json::<u64>(&b, Method::GET, "/counter", "").await, 0);

    let name = a.id().name().expect("the id keeps its name").to_string();
    let again = namespace.get_by_name(&name).expect("id_from_name");
    assert_eq!(again.id(), a.id());
    assert_eq!(
        call_json::<u64>(&again, Method::GET, "/counter", "").await,
        2
    );

    let first = namespace.new_unique_id().expect("new_unique_id");
    let second = namespace.new_unique_id().expect("new_unique_id");
    assert_ne!(first, second, "{}: unique ids repeat", target.provider());
    assert_eq!(first.name(), None);
    let unique = namespace.get(&first);
    assert_eq!(
        call_json::<u64>(&unique, Method::GET, "/counter", "").await,
        0
    );
}

/// An id's string reads back as the same id, and the actor sees its own id and name.
pub async fn ids_round_trip(target: &Target) {
    let namespace = target.namespace();
    let stub = target.fresh("ids");
    let parsed = namespace
        .id_from_string(&stub.id().to_string())
        .expect("an id's own string parses");
    assert_eq!(parsed.as_str(), stub.id().as_str());
    let (id, name): (String, Option<String>) = call_json(&stub, Method::GET, "/id", "").await;
    assert_eq!(id, stub.id().to_string());
    assert_eq!(name.as_deref(), stub.id().name());

    let unique = namespace.new_unique_id().expect("new_unique_id");
    let parsed = namespace.id_from_string(unique.as_str()).expect("parse");
    let (seen, _): (String, Option<String>) =
        call_json(&namespace.get(&parsed), Method::GET, "/id", "").await;
    assert_eq!(seen, unique.to_string());
}

/// Strings that are no ids, and ids that were altered, fail with errors that say so.
pub async fn malformed_and_unknown_ids(target: &Target) {
    let namespace = target.namespace();
    for garbage in ["", "not-an-id", "xyz!"] {
        match namespace.id_from_string(garbage) {
            Err(ActorError::MalformedId { id, .. }) => assert_eq!(id, garbage),
            other => panic!(
                "{}: id_from_string({garbage:?}) gave {other:?}, not MalformedId",
                target.provider()
            ),
        }
    }
    let id = namespace
        .id_from_name("unknown-ids")
        .expect("id_from_name")
        .to_string();
    let mut altered: Vec<char> = id.chars().collect();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == '0' { '1' } else { '0' };
    let altered: String = altered.into_iter().collect();
    match namespace.id_from_string(&altered) {
        Err(ActorError::UnknownId { .. } | ActorError::MalformedId { .. }) => {}
        other => panic!(
            "{}: an altered id parsed as {other:?}: it must be refused",
            target.provider()
        ),
    }
    assert!(matches!(
        namespace.id_from_name(""),
        Err(ActorError::InvalidName { .. })
    ));
}

/// A handler's error reaches the caller as `HandlerFailed` with its message, and the actor
/// keeps working.
pub async fn handler_errors(target: &Target) {
    let stub = target.fresh("errors");
    call_json::<u64>(&stub, Method::POST, "/counter", "").await;
    let req = http::Request::get("/fail")
        .body(crate::actor::ByteStream::empty())
        .expect("request");
    match stub.fetch(req).await {
        Err(ActorError::HandlerFailed { message, .. }) => {
            assert!(message.contains("failed on purpose"), "{message}")
        }
        other => panic!("{}: a failing handler gave {other:?}", target.provider()),
    }
    let (status, _) = call(&stub, Method::GET, "/no-such-route", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        call_json::<u64>(&stub, Method::GET, "/counter", "").await,
        1
    );
}
