//! Tests of the local actor runtime: the conformance suite, hibernation, restarts and bad
//! input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use tempfile::TempDir;

use super::{LocalActors, LocalActorsOptions, RetryPolicy};
use crate::actor::conformance::{self, ConformanceActor, Target};
use crate::actor::{
    Actor, ActorContext, ActorError, ActorId, Actors, ByteStream, Message, Result, WebSocket,
    WebSocketConnection,
};

static SUITE: Actors<ConformanceActor> = Actors::new("conformance");

fn fast_options() -> LocalActorsOptions {
    LocalActorsOptions::default().alarm_retry(RetryPolicy {
        initial: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_attempts: 6,
    })
}

async fn suite_target(options: LocalActorsOptions) -> (TempDir, LocalActors, Target) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalActors::open(dir.path(), options).expect("open");
    let namespace = local.namespace(&SUITE).await.expect("namespace");
    (dir, local, Target::new(namespace, tokio::time::sleep))
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod conformance_suite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_dir, _local, target) = super::suite_target(super::fast_options()).await;
                    super::conformance::$name(&target).await;
                }
            )*
        }
    };
}

conformance_tests![
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
    sql,
    alarm_fires,
    alarm_replace_and_delete,
    alarm_retried_after_failure,
    websocket_echo,
    websocket_broadcast,
    websocket_attachments,
    websocket_close,
    websocket_refused,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_runs_with_nothing_skipped() {
    let (_dir, _local, target) = suite_target(fast_options()).await;
    let report = conformance::run_all(&target).await;
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(report.provider, "local");
    assert!(report.ran.contains(&"concurrent_increments"), "{report}");
}

async fn get(stub: &crate::actor::ActorStub, path: &str) -> (StatusCode, String) {
    let req = Request::get(path).body(ByteStream::empty()).unwrap();
    let response = stub.fetch(req).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect(1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn connect(stub: &crate::actor::ActorStub, query: &str) -> WebSocketConnection {
    let req = Request::get(format!("/ws?{query}"))
        .body(ByteStream::empty())
        .unwrap();
    stub.connect(req).await.unwrap()
}

async fn ask(socket: &mut WebSocketConnection, text: &str) -> String {
    socket.send(text).await.unwrap();
    match socket.recv().await {
        Some(Message::Text(answer)) => answer,
        other => panic!("no answer to {text:?}: {other:?}"),
    }
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_actor_is_evicted_while_its_socket_stays_open_and_init_runs_again() {
    let options = fast_options().idle_timeout(Duration::from_millis(50));
    let (_dir, local, target) = suite_target(options).await;
    let stub = target.namespace().get_by_name("hibernating").unwrap();
    let mut socket = connect(&stub, "name=ada&tags=room").await;
    assert_eq!(
        socket.recv().await,
        Some(Message::Text("welcome ada".into()))
    );
    assert_eq!(ask(&mut socket, "inits").await, "inits:1");
    assert_eq!(ask(&mut socket, "count").await, "count:1");
    assert!(local.is_loaded("conformance", stub.id()));

    // Idle: the instance goes, the socket stays.
    wait_until(|| !local.is_loaded("conformance", stub.id())).await;

    // The next message rebuilds the instance with `init`; the socket kept its attachment and
    // tags, and storage is intact.
    assert_eq!(ask(&mut socket, "whoami").await, "you are ada");
    assert!(local.is_loaded("conformance", stub.id()));
    assert_eq!(ask(&mut socket, "inits").await, "inits:2");
    assert_eq!(ask(&mut socket, "count").await, "count:2");
    let (_, tagged) = get(&stub, "/sockets?tag=room").await;
    assert_eq!(tagged, r#"["ada"]"#);

    // Eviction on demand works the same, and a broadcast from a rebuilt instance reaches
    // the socket accepted by an earlier one.
    local.evict("conformance", stub.id());
    wait_until(|| !local.is_loaded("conformance", stub.id())).await;
    let mut second = connect(&stub, "name=bob").await;
    assert_eq!(
        second.recv().await,
        Some(Message::Text("welcome bob".into()))
    );
    second.send("broadcast:hi").await.unwrap();
    assert_eq!(socket.recv().await, Some(Message::Text("bob:hi".into())));
    assert_eq!(second.recv().await, Some(Message::Text("bob:hi".into())));
    assert_eq!(ask(&mut socket, "inits").await, "inits:3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_wakes_an_evicted_actor() {
    let options = fast_options().idle_timeout(Duration::from_millis(30));
    let (_dir, local, target) = suite_target(options).await;
    let stub = target
        .namespace()
        .get_by_name("closing-while-evicted")
        .unwrap();
    let mut socket = connect(&stub, "name=carol").await;
    socket.recv().await;
    wait_until(|| !local.is_loaded("conformance", stub.id())).await;
    socket.close(4002, "leaving").await.unwrap();
    assert_eq!(socket.recv().await, None);
    loop {
        let (_, closed) = get(&stub, "/closed/carol").await;
        if closed != "null" {
            assert_eq!(closed, r#"[4002,"leaving"]"#);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_set_before_a_restart_fires_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let name = "restarted";
    {
        let local = LocalActors::open(dir.path(), fast_options()).unwrap();
        let stub = local
            .namespace(&SUITE)
            .await
            .unwrap()
            .get_by_name(name)
            .unwrap();
        let req = Request::put("/alarm?in_ms=200")
            .body(ByteStream::empty())
            .unwrap();
        assert_eq!(stub.fetch(req).await.unwrap().status(), StatusCode::OK);
        let req = Request::post("/counter").body(ByteStream::empty()).unwrap();
        stub.fetch(req).await.unwrap();
        // Every task of the first runtime has ended: nothing of it can fire the alarm.
        local.shutdown().await;
        let error = stub
            .fetch(Request::get("/counter").body(ByteStream::empty()).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(error, ActorError::Unavailable { .. }), "{error}");
    }
    let local = LocalActors::open(dir.path(), fast_options()).unwrap();
    let stub = local
        .namespace(&SUITE)
        .await
        .unwrap()
        .get_by_name(name)
        .unwrap();
    loop {
        let (_, fired) = get(&stub, "/alarm/fired").await;
        if fired == "1" {
            break;
        }
        assert_eq!(fired, "0");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get(&stub, "/alarm").await.1, "null");
    // The storage of the first run is there too.
    assert_eq!(get(&stub, "/counter").await.1, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_runtime_makes_clients_fail_clearly() {
    let (_dir, local, target) = suite_target(fast_options()).await;
    let stub = target.namespace().get_by_name("dropped").unwrap();
    assert_eq!(get(&stub, "/counter").await.0, StatusCode::OK);
    drop(local);
    let error = stub
        .fetch(Request::get("/counter").body(ByteStream::empty()).unwrap())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("shut down"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_namespaces_and_bad_ids_are_refused_without_creating_anything() {
    let (dir, local, target) = suite_target(fast_options()).await;
    let namespace = target.namespace();

    let error = local
        .fetch(
            "nope",
            "x",
            Request::get("/").body(ByteStream::empty()).unwrap(),
        )
        .await
        .unwrap_err();
    match &error {
        ActorError::UnknownNamespace {
            namespace, known, ..
        } => {
            assert_eq!(namespace, "nope");
            assert_eq!(known, "conformance");
        }
        other => panic!("{other:?}"),
    }
    assert!(local.client("nope").is_err());

    let error = local
        .fetch(
            "conformance",
            "zz",
            Request::get("/").body(ByteStream::empty()).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ActorError::MalformedId { .. }), "{error}");

    // An id made up by hand, or one of another namespace, reaches no actor.
    for forged in [ActorId::new("garbage", None), ids_of_other_namespace()] {
        let error = namespace
            .get(&forged)
            .fetch(Request::get("/counter").body(ByteStream::empty()).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ActorError::MalformedId { .. } | ActorError::UnknownId { .. }
            ),
            "{error}"
        );
    }
    let actors = dir.path().join("actors").join("conformance");
    assert!(
        !actors.exists() || std::fs::read_dir(&actors).unwrap().next().is_none(),
        "a refused id created a database"
    );

    // A good id through the dev server's way in.
    let id = namespace.id_from_name("routed").unwrap();
    let response = local
        .fetch(
            "conformance",
            id.as_str(),
            Request::post("/counter").body(ByteStream::empty()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.into_body().collect(64).await.unwrap(), "1");
}

fn ids_of_other_namespace() -> ActorId {
    crate::actor::ActorIds::new("local")
        .from_name("elsewhere", "x")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_cannot_change_its_actor_type() {
    let (_dir, local, _target) = suite_target(fast_options()).await;
    static IMPOSTOR: Actors<Probe> = Actors::new("conformance");
    let error = local.namespace(&IMPOSTOR).await.unwrap_err();
    assert!(error.to_string().contains("registered already"), "{error}");
    // The same declaration again is fine.
    local.namespace(&SUITE).await.unwrap();
    assert_eq!(local.namespaces(), ["conformance"]);
    static BAD_ID: Actors<Probe> = Actors::new("no spaces allowed");
    assert!(local.namespace(&BAD_ID).await.is_err());
}

/// An actor for what the conformance actor does not do: panics, failing inits, floods,
/// oversized values, and a large in-memory state whose release on eviction is counted.
struct Probe {
    ctx: ActorContext,
    ballast: Vec<u8>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let name = self.ctx.id().name().unwrap_or_default().to_string();
        DROPPED.lock().unwrap().push(name);
    }
}

fn drops_of(name: &str) -> usize {
    DROPPED
        .lock()
        .unwrap()
        .iter()
        .filter(|n| *n == name)
        .count()
}

static DROPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FAIL_NEXT_INIT: AtomicBool = AtomicBool::new(false);

impl Actor for Probe {
    async fn init(ctx: ActorContext) -> Result<Self> {
        let failing = ctx.id().name() == Some("failing-init");
        if failing && FAIL_NEXT_INIT.swap(false, Ordering::SeqCst) {
            return Err(ActorError::handler("init failed on purpose"));
        }
        Ok(Probe {
            ctx,
            ballast: vec![1; 8 << 20],
        })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        match req.uri().path() {
            "/panic" => panic!("the handler panicked on purpose"),
            "/ballast" => Ok(Response::new(ByteStream::from(
                self.ballast.len().to_string(),
            ))),
            "/ws" => {
                let (_socket, response) = self.ctx.accept_websocket(&req, &[])?;
                Ok(response)
            }
            "/big" => {
                let size = self.ctx.capabilities().max_value_bytes + 1;
                self.ctx.storage().put_bytes("big", vec![0u8; size]).await?;
                Ok(Response::new(ByteStream::empty()))
            }
            "/long-key" => {
                let key = "k".repeat(self.ctx.capabilities().max_key_bytes + 1);
                self.ctx.storage().put_bytes(&key, "v").await?;
                Ok(Response::new(ByteStream::empty()))
            }
            "/unicode" => {
                let storage = self.ctx.storage();
                for key in ["p/\u{e9}", "p/z", "p/\u{1f600}", "p/a"] {
                    storage.put(key, &key).await?;
                }
                let keys: Vec<String> = storage.list::<String>("p/").await?.into_keys().collect();
                Ok(Response::new(ByteStream::from(keys.join(","))))
            }
            "/sql-reserved" => {
                let error = self
                    .ctx
                    .sql()?
                    .exec("SELECT * FROM _alchemy_kv", [])
                    .await
                    .unwrap_err();
                Ok(Response::new(ByteStream::from(error.to_string())))
            }
            "/sql-multi" => {
                let sql = self.ctx.sql()?;
                sql.exec(
                    "CREATE TABLE t (x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);",
                    [],
                )
                .await?;
                let rows = sql.exec("SELECT sum(x) AS total FROM t", []).await?;
                let total = rows.get(0, "total").and_then(|v| v.as_i64()).unwrap_or(-1);
                Ok(Response::new(ByteStream::from(total.to_string())))
            }
            _ => Ok(Response::new(ByteStream::from("probe"))),
        }
    }

    async fn on_message(&self, ws: &WebSocket, msg: Message) -> Result<()> {
        let text = msg.as_text().unwrap_or_default().to_string();
        if let Some(count) = text.strip_prefix("flood:") {
            let count: usize = count.parse().map_err(ActorError::handler)?;
            let chunk = "x".repeat(4096);
            for _ in 0..count {
                if let Err(error) = ws.send(chunk.as_str()) {
                    let mut report = FLOOD.lock().unwrap();
                    *report = Some(error.to_string());
                    return Ok(());
                }
            }
        } else if text == "attach-big" {
            let big = "a".repeat(self.ctx.capabilities().max_attachment_bytes + 1);
            let error = ws.serialize_attachment(&big).unwrap_err();
            ws.send(error.to_string())?;
        } else if text == "fail" {
            return Err(ActorError::handler("on_message failed on purpose"));
        } else {
            ws.send(format!("echo:{text}"))?;
        }
        Ok(())
    }
}

static FLOOD: Mutex<Option<String>> = Mutex::new(None);
static PROBES: Actors<Probe> = Actors::new("probes");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_its_request_and_the_actor_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalActors::open(dir.path(), fast_options()).unwrap();
    let probes = local.namespace(&PROBES).await.unwrap();
    let stub = probes.get_by_name("panicky").unwrap();
    assert_eq!(get(&stub, "/").await.1, "probe");
    let error = stub
        .fetch(Request::get("/panic").body(ByteStream::empty()).unwrap())
        .await
        .unwrap_err();
    match error {
        ActorError::HandlerFailed { message, .. } => {
            assert!(message.contains("panicked on purpose"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&stub, "/").await.1, "probe");
    assert_eq!(
        drops_of("panicky"),
        1,
        "the instance that panicked was dropped"
    );

    // An init that fails fails the request that needed it; the next one builds the actor.
    let fresh = probes.get_by_name("failing-init").unwrap();
    FAIL_NEXT_INIT.store(true, Ordering::SeqCst);
    let error = fresh
        .fetch(Request::get("/").body(ByteStream::empty()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, ActorError::InitFailed { .. }), "{error}");
    assert!(error.to_string().contains("init failed on purpose"));
    assert_eq!(get(&fresh, "/").await.1, "probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_frees_the_instance_while_its_socket_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let options = fast_options().idle_timeout(Duration::from_millis(20));
    let local = LocalActors::open(dir.path(), options).unwrap();
    let stub = local
        .namespace(&PROBES)
        .await
        .unwrap()
        .get_by_name("ballast")
        .unwrap();
    let mut socket = stub
        .connect(Request::get("/ws").body(ByteStream::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(ask(&mut socket, "hello").await, "echo:hello");
    assert_eq!(drops_of("ballast"), 0);
    // The 8 MiB state goes with the instance; the socket is all that is left of the actor.
    wait_until(|| drops_of("ballast") == 1).await;
    assert!(!local.is_loaded("probes", stub.id()));
    assert_eq!(ask(&mut socket, "again").await, "echo:again");
    assert_eq!(get(&stub, "/ballast").await.1, (8 << 20).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_limits_and_sql_rules_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalActors::open(dir.path(), fast_options().max_value_bytes(1024)).unwrap();
    let stub = local
        .namespace(&PROBES)
        .await
        .unwrap()
        .get_by_name("limits")
        .unwrap();
    for path in ["/big", "/long-key"] {
        let error = stub
            .fetch(Request::get(path).body(ByteStream::empty()).unwrap())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("limit"), "{path}: {message}");
    }
    assert_eq!(
        get(&stub, "/unicode").await.1,
        "p/a,p/z,p/\u{e9},p/\u{1f600}",
        "keys list in byte order"
    );
    let reserved = get(&stub, "/sql-reserved").await.1;
    assert!(reserved.contains("reserved"), "{reserved}");
    assert_eq!(get(&stub, "/sql-multi").await.1, "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_disconnected_instead_of_buffering_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let options = fast_options().send_buffer_bytes(256 * 1024);
    let local = LocalActors::open(dir.path(), options).unwrap();
    let stub = local
        .namespace(&PROBES)
        .await
        .unwrap()
        .get_by_name("flooded")
        .unwrap();
    let mut socket = stub
        .connect(Request::get("/ws").body(ByteStream::empty()).unwrap())
        .await
        .unwrap();
    // 10,000 messages of 4 KiB are 40 MiB; the client reads none of them while they are sent.
    socket.send("flood:10000").await.unwrap();
    wait_until(|| FLOOD.lock().unwrap().is_some()).await;
    let report = FLOOD.lock().unwrap().clone().unwrap();
    assert!(report.contains("send buffer"), "{report}");
    let mut received = 0usize;
    while socket.recv().await.is_some() {
        received += 1;
    }
    assert!(received < 10_000, "every message was buffered");
    let close = socket.close_frame().unwrap();
    assert_eq!(
        close.code,
        crate::actor::close_code::POLICY_VIOLATION,
        "{close:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_errors_are_reported_and_leave_the_socket_usable() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let dir = tempfile::tempdir().unwrap();
    let options = fast_options().on_error(move |report| {
        sink.lock().unwrap().push(report.to_string());
    });
    let local = LocalActors::open(dir.path(), options).unwrap();
    let stub = local
        .namespace(&PROBES)
        .await
        .unwrap()
        .get_by_name("socket-errors")
        .unwrap();
    let mut socket = stub
        .connect(Request::get("/ws").body(ByteStream::empty()).unwrap())
        .await
        .unwrap();
    let answer = ask(&mut socket, "attach-big").await;
    assert!(
        answer.contains("attachment") && answer.contains("limit"),
        "{answer}"
    );
    socket.send("fail").await.unwrap();
    assert_eq!(ask(&mut socket, "still here").await, "echo:still here");
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("on_message failed on purpose"),
        "{reports:?}"
    );
    assert!(reports[0].contains("probes/"), "{reports:?}");

    // A plain request with upgrade headers cannot be accepted: it has no connection.
    let mut req = Request::get("/ws").body(ByteStream::empty()).unwrap();
    crate::actor::add_upgrade_headers(&mut req, "a2V5").unwrap();
    let error = stub.fetch(req).await.unwrap_err();
    assert!(error.to_string().contains("ActorStub::connect"), "{error}");

    let req = Request::post("/ws").body(ByteStream::empty()).unwrap();
    let error = stub.connect(req).await;
    assert!(error.is_ok(), "connect makes any request a handshake");
    let _ = Method::GET;
}

/// WebSockets through the local HTTP server, as the dev server routes them.
mod over_http {
    use std::net::SocketAddr;

    use alchemy_http::websocket::connect;
    use alchemy_http::{handler_fn, serve, Server};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::actor::ActorNamespace;

    /// Serves the actor `name` of `namespace` at every path.
    async fn serve_actor(namespace: ActorNamespace<ConformanceActor>, name: &str) -> Server {
        let stub = namespace.get_by_name(name).unwrap();
        let handler = handler_fn(move |req: Request<ByteStream>| {
            let stub = stub.clone();
            async move { stub.fetch(req).await }
        });
        serve("127.0.0.1:0", handler).await.unwrap()
    }

    async fn text_of(socket: &mut alchemy_http::websocket::WebSocket) -> String {
        loop {
            match socket.recv().await {
                Some(Ok(alchemy_http::Message::Text(text))) => return text,
                Some(Ok(alchemy_http::Message::Ping(_) | alchemy_http::Message::Pong(_))) => {}
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sockets_upgraded_by_the_server_reach_the_actor_and_its_other_sockets() {
        let (_dir, _local, target) = suite_target(fast_options()).await;
        let server = serve_actor(target.namespace().clone(), "over-http").await;
        let url = format!("ws://{}/ws?name=ada&tags=http", server.local_addr());
        let mut ws = connect(&url).await.unwrap();
        assert_eq!(text_of(&mut ws).await, "welcome ada");
        ws.send(alchemy_http::Message::text("echo:over the wire"))
            .await
            .unwrap();
        assert_eq!(text_of(&mut ws).await, "echo:over the wire");

        // An in-process socket of the same actor hears the server's socket, and back.
        let stub = target.namespace().get_by_name("over-http").unwrap();
        let mut local = connect_in_process(&stub, "name=bob").await;
        local.recv().await;
        local.send("broadcast:hello").await.unwrap();
        assert_eq!(text_of(&mut ws).await, "bob:hello");
        assert_eq!(local.recv().await, Some(Message::Text("bob:hello".into())));

        ws.close(4000, "done").await.unwrap();
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_close() {
                break;
            }
        }
        loop {
            let (_, closed) = get(&stub, "/closed/ada").await;
            if closed != "null" {
                assert_eq!(closed, r#"[4000,"done"]"#);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.shutdown().await;
    }

    async fn connect_in_process(
        stub: &crate::actor::ActorStub,
        query: &str,
    ) -> WebSocketConnection {
        super::connect(stub, query).await
    }

    /// A raw client: the handshake by hand, then frames written byte by byte.
    async fn raw_socket(addr: SocketAddr, path: &str) -> TcpStream {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        tcp.write_all(handshake.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            tcp.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        tcp
    }

    /// A masked client frame with a short payload.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut bytes = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        bytes
    }

    /// Reads one unmasked server frame with a short payload.
    async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
        let mut header = [0u8; 2];
        tcp.read_exact(&mut header).await.unwrap();
        let len = (header[1] & 0x7f) as usize;
        assert!(len < 126, "a long frame");
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).await.unwrap();
        (header[0] & 0x0f, payload)
    }

    async fn read_text(tcp: &mut TcpStream) -> String {
        let (opcode, payload) = read_frame(tcp).await;
        assert_eq!(opcode, 1, "a text frame");
        String::from_utf8(payload).unwrap()
    }

    async fn read_close_code(tcp: &mut TcpStream) -> u16 {
        let (opcode, payload) = read_frame(tcp).await;
        assert_eq!(opcode, 8, "a close frame, got {payload:?}");
        u16::from_be_bytes([payload[0], payload[1]])
    }

    async fn wait_for_close(stub: &crate::actor::ActorStub, name: &str) -> (u16, String) {
        loop {
            let (_, closed) = get(stub, &format!("/closed/{name}")).await;
            if closed != "null" {
                return serde_json::from_str(&closed).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_frames_close_the_socket_with_the_right_code_and_lose_nothing() {
        let (_dir, _local, target) = suite_target(fast_options()).await;
        let server = serve_actor(target.namespace().clone(), "malformed").await;
        let stub = target.namespace().get_by_name("malformed").unwrap();
        let mut bystander = connect_in_process(&stub, "name=bystander").await;
        bystander.recv().await;

        // An unmasked client frame breaks the protocol: 1002.
        let mut tcp = raw_socket(server.local_addr(), "/ws?name=unmasked").await;
        assert_eq!(read_text(&mut tcp).await, "welcome unmasked");
        tcp.write_all(&frame(1, b"count")).await.unwrap();
        assert_eq!(read_text(&mut tcp).await, "count:1");
        tcp.write_all(&[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'])
            .await
            .unwrap();
        assert_eq!(read_close_code(&mut tcp).await, 1002);
        let (code, reason) = wait_for_close(&stub, "unmasked").await;
        assert_eq!(code, 1002, "{reason}");

        // Text that is not UTF-8: 1007.
        let mut tcp = raw_socket(server.local_addr(), "/ws?name=latin1").await;
        assert_eq!(read_text(&mut tcp).await, "welcome latin1");
        tcp.write_all(&frame(1, &[0x63, 0xff, 0xfe])).await.unwrap();
        assert_eq!(read_close_code(&mut tcp).await, 1007);
        assert_eq!(wait_for_close(&stub, "latin1").await.0, 1007);

        // A reserved opcode: 1002.
        let mut tcp = raw_socket(server.local_addr(), "/ws?name=opcode").await;
        assert_eq!(read_text(&mut tcp).await, "welcome opcode");
        tcp.write_all(&frame(3, b"?")).await.unwrap();
        assert_eq!(read_close_code(&mut tcp).await, 1002);
        assert_eq!(wait_for_close(&stub, "opcode").await.0, 1002);

        // Nothing was lost: the count made before the bad frame, and the other socket.
        assert_eq!(get(&stub, "/counter").await.1, "1");
        bystander.send("count").await.unwrap();
        assert_eq!(
            bystander.recv().await,
            Some(Message::Text("count:2".into()))
        );
        let (_, open) = get(&stub, "/sockets").await;
        assert_eq!(open, r#"["bystander"]"#);
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handshake_the_actor_refuses_gets_the_actors_answer() {
        let (_dir, _local, target) = suite_target(fast_options()).await;
        let server = serve_actor(target.namespace().clone(), "refusing").await;
        // `/counter` does not accept WebSockets: the client sees a plain answer, not a socket.
        let url = format!("ws://{}/counter", server.local_addr());
        let error = connect(&url).await.unwrap_err();
        assert!(error.to_string().contains("200"), "{error}");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_loaded_the_least_recently_used_instance_is_evicted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalActors::open(dir.path(), fast_options().max_loaded(2)).expect("open");
    let namespace = local.namespace(&SUITE).await.expect("namespace");
    let stubs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| namespace.get_by_name(name).unwrap())
        .collect();
    for stub in &stubs {
        let req = Request::post("/counter").body(ByteStream::empty()).unwrap();
        assert_eq!(stub.fetch(req).await.unwrap().status(), StatusCode::OK);
    }
    // Building `c` evicted `a`, the least recently used; `b` and `c` stay built.
    wait_until(|| !local.is_loaded("conformance", stubs[0].id())).await;
    assert!(local.is_loaded("conformance", stubs[1].id()));
    assert!(local.is_loaded("conformance", stubs[2].id()));
    // `a` is rebuilt on its next request, its storage intact.
    assert_eq!(
        get(&stubs[0], "/counter").await,
        (StatusCode::OK, "1".to_string())
    );
    wait_until(|| !local.is_loaded("conformance", stubs[1].id())).await;
}
