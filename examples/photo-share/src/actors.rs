//! The app's actors: a chat room per room, a view counter per photo.

use std::time::Duration;

use alchemy::actor::{
    is_websocket_upgrade, Actor, ActorContext, ActorError, Actors, ByteStream, Capability, Message,
    Result, WebSocket,
};
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Chat rooms, one actor per room: members talk over WebSockets, and an alarm announces.
pub static ROOMS: Actors<Room> =
    Actors::new("rooms").uses(&[Capability::WebSockets, Capability::Alarms]);

/// View counters, one actor per photo.
pub static COUNTERS: Actors<Counter> = Actors::new("counters");

/// The largest chat message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;

fn json_response(status: StatusCode, value: serde_json::Value) -> Result<Response<ByteStream>> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(ByteStream::from(value.to_string()))?)
}

/// One chat message, as stored and as sent to every member of the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Said {
    /// Its place in the room's history, from 1.
    pub seq: u64,
    /// What was said.
    pub text: String,
}

/// A chat room: members talk over WebSockets; the history is kept in the room's storage.
///
/// Requests: `GET /ws` (upgrade) joins, `GET /history`, `POST /announce?in_ms=N` with the text
/// as body schedules an announcement by alarm, `GET /stats` tells how often the room was built.
pub struct Room {
    ctx: ActorContext,
}

impl Room {
    async fn say(&self, text: String) -> Result<Said> {
        let said = self
            .ctx
            .storage()
            .transaction(|txn| async move {
                let seq = txn.get::<u64>("seq").await?.unwrap_or(0) + 1;
                let said = Said { seq, text };
                txn.put("seq", &seq)?;
                txn.put(&format!("msg:{seq:012}"), &said)?;
                Ok(said)
            })
            .await?;
        let line = serde_json::to_string(&said).map_err(ActorError::Encode)?;
        for member in self.ctx.websockets(Some("chat")) {
            // A member whose buffer is full is closed by the runtime; the others still hear it.
            let _ = member.send(Message::Text(line.clone()));
        }
        Ok(said)
    }

    async fn history(&self) -> Result<Vec<Said>> {
        Ok(self
            .ctx
            .storage()
            .list::<Said>("msg:")
            .await?
            .into_values()
            .collect())
    }
}

impl Actor for Room {
    async fn init(ctx: ActorContext) -> Result<Self> {
        let storage = ctx.storage();
        let inits = storage.get::<u64>("inits").await?.unwrap_or(0) + 1;
        storage.put("inits", &inits).await?;
        Ok(Room { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        match (req.method().clone(), req.uri().path()) {
            (Method::GET, "/ws") if !is_websocket_upgrade(&req) => json_response(
                StatusCode::UPGRADE_REQUIRED,
                json!({ "error": "join a room with a WebSocket upgrade (Upgrade: websocket)" }),
            ),
            (Method::GET, "/ws") => {
                let (member, response) = self.ctx.accept_websocket(&req, &["chat"])?;
                for said in self.history().await? {
                    member.send(Message::Text(
                        serde_json::to_string(&said).map_err(ActorError::Encode)?,
                    ))?;
                }
                Ok(response)
            }
            (Method::GET, "/history") => {
                json_response(StatusCode::OK, json!(self.history().await?))
            }
            (Method::GET, "/stats") => {
                let inits = self.ctx.storage().get::<u64>("inits").await?.unwrap_or(0);
                let members = self.ctx.websockets(Some("chat")).len();
                json_response(
                    StatusCode::OK,
                    json!({ "inits": inits, "members": members }),
                )
            }
            (Method::POST, "/announce") => {
                let in_ms = req
                    .uri()
                    .query()
                    .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("in_ms=")))
                    .and_then(|v| v.parse::<u64>().ok());
                let Some(in_ms) = in_ms else {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({ "error": "say when: POST /rooms/ROOM/announce?in_ms=MILLISECONDS" }),
                    );
                };
                let text = req.into_body().collect(MAX_MESSAGE_BYTES).await?;
                let text = String::from_utf8_lossy(&text).into_owned();
                self.ctx.storage().put("announcement", &text).await?;
                self.ctx
                    .set_alarm(self.ctx.now() + Duration::from_millis(in_ms))
                    .await?;
                json_response(StatusCode::ACCEPTED, json!({ "announce_in_ms": in_ms }))
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({ "error": "no such room route" }),
            ),
        }
    }

    async fn on_message(&self, ws: &WebSocket, msg: Message) -> Result<()> {
        match msg {
            Message::Text(text) if text.len() <= MAX_MESSAGE_BYTES => {
                self.say(text).await?;
            }
            Message::Text(_) => ws.close(4009, "a chat message is at most 4096 bytes")?,
            Message::Binary(_) => ws.close(4003, "chat messages are text")?,
        }
        Ok(())
    }

    async fn alarm(&self) -> Result<()> {
        let storage = self.ctx.storage();
        if let Some(text) = storage.get::<String>("announcement").await? {
            self.say(format!("announcement: {text}")).await?;
            storage.delete("announcement").await?;
        }
        Ok(())
    }
}

/// Counts the views of one photo: `POST /` adds one, `GET /` reads.
pub struct Counter {
    ctx: ActorContext,
}

impl Actor for Counter {
    async fn init(ctx: ActorContext) -> Result<Self> {
        Ok(Counter { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let storage = self.ctx.storage();
        let views = if req.method() == Method::POST {
            let views = storage.get::<u64>("views").await?.unwrap_or(0) + 1;
            storage.put("views", &views).await?;
            views
        } else {
            storage.get::<u64>("views").await?.unwrap_or(0)
        };
        json_response(StatusCode::OK, json!({ "views": views }))
    }
}
