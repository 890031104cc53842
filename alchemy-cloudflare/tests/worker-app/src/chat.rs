//! A chat room actor: members on hibernatable WebSockets, the history in storage, and an alarm.

use alchemy::actor::{Actor, ActorContext, ByteStream, Message, Result, WebSocket};
use http::{Request, Response, StatusCode};
use std::time::Duration;

/// A chat room. Every `init` is counted in storage, so that a test sees the object rebuilt.
pub struct ChatRoom {
    ctx: ActorContext,
    /// Which init of the object built this instance.
    generation: u64,
}

fn json(value: &serde_json::Value) -> Result<Response<ByteStream>> {
    Ok(Response::new(ByteStream::from(value.to_string())))
}

impl ChatRoom {
    async fn history(&self) -> Result<Vec<String>> {
        Ok(self.ctx.storage().get("history").await?.unwrap_or_default())
    }

    fn broadcast(&self, text: &str) -> Result<()> {
        for socket in self.ctx.websockets(None) {
            socket.send(text)?;
        }
        Ok(())
    }
}

impl Actor for ChatRoom {
    async fn init(ctx: ActorContext) -> Result<Self> {
        let storage = ctx.storage();
        let generation = storage.get::<u64>("inits").await?.unwrap_or(0) + 1;
        storage.put("inits", &generation).await?;
        Ok(ChatRoom { ctx, generation })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let query = req.uri().query().unwrap_or("").to_string();
        match req.uri().path() {
            "/ws" => {
                let name = query.strip_prefix("name=").unwrap_or("guest").to_string();
                let (socket, response) = self.ctx.accept_websocket(&req, &["member"])?;
                socket.serialize_attachment(&name)?;
                socket.send(format!("welcome {name}, generation {}", self.generation))?;
                Ok(response)
            }
            "/state" => json(&serde_json::json!({
                "inits": self.ctx.storage().get::<u64>("inits").await?.unwrap_or(0),
                "history": self.history().await?,
                "alarms": self.ctx.storage().get::<u64>("alarms").await?.unwrap_or(0),
                "members": self.ctx.websockets(Some("member")).len(),
            })),
            "/alarm" => {
                let in_ms: u64 = query
                    .strip_prefix("in_ms=")
                    .and_then(|ms| ms.parse().ok())
                    .unwrap_or(0);
                self.ctx
                    .set_alarm(self.ctx.now() + Duration::from_millis(in_ms))
                    .await?;
                json(&serde_json::json!({ "set": in_ms }))
            }
            _ => {
                let mut response = Response::new(ByteStream::from("no such route"));
                *response.status_mut() = StatusCode::NOT_FOUND;
                Ok(response)
            }
        }
    }

    async fn on_message(&self, ws: &WebSocket, msg: Message) -> Result<()> {
        let name: String = ws.deserialize_attachment()?.unwrap_or_default();
        let Some(text) = msg.as_text() else {
            return Ok(());
        };
        if text == "generation" {
            return ws.send(format!("generation {}", self.generation));
        }
        let line = format!("{name}: {text}");
        let mut history = self.history().await?;
        history.push(line.clone());
        self.ctx.storage().put("history", &history).await?;
        self.broadcast(&line)
    }

    async fn on_close(&self, ws: &WebSocket, code: u16, _reason: &str) -> Result<()> {
        let name: String = ws.deserialize_attachment()?.unwrap_or_default();
        let mut history = self.history().await?;
        history.push(format!("{name} left ({code})"));
        self.ctx.storage().put("history", &history).await
    }

    async fn alarm(&self) -> Result<()> {
        let storage = self.ctx.storage();
        let alarms = storage.get::<u64>("alarms").await?.unwrap_or(0) + 1;
        storage.put("alarms", &alarms).await?;
        self.broadcast(&format!("alarm {alarms}"))
    }
}
