//! An app on the directory cloud, for the crash, lock and bad-input tests.
//!
//! `CLOUD_DIR` is the cloud; `VERSION` picks the stack (1: twelve things in a tree; 2: sizes
//! changed, one thing gone, one new; 3: every thing's shape changed, so all are replaced);
//! `DELAY_MS` slows every provider call; `EXTRA` adds a problem: `cycle`, `secret`, `bad-id`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use alchemy::http::{handler_fn, BoxHandler, ByteStream};
use alchemy::platform::Platform;
use alchemy::{Init, Service};
use alchemy_tests::cloud::{DirCloud, DirPlatform, ThingDecl};

static ROOT: ThingDecl = ThingDecl {
    id: "t0",
    size: 0,
    after: None,
};
static SHARED: ThingDecl = ThingDecl {
    id: "t3",
    size: 3,
    after: Some("t1"),
};

struct Api;

impl Service for Api {
    type Handler = BoxHandler;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
        let root = ctx.bind(&ROOT).await?;
        let shared = ctx.bind_read_only(&SHARED).await?;
        Ok(BoxHandler::new(handler_fn(
            move |_: http::Request<ByteStream>| {
                let names = format!(
                    "{} {}",
                    root.name().unwrap_or("?"),
                    shared.name().unwrap_or("?")
                );
                async move { http::Response::new(ByteStream::from(names)) }
            },
        )))
    }
}

fn things(version: u32) -> Vec<ThingDecl> {
    const IDS: [&str; 13] = [
        "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12",
    ];
    let ids: Vec<usize> = match version {
        1 | 3 => (0..12).collect(),
        _ => (0..11).chain([12]).collect(),
    };
    ids.into_iter()
        .map(|i| ThingDecl {
            id: IDS[i],
            size: i as u64,
            after: (i > 0).then(|| IDS[(i - 1) / 2]),
        })
        .collect()
}

fn main() -> ExitCode {
    let dir = std::env::var("CLOUD_DIR").expect("set CLOUD_DIR");
    let version: u32 = std::env::var("VERSION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let delay = Duration::from_millis(
        std::env::var("DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let extra = std::env::var("EXTRA").unwrap_or_default();

    let mut app = alchemy::app("crash").service::<Api>("api");
    for t in things(version) {
        app = app.resource(&t);
    }
    match extra.as_str() {
        "cycle" => {
            app = app
                .resource(&ThingDecl {
                    id: "x",
                    size: 1,
                    after: Some("y"),
                })
                .resource(&ThingDecl {
                    id: "y",
                    size: 1,
                    after: Some("x"),
                })
        }
        "bad-id" => {
            app = app.resource(&ThingDecl {
                id: "no spaces",
                size: 1,
                after: None,
            })
        }
        _ => {}
    }
    let secret = extra == "secret";
    app.platform(move |_, _| {
        let mut platform = DirPlatform::new(DirCloud::new(&dir, delay));
        if version == 3 {
            platform.shape = "round".into();
        }
        if version >= 2 {
            platform.size_bump = 100;
        }
        platform.secret = secret.then(|| "hunter2".to_string());
        Ok(Arc::new(platform) as Arc<dyn Platform>)
    })
    .run()
}
