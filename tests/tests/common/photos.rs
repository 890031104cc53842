//! Checks of photo-share's HTTP API over real sockets, for every place it runs: `photo-share
//! dev` (`photo_share.rs`), the Cloudflare stage in workerd (`photo_share_workerd.rs`) and the
//! AWS stage's function URL in MiniStack (`photo_share_aws.rs`, all but the chat). Each takes a
//! client on the server's base URL and names its own photos and rooms, so that one server can
//! take several checks.

use alchemy::http::client::Client;
use alchemy::http::websocket::{connect, WebSocket};
use alchemy::http::Message;
use alchemy_stream::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, StatusCode};

/// A request with a body.
pub fn request(method: Method, path: &str, body: impl Into<ByteStream>) -> Request<ByteStream> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(body.into())
        .expect("a valid request")
}

/// A `GET` of `path` with a `Range` header.
pub fn ranged(path: &str, range: &str) -> Request<ByteStream> {
    Request::get(path)
        .header("range", range)
        .body(ByteStream::empty())
        .expect("a valid request")
}

/// Sends `req` and reads the whole answer as text.
pub async fn text(client: &Client, req: Request<ByteStream>) -> (StatusCode, String) {
    let what = format!("{} {}", req.method(), req.uri());
    let res = client
        .send(req)
        .await
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    let status = res.status();
    let body = res
        .into_body()
        .collect(1 << 20)
        .await
        .unwrap_or_else(|error| panic!("{what}: reading the body: {error}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A `GET` of `path`, as text.
pub async fn get(client: &Client, path: &str) -> (StatusCode, String) {
    text(client, request(Method::GET, path, ByteStream::empty())).await
}

/// `len` bytes that are not all alike, in `chunk`-byte chunks of a stream of declared length
/// (so it goes out with a `Content-Length`, chunk by chunk), and their MD5.
pub fn patterned_body(len: usize, chunk: usize) -> (ByteStream, String) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i * 31 % 251) as u8 ^ (i >> 16) as u8)
        .collect();
    let md5 = format!("{:x}", md5::compute(&bytes));
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk)
        .map(|part| Ok(Bytes::copy_from_slice(part)))
        .collect();
    let stream = ByteStream::from_stream(futures::stream::iter(chunks)).with_exact_len(len as u64);
    (stream, md5)
}

/// Uploads `len` bytes streamed as `name`, downloads them back (streamed, read chunk by chunk)
/// and checks that the same bytes came back; returns their MD5.
pub async fn upload_and_download(client: &Client, name: &str, len: usize) -> String {
    let (body, sent) = patterned_body(len, 64 << 10);
    let path = format!("/photos/{name}");
    let res = client
        .send(request(Method::PUT, &path, body))
        .await
        .expect("the upload is answered");
    let status = res.status();
    let answer = res.into_body().collect(1 << 20).await.expect("a body");
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let res = client
        .send(request(Method::GET, &path, ByteStream::empty()))
        .await
        .expect("the download is answered");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], len.to_string().as_str());
    let mut body = res.into_body();
    let mut got = md5::Context::new();
    let mut received = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("a chunk of the download");
        received += chunk.len();
        got.consume(&chunk);
    }
    assert_eq!(received, len, "the whole photo came back");
    assert_eq!(
        format!("{:x}", got.compute()),
        sent,
        "the same bytes came back"
    );
    sent
}

/// Two photos of 100 digits under `prefix`: ranges (206 with the right bytes and
/// `Content-Range`, a suffix, 416 past the end), the sorted list, invalid names (400), a
/// missing photo (404), and a delete that keeps the other photo.
pub async fn ranges_list_delete_and_bad_names(client: &Client, prefix: &str) {
    let digits: String = (0..100)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    let (a, b) = (format!("{prefix}a.jpg"), format!("{prefix}b.jpg"));
    for name in [&b, &a] {
        let (status, body) = text(
            client,
            request(Method::PUT, &format!("/photos/{name}"), digits.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, list) = get(client, "/photos").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = serde_json::from_str(&list).expect("a JSON list");
    let ours: Vec<&String> = names.iter().filter(|n| n.starts_with(prefix)).collect();
    assert_eq!(ours, [&a, &b], "the list is sorted: {list}");

    let res = client
        .send(ranged(&format!("/photos/{a}"), "bytes=10-14"))
        .await
        .expect("a ranged read");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 10-14/100");
    assert_eq!(res.into_body().collect(100).await.expect("a body"), "01234");
    let res = client
        .send(ranged(&format!("/photos/{a}"), "bytes=-3"))
        .await
        .expect("a suffix read");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.into_body().collect(100).await.expect("a body"), "789");
    let (status, body) = text(client, ranged(&format!("/photos/{a}"), "bytes=500-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{body}");

    let (status, body) = text(client, request(Method::PUT, "/photos/.secret", "x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid photo name `.secret`"), "{body}");
    let (status, body) = get(client, "/photos/sp%20ace/views").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get(client, &format!("/photos/{prefix}missing.jpg")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = text(
        client,
        request(Method::DELETE, &format!("/photos/{a}"), ByteStream::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = get(client, "/photos").await;
    let names: Vec<String> = serde_json::from_str(&list).expect("a JSON list");
    let ours: Vec<&String> = names.iter().filter(|n| n.starts_with(prefix)).collect();
    assert_eq!(ours, [&b], "{list}");
    assert_eq!(get(client, &format!("/photos/{b}")).await.1, digits);
    let (status, _) = get(client, &format!("/photos/{a}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted photo is gone");
}

/// `clients` concurrent clients each count `views` views of `name`; the count is their product.
pub async fn concurrent_views(client: &Client, name: &str, clients: usize, views: usize) {
    let path = format!("/photos/{name}/views");
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            let path = path.clone();
            tokio::spawn(async move {
                for _ in 0..views {
                    let (status, body) =
                        text(&client, request(Method::POST, &path, ByteStream::empty())).await;
                    assert_eq!(status, StatusCode::OK, "{body}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task");
    }
    let (status, body) = get(client, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!(r#"{{"views":{}}}"#, clients * views));
}

/// The next text message on `socket` (pings and pongs skipped).
pub async fn next_text(socket: &mut WebSocket) -> String {
    loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => return text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The WebSocket URL of `room` on the server at `base` (`http://...`).
pub fn room_url(base: &str, room: &str) -> String {
    format!("{}/rooms/{room}/ws", base.replacen("http://", "ws://", 1))
}

/// Two members of `room` chat (each message reaches both), a newcomer gets the history, and
/// the history is kept; a plain `GET` of the socket path is told to upgrade.
pub async fn chat_with_history(client: &Client, base: &str, room: &str) {
    let url = room_url(base, room);
    let mut alice = connect(&url).await.expect("alice joins");
    let mut bob = connect(&url).await.expect("bob joins");
    alice.send(Message::text("hi bob")).await.expect("send");
    assert_eq!(next_text(&mut alice).await, r#"{"seq":1,"text":"hi bob"}"#);
    assert_eq!(next_text(&mut bob).await, r#"{"seq":1,"text":"hi bob"}"#);
    bob.send(Message::text("hi alice")).await.expect("send");
    assert_eq!(
        next_text(&mut alice).await,
        r#"{"seq":2,"text":"hi alice"}"#
    );
    assert_eq!(next_text(&mut bob).await, r#"{"seq":2,"text":"hi alice"}"#);

    let mut carol = connect(&url).await.expect("carol joins");
    assert_eq!(next_text(&mut carol).await, r#"{"seq":1,"text":"hi bob"}"#);
    assert_eq!(
        next_text(&mut carol).await,
        r#"{"seq":2,"text":"hi alice"}"#
    );
    carol.send(Message::text("hello all")).await.expect("send");
    for member in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(next_text(member).await, r#"{"seq":3,"text":"hello all"}"#);
    }

    let (status, history) = get(client, &format!("/rooms/{room}/history")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        history,
        r#"[{"seq":1,"text":"hi bob"},{"seq":2,"text":"hi alice"},{"seq":3,"text":"hello all"}]"#
    );
    let (status, _) = get(client, &format!("/rooms/{room}/ws")).await;
    assert_eq!(
        status,
        StatusCode::UPGRADE_REQUIRED,
        "a plain GET is told to upgrade"
    );
    for member in [&mut alice, &mut bob, &mut carol] {
        member.close(1000, "bye").await.expect("close");
    }
}

/// An announcement set `in_ms` ahead in `room` reaches a member when the room's alarm fires,
/// and stays in the history; an announcement without a time is refused.
pub async fn alarm_announcement(client: &Client, base: &str, room: &str, in_ms: u64) {
    let mut watcher = connect(&room_url(base, room))
        .await
        .expect("the watcher joins");
    let (status, body) = text(
        client,
        request(
            Method::POST,
            &format!("/rooms/{room}/announce?in_ms={in_ms}"),
            "doors open",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, format!(r#"{{"announce_in_ms":{in_ms}}}"#));
    assert_eq!(
        next_text(&mut watcher).await,
        r#"{"seq":1,"text":"announcement: doors open"}"#
    );
    let (_, history) = get(client, &format!("/rooms/{room}/history")).await;
    assert_eq!(history, r#"[{"seq":1,"text":"announcement: doors open"}]"#);
    let (status, body) = text(
        client,
        request(Method::POST, &format!("/rooms/{room}/announce"), "no time"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    watcher.close(1000, "bye").await.expect("close");
}
