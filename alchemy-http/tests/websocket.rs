//! WebSockets on the local server: the upgrade, messages both ways, the close handshake,
//! subprotocols, and protocol errors answered with the right close code.

use std::sync::Arc;

use alchemy_http::client::Client;
use alchemy_http::websocket::{
    self, accept_with, close_code, connect, connect_with, CloseFrame, Message, WebSocketConfig,
    WebSocketError,
};
use alchemy_http::{handler_fn, serve, ByteStream, HttpHandler, Server};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What the server side of a socket saw: each message, then how the socket ended.
#[derive(Debug, PartialEq)]
enum Seen {
    Message(Message),
    Failed {
        close_code: Option<u16>,
        error: String,
    },
    Ended,
}

/// A handler that accepts WebSockets with `config`, echoes text and binary messages, and
/// reports everything it sees on `seen`.
fn echo_handler(config: WebSocketConfig, seen: mpsc::UnboundedSender<Seen>) -> impl HttpHandler {
    let config = Arc::new(config);
    handler_fn(move |request: Request<ByteStream>| {
        let config = Arc::clone(&config);
        let seen = seen.clone();
        async move {
            if !websocket::is_upgrade_request(&request) {
                return Response::new(ByteStream::from("not a websocket"));
            }
            let (response, upgrading) = match accept_with(request, &config) {
                Ok(accepted) => accepted,
                Err(refused) => return refused.into_response(),
            };
            tokio::spawn(async move {
                let mut socket = upgrading.await.expect("the upgrade completes");
                loop {
                    match socket.recv().await {
                        Some(Ok(message)) => {
                            let reply = match &message {
                                Message::Text(_) | Message::Binary(_) => Some(message.clone()),
                                _ => None,
                            };
                            let _ = seen.send(Seen::Message(message));
                            if let Some(reply) = reply {
                                socket.send(reply).await.expect("the echo is sent");
                            }
                        }
                        Some(Err(error)) => {
                            let close_code = error.close_code();
                            let _ = seen.send(Seen::Failed {
                                close_code,
                                error: format!("{error:?}"),
                            });
                            break;
                        }
                        None => {
                            let _ = seen.send(Seen::Ended);
                            break;
                        }
                    }
                }
            });
            response
        }
    })
}

async fn echo_server(config: WebSocketConfig) -> (Server, mpsc::UnboundedReceiver<Seen>) {
    let (seen, seen_rx) = mpsc::unbounded_channel();
    let server = serve("127.0.0.1:0", echo_handler(config, seen))
        .await
        .unwrap();
    (server, seen_rx)
}

fn ws_url(server: &Server) -> String {
    format!("ws://{}/socket", server.local_addr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_both_ways_and_the_close_handshake_completes() {
    let (server, mut seen) = echo_server(WebSocketConfig::new()).await;
    let mut socket = connect(&ws_url(&server)).await.unwrap();

    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    socket
        .send(Message::binary(vec![0u8, 159, 255]))
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 159, 255])
    );
    let large = Bytes::from(vec![42u8; 1 << 20]);
    socket.send(Message::Binary(large.clone())).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Binary(large.clone())
    );

    socket
        .send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there")),
        "the server did not answer the ping"
    );

    socket.close(close_code::NORMAL, "done").await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::close(close_code::NORMAL, "done"),
        "the server did not answer the close"
    );
    assert!(
        socket.recv().await.is_none(),
        "the stream goes on after the close"
    );

    let expected = [
        Seen::Message(Message::text("hello")),
        Seen::Message(Message::binary(vec![0u8, 159, 255])),
        Seen::Message(Message::Binary(large)),
        Seen::Message(Message::Ping(Bytes::from_static(b"are you there"))),
        Seen::Message(Message::close(close_code::NORMAL, "done")),
        Seen::Ended,
    ];
    for expected in expected {
        assert_eq!(seen.recv().await.unwrap(), expected);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_side_can_close_first() {
    let (report, server_saw) = mpsc::unbounded_channel();
    let closer = handler_fn(move |request: Request<ByteStream>| {
        let report = report.clone();
        async move {
            let (response, upgrading) = websocket::accept(request).unwrap();
            tokio::spawn(async move {
                let mut socket = upgrading.await.unwrap();
                socket.close(4000, "room closed").await.unwrap();
                // The client's answer, then the end of the stream.
                let _ = report.send(socket.recv().await.map(|message| message.unwrap()));
                let _ = report.send(socket.recv().await.map(|message| message.unwrap()));
            });
            response
        }
    });
    let server = serve("127.0.0.1:0", closer).await.unwrap();
    let mut socket = connect(&ws_url(&server)).await.unwrap();
    let close = socket.recv().await.unwrap().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(CloseFrame::new(4000, "room closed")))
    );
    assert!(socket.recv().await.is_none());

    let mut server_saw = server_saw;
    assert_eq!(
        server_saw.recv().await.unwrap(),
        Some(Message::close(4000, "room closed")),
        "the server did not receive the client's answer"
    );
    assert_eq!(server_saw.recv().await.unwrap(), None);
}

#[tokio::test]
async fn a_plain_request_to_a_websocket_route_gets_426() {
    let refuse = handler_fn(|request: Request<ByteStream>| async move {
        match websocket::accept(request) {
            Ok((response, _)) => response,
            Err(refused) => refused.into_response(),
        }
    });
    let server = serve("127.0.0.1:0", refuse).await.unwrap();
    let client = Client::new(&server.url()).unwrap();
    let response = client
        .send(Request::get("/socket").body(ByteStream::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["upgrade"], "websocket");
    let text = response.into_body().collect(1024).await.unwrap();
    assert!(String::from_utf8_lossy(&text).contains("Upgrade: websocket"));
}

#[tokio::test]
async fn the_first_supported_subprotocol_is_agreed_on() {
    let (server, _seen) =
        echo_server(WebSocketConfig::new().protocols(["chat.v2", "chat.v1"])).await;
    let offer = WebSocketConfig::new().protocols(["chat.v1", "chat.v2"]);
    let socket = connect_with(&ws_url(&server), &offer).await.unwrap();
    assert_eq!(socket.protocol(), Some("chat.v2"));
    let socket = connect(&ws_url(&server)).await.unwrap();
    assert_eq!(socket.protocol(), None);
}

#[tokio::test]
async fn messages_that_may_not_be_sent_are_refused_before_the_wire() {
    let (server, _seen) = echo_server(WebSocketConfig::new()).await;
    let mut socket = connect(&ws_url(&server)).await.unwrap();
    let error = socket
        .send(Message::close(close_code::ABNORMAL, ""))
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebSocketError::InvalidCloseCode { code: 1006 }),
        "{error:?}"
    );
    let error = socket
        .send(Message::Ping(Bytes::from(vec![0u8; 126])))
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebSocketError::ControlTooLong { len: 126 }),
        "{error:?}"
    );
    let error = socket
        .send(Message::close(close_code::NORMAL, "x".repeat(124)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebSocketError::ControlTooLong { .. }),
        "{error:?}"
    );
    // The socket is still usable.
    socket.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn client_errors_name_the_url_and_the_fix() {
    let error = connect("wss://example.invalid/socket").await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("wss://example.invalid/socket"), "{text}");
    assert!(text.contains("use ws://"), "{text}");
    let error = connect("http://127.0.0.1:1/socket").await.unwrap_err();
    assert!(
        error.to_string().contains("must start with ws://"),
        "{error}"
    );
}

#[tokio::test]
async fn an_open_websocket_does_not_hold_up_shutdown() {
    let (server, _seen) = echo_server(WebSocketConfig::new()).await;
    let mut socket = connect(&ws_url(&server)).await.unwrap();
    socket.send(Message::text("hi")).await.unwrap();
    assert_eq!(socket.recv().await.unwrap().unwrap(), Message::text("hi"));
    server.shutdown().await;
    socket.send(Message::text("after shutdown")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("after shutdown")
    );
}

#[tokio::test]
async fn an_axum_route_accepts_websockets() {
    let route = axum::routing::get(|request: axum::extract::Request| async move {
        let (response, upgrading) = match websocket::accept(request) {
            Ok(accepted) => accepted,
            Err(refused) => return refused.into_response(),
        };
        tokio::spawn(async move {
            let mut socket = upgrading.await.unwrap();
            while let Some(Ok(Message::Text(text))) = socket.recv().await {
                socket
                    .send(Message::text(text.to_uppercase()))
                    .await
                    .unwrap();
            }
        });
        response
    });
    let router = axum::Router::new().route("/socket", route);
    let server = serve("127.0.0.1:0", router).await.unwrap();
    let mut socket = connect(&ws_url(&server)).await.unwrap();
    socket.send(Message::text("shout")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("SHOUT")
    );
}

// Protocol errors, sent by a hand-written client over a raw TCP stream.

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A raw connection that has completed the handshake.
async fn raw_socket(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let handshake = format!(
        "GET /socket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    stream
}

/// A frame: FIN and RSV1 bits, opcode, payload, masked with a fixed key or not.
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut frame = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
    let mask_bit = u8::from(masked) << 7;
    match payload.len() {
        len @ 0..=125 => frame.push(mask_bit | len as u8),
        len @ 126..=65_535 => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(mask_bit | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37u8, 0xfa, 0x21, 0x3d];
        frame.extend_from_slice(&key);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, byte)| byte ^ key[i % 4]),
        );
    } else {
        frame.extend_from_slice(payload);
    }
    frame
}

/// Reads the server's frames until a close frame, returns its code, and checks that the
/// server then closes the connection.
async fn close_code_from(stream: &mut TcpStream) -> u16 {
    loop {
        let first = stream.read_u8().await.unwrap();
        let len = match stream.read_u8().await.unwrap() & 0x7f {
            126 => u64::from(stream.read_u16().await.unwrap()),
            127 => stream.read_u64().await.unwrap(),
            len => u64::from(len),
        };
        let mut payload = vec![0; len as usize];
        stream.read_exact(&mut payload).await.unwrap();
        if first & 0x0f == 0x8 {
            assert!(payload.len() >= 2, "a close frame without a code");
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let mut rest = Vec::new();
            let end = stream.read_to_end(&mut rest).await;
            assert!(
                matches!(end, Ok(0)) || end.is_err(),
                "the server kept the connection open after the close frame"
            );
            return code;
        }
    }
}

/// Sends `bytes` as the client, and checks the close code the server answers with and the
/// error its socket reported.
async fn expect_failure(bytes: &[u8], code: u16, error_kind: &str) {
    let config = WebSocketConfig::new()
        .max_message_size(1024)
        .max_frame_size(1024);
    let (server, mut seen) = echo_server(config).await;
    let mut stream = raw_socket(&server).await;
    stream.write_all(bytes).await.unwrap();
    assert_eq!(
        close_code_from(&mut stream).await,
        code,
        "for a {error_kind}"
    );
    match seen.recv().await.unwrap() {
        Seen::Failed { close_code, error } => {
            assert_eq!(close_code, Some(code), "{error}");
            assert!(
                error.starts_with(error_kind),
                "expected {error_kind}, got {error}"
            );
        }
        other => panic!("the server's socket did not fail: {other:?}"),
    }
}

#[tokio::test]
async fn reserved_bits_give_1002() {
    expect_failure(&frame(true, true, 0x1, b"hi", true), 1002, "Protocol").await;
}

#[tokio::test]
async fn unmasked_client_frames_give_1002() {
    expect_failure(&frame(true, false, 0x1, b"hi", false), 1002, "Protocol").await;
}

#[tokio::test]
async fn unknown_opcodes_give_1002() {
    expect_failure(&frame(true, false, 0x3, b"hi", true), 1002, "Protocol").await;
}

#[tokio::test]
async fn oversized_control_frames_give_1002() {
    expect_failure(
        &frame(true, false, 0x9, &[0u8; 126], true),
        1002,
        "Protocol",
    )
    .await;
}

#[tokio::test]
async fn a_continuation_without_a_start_gives_1002() {
    expect_failure(&frame(true, false, 0x0, b"orphan", true), 1002, "Protocol").await;
}

#[tokio::test]
async fn text_that_is_not_utf8_gives_1007() {
    expect_failure(
        &frame(true, false, 0x1, &[0x68, 0xff, 0xfe], true),
        1007,
        "InvalidUtf8",
    )
    .await;
}

#[tokio::test]
async fn text_split_inside_a_character_is_still_checked_whole() {
    let euro = "€".as_bytes();
    let mut bytes = frame(false, false, 0x1, &euro[..1], true);
    bytes.extend(frame(true, false, 0x0, &[0xff], true));
    expect_failure(&bytes, 1007, "InvalidUtf8").await;
}

#[tokio::test]
async fn a_frame_over_the_limit_gives_1009() {
    expect_failure(
        &frame(true, false, 0x2, &[1u8; 2048], true),
        1009,
        "MessageTooBig",
    )
    .await;
}

#[tokio::test]
async fn fragments_adding_up_over_the_limit_give_1009() {
    let mut bytes = frame(false, false, 0x2, &[1u8; 800], true);
    bytes.extend(frame(true, false, 0x0, &[2u8; 800], true));
    expect_failure(&bytes, 1009, "MessageTooBig").await;
}

#[tokio::test]
async fn a_valid_fragmented_message_arrives_whole() {
    let (server, mut seen) = echo_server(WebSocketConfig::new()).await;
    let mut stream = raw_socket(&server).await;
    let mut bytes = frame(false, false, 0x1, "hel".as_bytes(), true);
    bytes.extend(frame(true, false, 0x9, b"ping in between", true));
    bytes.extend(frame(true, false, 0x0, "lo €".as_bytes(), true));
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(
        seen.recv().await.unwrap(),
        Seen::Message(Message::Ping(Bytes::from_static(b"ping in between")))
    );
    assert_eq!(
        seen.recv().await.unwrap(),
        Seen::Message(Message::text("hello €"))
    );
}

#[tokio::test]
async fn a_peer_that_vanishes_is_an_io_error_without_a_close_code() {
    let (server, mut seen) = echo_server(WebSocketConfig::new()).await;
    let stream = raw_socket(&server).await;
    drop(stream);
    match seen.recv().await.unwrap() {
        Seen::Failed { close_code, error } => {
            assert_eq!(close_code, None);
            assert!(error.starts_with("Io"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}
