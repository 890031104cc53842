//! End to end against `photo-share dev` over real sockets. The checks in `common::photos` run
//! here and against the Worker in workerd (`photo_share_workerd.rs`) alike.

mod common;

use std::sync::{Arc, Mutex};

use alchemy::http::client::Client;
use alchemy_stream::ByteStream;
use bytes::Bytes;
use common::dev::Dev;
use common::photos::{self, next_text, request, text};
use futures::StreamExt;
use http::{Method, Request, StatusCode};

const GIB: u64 = 1 << 30;
const CHUNK: usize = 256 << 10;

/// 1 GiB of bytes that are not all alike, produced chunk by chunk, and their MD5.
fn big_body(md5: Arc<Mutex<md5::Context>>) -> ByteStream {
    let block: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let chunks = (GIB as usize) / CHUNK;
    let stream = futures::stream::iter(0..chunks).map(move |i| {
        let mut chunk = block.clone();
        chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        md5.lock().unwrap().consume(&chunk);
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    ByteStream::from_stream(stream).with_exact_len(GIB)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_goes_up_and_down_with_bounded_server_memory() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    let before = dev.peak_rss_kib();

    let sent = Arc::new(Mutex::new(md5::Context::new()));
    let res = client
        .send(request(
            Method::PUT,
            "/photos/big.bin",
            big_body(sent.clone()),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let sent = format!("{:x}", sent.lock().unwrap().clone().compute());
    let etag = res.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert_eq!(
        etag, sent,
        "the stored object's etag is the MD5 of what was sent"
    );

    let res = client
        .send(request(Method::GET, "/photos/big.bin", ByteStream::empty()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], GIB.to_string().as_str());
    let mut body = res.into_body();
    let mut got = md5::Context::new();
    let mut len = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        len += chunk.len() as u64;
        got.consume(&chunk);
    }
    assert_eq!(len, GIB);
    assert_eq!(
        format!("{:x}", got.compute()),
        sent,
        "the same bytes came back"
    );

    let peak = dev.peak_rss_kib();
    println!(
        "photo-share dev peak RSS: {} MiB before, {} MiB after moving 1 GiB up and down",
        before / 1024,
        peak / 1024
    );
    assert!(
        peak < 128 * 1024,
        "the server buffered the body: peak RSS {} MiB",
        peak / 1024
    );
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_create_if_absent_puts_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let req = Request::put("/photos/race.jpg")
                    .header("if-none-match", "*")
                    .body(ByteStream::from(format!("writer {i}")))
                    .unwrap();
                let res = client.send(req).await.unwrap();
                (i, res.status())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, status) = t.await.unwrap();
        match status {
            StatusCode::CREATED => winners.push(i),
            StatusCode::PRECONDITION_FAILED => {}
            other => panic!("writer {i}: unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let (status, body) = text(
        &client,
        request(Method::GET, "/photos/race.jpg", ByteStream::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!("writer {}", winners[0]),
        "the winner's bytes are stored"
    );
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_list_range_delete_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[("PHOTO_SHARE_MAX_PHOTO_BYTES", "1000")]);
    let client = Client::new(&dev.url).unwrap();
    photos::ranges_list_delete_and_bad_names(&client, "").await;

    // Bad input: a clear error, and nothing that was stored is lost.
    let (status, body) = text(
        &client,
        request(Method::PUT, "/photos/huge.jpg", "y".repeat(5000)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("1000"), "the error names the limit: {body}");
    let (status, _) = text(
        &client,
        request(Method::GET, "/photos/huge.jpg", ByteStream::empty()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused upload leaves nothing behind"
    );
    let (_, list) = photos::get(&client, "/photos").await;
    assert_eq!(
        list, r#"["b.jpg"]"#,
        "only the photo the checks kept is left"
    );
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_on_one_actor_are_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    photos::concurrent_views(&client, "cat.jpg", 64, 100).await;
    dev.stop();
}

async fn stats(client: &Client, room: &str) -> serde_json::Value {
    let (_, body) = text(
        client,
        request(
            Method::GET,
            &format!("/rooms/{room}/stats"),
            ByteStream::empty(),
        ),
    )
    .await;
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_survives_the_eviction_of_its_idle_room() {
    use alchemy::http::websocket::connect;
    let dir = tempfile::tempdir().unwrap();
    // Rooms idle for 200 ms are evicted; their sockets stay open.
    let dev = Dev::start_with_args(dir.path(), &["--actor-idle-ms", "200"], &[]);
    let client = Client::new(&dev.url).unwrap();
    let ws_url = dev.url.replace("http://", "ws://") + "/rooms/lobby/ws";
    let mut alice = connect(&ws_url).await.unwrap();
    let mut bob = connect(&ws_url).await.unwrap();

    alice
        .send(alchemy::http::Message::text("hi bob"))
        .await
        .unwrap();
    assert_eq!(next_text(&mut alice).await, r#"{"seq":1,"text":"hi bob"}"#);
    assert_eq!(next_text(&mut bob).await, r#"{"seq":1,"text":"hi bob"}"#);
    let built = stats(&client, "lobby").await["inits"].as_u64().unwrap();

    // Wait, by asking, until the idle room was evicted and rebuilt: `stats` itself rebuilds it.
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = stats(&client, "lobby").await;
        if now["inits"].as_u64().unwrap() > built {
            assert_eq!(
                now["members"], 2,
                "the sockets outlived the instance: {now}"
            );
            break;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    bob.send(alchemy::http::Message::text("hi alice"))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut alice).await,
        r#"{"seq":2,"text":"hi alice"}"#
    );
    assert_eq!(next_text(&mut bob).await, r#"{"seq":2,"text":"hi alice"}"#);

    // A newcomer gets the history, kept in storage across the evictions.
    let mut carol = connect(&ws_url).await.unwrap();
    assert_eq!(next_text(&mut carol).await, r#"{"seq":1,"text":"hi bob"}"#);
    assert_eq!(
        next_text(&mut carol).await,
        r#"{"seq":2,"text":"hi alice"}"#
    );

    // Bad input: a binary frame is refused with a close, and nothing is lost.
    carol
        .send(alchemy::http::Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    loop {
        match carol.recv().await {
            Some(Ok(alchemy::http::Message::Close(frame))) => {
                assert_eq!(
                    frame.map(|f| f.code),
                    Some(4003),
                    "the room closes with its own code for binary frames"
                );
                break;
            }
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => panic!("the socket closed without a close frame"),
        }
    }
    let (_, history) = text(
        &client,
        request(Method::GET, "/rooms/lobby/history", ByteStream::empty()),
    )
    .await;
    assert_eq!(
        history,
        r#"[{"seq":1,"text":"hi bob"},{"seq":2,"text":"hi alice"}]"#
    );
    let (status, _) = text(
        &client,
        request(Method::GET, "/rooms/lobby/ws", ByteStream::empty()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UPGRADE_REQUIRED,
        "a plain GET is told to upgrade"
    );
    drop((alice, bob));
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_fires_after_the_dev_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    let (status, _) = text(
        &client,
        request(
            Method::POST,
            "/rooms/hall/announce?in_ms=1500",
            "doors open",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    dev.kill();

    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    // The alarm was set before the restart; it fires after it.
    loop {
        let (_, history) = text(
            &client,
            request(Method::GET, "/rooms/hall/history", ByteStream::empty()),
        )
        .await;
        if history != "[]" {
            assert_eq!(history, r#"[{"seq":1,"text":"announcement: doors open"}]"#);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = text(
        &client,
        request(Method::POST, "/rooms/hall/announce", "no time"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_fans_out_keeps_its_history_and_announces_by_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::new(&dev.url).unwrap();
    photos::chat_with_history(&client, &dev.url, "lobby").await;
    photos::alarm_announcement(&client, &dev.url, "hall", 300).await;
    dev.stop();
}
