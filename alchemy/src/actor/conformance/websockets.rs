//! WebSockets: echo, broadcast by tag, attachments, closing and refusals.

use http::{Method, Request};

use super::{call_json, Target};
use crate::actor::{ActorError, ActorStub, ByteStream, Message, WebSocketConnection};

async fn connect(stub: &ActorStub, query: &str) -> WebSocketConnection {
    let req = Request::get(format!("/ws?{query}"))
        .body(ByteStream::empty())
        .expect("request");
    stub.connect(req)
        .await
        .unwrap_or_else(|e| panic!("connecting with {query:?} failed: {e}"))
}

async fn expect_text(socket: &mut WebSocketConnection, expected: &str) {
    match socket.recv().await {
        Some(Message::Text(text)) => assert_eq!(text, expected),
        other => panic!("expected the message {expected:?}, got {other:?}"),
    }
}

/// Messages reach the actor and its answers come back, text and binary, in order.
pub async fn websocket_echo(target: &Target) {
    let stub = target.fresh("ws-echo");
    let mut socket = connect(&stub, "name=ada").await;
    expect_text(&mut socket, "welcome ada").await;
    for n in 0..20 {
        socket.send(format!("echo:{n}")).await.expect("send");
    }
    for n in 0..20 {
        expect_text(&mut socket, &format!("echo:{n}")).await;
    }
    let binary = Message::Binary(vec![0u8, 159, 146, 150].into());
    socket.send(binary.clone()).await.expect("send");
    assert_eq!(socket.recv().await, Some(binary), "{}", target.provider());
    socket.send("count").await.expect("send");
    expect_text(&mut socket, "count:1").await;
    assert_eq!(
        call_json::<u64>(&stub, Method::GET, "/counter", "").await,
        1
    );
}

/// A broadcast reaches every socket; a tagged one only the sockets with the tag.
pub async fn websocket_broadcast(target: &Target) {
    let stub = target.fresh("ws-broadcast");
    let mut red = connect(&stub, "name=red&tags=warm,all").await;
    let mut orange = connect(&stub, "name=orange&tags=warm,all").await;
    let mut blue = connect(&stub, "name=blue&tags=all").await;
    for (socket, name) in [
        (&mut red, "red"),
        (&mut orange, "orange"),
        (&mut blue, "blue"),
    ] {
        expect_text(socket, &format!("welcome {name}")).await;
    }
    let warm: Vec<String> = call_json(&stub, Method::GET, "/sockets?tag=warm", "").await;
    assert_eq!(warm, ["red", "orange"], "{}", target.provider());
    let all: Vec<String> = call_json(&stub, Method::GET, "/sockets", "").await;
    assert_eq!(all, ["red", "orange", "blue"]);

    blue.send("broadcast:hello").await.expect("send");
    for socket in [&mut red, &mut orange, &mut blue] {
        expect_text(socket, "blue:hello").await;
    }
    red.send("tagged:warm:cosy").await.expect("send");
    expect_text(&mut red, "tagged:cosy").await;
    expect_text(&mut orange, "tagged:cosy").await;
    // Blue got nothing: the next thing it hears is its own echo.
    blue.send("echo:only-me").await.expect("send");
    expect_text(&mut blue, "echo:only-me").await;
}

/// A socket's attachment is its own, and survives being replaced.
pub async fn websocket_attachments(target: &Target) {
    let stub = target.fresh("ws-attachments");
    let mut first = connect(&stub, "name=first").await;
    let mut second = connect(&stub, "name=second").await;
    expect_text(&mut first, "welcome first").await;
    expect_text(&mut second, "welcome second").await;
    first.send("whoami").await.expect("send");
    expect_text(&mut first, "you are first").await;
    second.send("rename:zweite").await.expect("send");
    expect_text(&mut second, "renamed zweite").await;
    second.send("whoami").await.expect("send");
    expect_text(&mut second, "you are zweite").await;
    first.send("whoami").await.expect("send");
    expect_text(&mut first, "you are first").await;
}

/// Closing from either side: the client's close reaches `on_close` with its code and
/// reason; the actor's close reaches the client, and the socket leaves the actor's list.
pub async fn websocket_close(target: &Target) {
    let stub = target.fresh("ws-close");
    let mut leaving = connect(&stub, "name=leaving").await;
    expect_text(&mut leaving, "welcome leaving").await;
    leaving.close(4000, "bye").await.expect("close");
    assert_eq!(leaving.recv().await, None);
    let closed: (u16, String) = target
        .eventually(|| async {
            call_json::<Option<(u16, String)>>(&stub, Method::GET, "/closed/leaving", "").await
        })
        .await;
    assert_eq!(closed, (4000, "bye".to_string()), "{}", target.provider());

    let mut kicked = connect(&stub, "name=kicked").await;
    expect_text(&mut kicked, "welcome kicked").await;
    kicked.send("close").await.expect("send");
    assert_eq!(kicked.recv().await, None);
    let frame = kicked.close_frame().expect("a close frame").clone();
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (4001, "closed by the actor")
    );
    target
        .eventually(|| async {
            let open: Vec<String> = call_json(&stub, Method::GET, "/sockets", "").await;
            open.is_empty().then_some(())
        })
        .await;
}

/// A request the actor does not accept as a WebSocket fails to connect, clearly.
pub async fn websocket_refused(target: &Target) {
    let stub = target.fresh("ws-refused");
    let req = Request::get("/counter")
        .body(ByteStream::empty())
        .expect("request");
    match stub.connect(req).await {
        Err(ActorError::NotWebSocketUpgrade { reason }) => {
            assert!(reason.contains("200"), "{reason}")
        }
        other => panic!(
            "{}: connecting to a plain route gave {other:?}",
            target.provider()
        ),
    }
}
