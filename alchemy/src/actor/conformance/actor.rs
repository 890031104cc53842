//! [`ConformanceActor`], the actor every conformance test talks to.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alchemy_stream::ByteStream;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use crate::actor::{
    Actor, ActorContext, ActorError, Batch, ListOptions, Message, Result, SqlValue, WebSocket,
};

/// The actor of the conformance suite: a counter, a key-value console, a bank for
/// transactions, an SQL notebook, an alarm clock and a WebSocket chat room.
///
/// Implementations host it in a namespace of their own and hand the suite that namespace's
/// client (see [`Target`](super::Target)). Its routes are private to the suite.
pub struct ConformanceActor {
    ctx: ActorContext,
}

fn query(req: &Request<ByteStream>) -> BTreeMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (pair.to_string(), String::new()),
        })
        .collect()
}

fn text(status: StatusCode, body: impl Into<String>) -> Result<Response<ByteStream>> {
    Ok(Response::builder()
        .status(status)
        .body(ByteStream::from(body.into()))?)
}

fn ok(body: impl Into<String>) -> Result<Response<ByteStream>> {
    text(StatusCode::OK, body)
}

fn json<T: serde::Serialize>(value: &T) -> Result<Response<ByteStream>> {
    ok(serde_json::to_string(value).map_err(ActorError::Encode)?)
}

fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ActorError::handler(format!("the query parameter `{name}` is missing")))
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// The state a socket keeps in its attachment.
#[derive(serde::Serialize, serde::Deserialize)]
struct Member {
    name: String,
}

impl ConformanceActor {
    async fn increment(&self) -> Result<u64> {
        let storage = self.ctx.storage();
        let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
        storage.put("count", &count).await?;
        Ok(count)
    }

    async fn storage_route(
        &self,
        method: &Method,
        op: &str,
        params: &BTreeMap<String, String>,
        body: Bytes,
    ) -> Result<Response<ByteStream>> {
        let storage = self.ctx.storage();
        match (method.as_str(), op) {
            ("PUT", "bytes") => {
                storage.put_bytes(param(params, "key")?, body).await?;
                ok("stored")
            }
            ("GET", "bytes") => match storage.get_bytes(param(params, "key")?).await? {
                Some(value) => Ok(Response::new(ByteStream::from(value))),
                None => text(StatusCode::NOT_FOUND, "no such key"),
            },
            ("PUT", "json") => {
                let value: serde_json::Value =
                    serde_json::from_slice(&body).map_err(ActorError::handler)?;
                storage.put(param(params, "key")?, &value).await?;
                ok("stored")
            }
            ("GET", "json") => {
                let value = storage
                    .get::<serde_json::Value>(param(params, "key")?)
                    .await?;
                json(&value)
            }
            ("DELETE", "key") => json(&storage.delete(param(params, "key")?).await?),
            ("GET", "list") => {
                let options = ListOptions {
                    prefix: params.get("prefix").cloned().unwrap_or_default(),
                    start_after: params.get("start_after").cloned(),
                    limit: params.get("limit").and_then(|limit| limit.parse().ok()),
                    reverse: params.contains_key("reverse"),
                };
                let entries: Vec<(String, String)> = storage
                    .list_with(&options)
                    .await?
                    .into_iter()
                    .map(|(key, value)| (key, String::from_utf8_lossy(&value).into_owned()))
                    .collect();
                json(&entries)
            }
            ("GET", "typed-list") => {
                let entries: BTreeMap<String, serde_json::Value> =
                    storage.list(param(params, "prefix")?).await?;
                json(&entries)
            }
            ("POST", "batch") => {
                let ops: Vec<(String, Option<String>)> =
                    serde_json::from_slice(&body).map_err(ActorError::handler)?;
                let mut batch = Batch::new();
                for (key, value) in ops {
                    batch = match value {
                        Some(value) => batch.put_bytes(&key, value),
                        None => batch.delete(&key),
                    };
                }
                storage.batch(batch).await?;
                ok("applied")
            }
            ("POST", "delete-all") => {
                storage.delete_all().await?;
                ok("deleted")
            }
            _ => text(StatusCode::NOT_FOUND, "no such storage route"),
        }
    }

    /// Moves `amount` from one account to another; fails, writing nothing, when the source
    /// has too little. With `fail_after`, fails after writing, to prove the rollback.
    async fn transfer(&self, params: &BTreeMap<String, String>) -> Result<Response<ByteStream>> {
        let from = param(params, "from")?.to_string();
        let to = param(params, "to")?.to_string();
        let amount: i64 = param(params, "amount")?
            .parse()
            .map_err(ActorError::handler)?;
        let fail_after = params.contains_key("fail_after");
        let explicit_rollback = params.contains_key("rollback");
        let result = self
            .ctx
            .storage()
            .transaction(|txn| async move {
                let balance: i64 = txn.get(&from).await?.unwrap_or(0);
                if balance < amount {
                    return Err(ActorError::handler("insufficient funds"));
                }
                txn.put(&from, &(balance - amount))?;
                // Reads see the transaction's own writes.
                let seen: i64 = txn.get(&from).await?.unwrap_or(0);
                if seen != balance - amount {
                    return Err(ActorError::handler(
                        "the transaction did not see its own write",
                    ));
                }
                let target: i64 = txn.get(&to).await?.unwrap_or(0);
                txn.put(&to, &(target + amount))?;
                if fail_after {
                    return Err(ActorError::handler("failing after the writes"));
                }
                if explicit_rollback {
                    txn.rollback();
                }
                Ok(balance - amount)
            })
            .await;
        match result {
            Ok(left) => json(&left),
            Err(ActorError::Handler(error)) => text(StatusCode::CONFLICT, error.to_string()),
            Err(error) => Err(error),
        }
    }

    async fn sql_route(&self, op: &str, body: Bytes) -> Result<Response<ByteStream>> {
        let sql = self.ctx.sql()?;
        match op {
            "setup" => {
                sql.exec(
                    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, size REAL, data BLOB)",
                    [],
                )
                .await?;
                ok("ready")
            }
            "insert" => {
                let body = String::from_utf8_lossy(&body).into_owned();
                let size = body.len() as f64;
                let rows = sql
                    .exec(
                        "INSERT INTO notes (body, size, data) VALUES (?, ?, ?)",
                        [
                            SqlValue::from(body.as_str()),
                            size.into(),
                            SqlValue::from(body.into_bytes()),
                        ],
                    )
                    .await?;
                json(&rows.rows_written())
            }
            "select" => {
                #[derive(serde::Deserialize, serde::Serialize)]
                struct Note {
                    id: i64,
                    body: String,
                    size: f64,
                    data: Vec<u8>,
                }
                let rows = sql
                    .exec("SELECT id, body, size, data FROM notes ORDER BY id", [])
                    .await?;
                json(&rows.deserialize::<Note>()?)
            }
            "bad" => {
                let error = sql.exec("SELEC nonsense", []).await.unwrap_err();
                text(StatusCode::BAD_REQUEST, error.to_string())
            }
            _ => text(StatusCode::NOT_FOUND, "no such sql route"),
        }
    }

    async fn alarm_route(
        &self,
        method: &Method,
        params: &BTreeMap<String, String>,
    ) -> Result<Response<ByteStream>> {
        let storage = self.ctx.storage();
        match method.as_str() {
            "PUT" => {
                let in_ms: u64 = param(params, "in_ms")?
                    .parse()
                    .map_err(ActorError::handler)?;
                let failures: u64 = params
                    .get("failures")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                storage.put("alarm:failures", &failures).await?;
                self.ctx
                    .set_alarm(SystemTime::now() + Duration::from_millis(in_ms))
                    .await?;
                ok("set")
            }
            "GET" => json(&self.ctx.get_alarm().await?.map(millis)),
            "DELETE" => {
                self.ctx.delete_alarm().await?;
                ok("deleted")
            }
            _ => text(StatusCode::NOT_FOUND, "no such alarm route"),
        }
    }

    fn broadcast(&self, tag: Option<&str>, text: &str) -> Result<()> {
        for socket in self.ctx.websockets(tag) {
            socket.send(text)?;
        }
        Ok(())
    }
}

impl Actor for ConformanceActor {
    async fn init(ctx: ActorContext) -> Result<Self> {
        let storage = ctx.storage();
        let inits = storage.get::<u64>("inits").await?.unwrap_or(0) + 1;
        storage.put("inits", &inits).await?;
        Ok(ConformanceActor { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let params = query(&req);
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if segments == ["ws"] {
            let tags: Vec<&str> = params
                .get("tags")
                .map(|tags| tags.split(',').filter(|tag| !tag.is_empty()).collect())
                .unwrap_or_default();
            let (socket, response) = self.ctx.accept_websocket(&req, &tags)?;
            let name = params.get("name").cloned().unwrap_or_default();
            socket.serialize_attachment(&Member { name: name.clone() })?;
            socket.send(format!("welcome {name}"))?;
            return Ok(response);
        }
        let body = req.into_body().collect(1 << 20).await?;
        match segments.as_slice() {
            ["counter"] if method == Method::POST => json(&self.increment().await?),
            ["counter"] => json(&self.ctx.storage().get::<u64>("count").await?.unwrap_or(0)),
            ["id"] => json(&(
                self.ctx.id().to_string(),
                self.ctx.id().name().map(str::to_string),
            )),
            ["inits"] => json(&self.ctx.storage().get::<u64>("inits").await?.unwrap_or(0)),
            ["storage", op] => self.storage_route(&method, op, &params, body).await,
            ["transfer"] => self.transfer(&params).await,
            ["sql", op] => self.sql_route(op, body).await,
            ["alarm"] => self.alarm_route(&method, &params).await,
            ["alarm", "fired"] => json(
                &self
                    .ctx
                    .storage()
                    .get::<u64>("alarm:fired")
                    .await?
                    .unwrap_or(0),
            ),
            ["fail"] => Err(ActorError::handler("the handler failed on purpose")),
            ["sockets"] => {
                let tag = params.get("tag").map(String::as_str);
                let names: Vec<String> = self
                    .ctx
                    .websockets(tag)
                    .iter()
                    .map(|socket| {
                        socket
                            .deserialize_attachment::<Member>()
                            .map(|member| member.map(|m| m.name).unwrap_or_default())
                    })
                    .collect::<Result<_>>()?;
                json(&names)
            }
            ["closed", name] => json(
                &self
                    .ctx
                    .storage()
                    .get::<(u16, String)>(&format!("closed:{name}"))
                    .await?,
            ),
            _ => text(
                StatusCode::NOT_FOUND,
                format!("no route for {method} {path}"),
            ),
        }
    }

    async fn on_message(&self, ws: &WebSocket, msg: Message) -> Result<()> {
        let text = match &msg {
            Message::Text(text) => text.clone(),
            Message::Binary(bytes) => {
                ws.send(Message::Binary(bytes.clone()))?;
                return Ok(());
            }
        };
        let member = ws.deserialize_attachment::<Member>()?.map(|m| m.name);
        let (command, rest) = text.split_once(':').unwrap_or((text.as_str(), ""));
        match command {
            "echo" => ws.send(format!("echo:{rest}"))?,
            "broadcast" => {
                self.broadcast(None, &format!("{}:{rest}", member.unwrap_or_default()))?
            }
            "tagged" => {
                let (tag, text) = rest.split_once(':').unwrap_or((rest, ""));
                self.broadcast(Some(tag), &format!("tagged:{text}"))?;
            }
            "whoami" => ws.send(format!("you are {}", member.unwrap_or_default()))?,
            "rename" => {
                ws.serialize_attachment(&Member {
                    name: rest.to_string(),
                })?;
                ws.send(format!("renamed {rest}"))?;
            }
            "inits" => {
                let inits = self.ctx.storage().get::<u64>("inits").await?.unwrap_or(0);
                ws.send(format!("inits:{inits}"))?;
            }
            "count" => {
                let count = self.increment().await?;
                ws.send(format!("count:{count}"))?;
            }
            "close" => ws.close(4001, "closed by the actor")?,
            _ => ws.send(format!("unknown command {command}"))?,
        }
        Ok(())
    }

    async fn on_close(&self, ws: &WebSocket, code: u16, reason: &str) -> Result<()> {
        let name = ws
            .deserialize_attachment::<Member>()?
            .map(|m| m.name)
            .unwrap_or_default();
        self.ctx
            .storage()
            .put(&format!("closed:{name}"), &(code, reason))
            .await
    }

    async fn alarm(&self) -> Result<()> {
        let storage = self.ctx.storage();
        let failures = storage.get::<u64>("alarm:failures").await?.unwrap_or(0);
        let fired = storage.get::<u64>("alarm:fired").await?.unwrap_or(0) + 1;
        storage.put("alarm:fired", &fired).await?;
        if failures > 0 {
            storage.put("alarm:failures", &(failures - 1)).await?;
            return Err(ActorError::handler("the alarm failed on purpose"));
        }
        self.broadcast(None, &format!("alarm:{fired}"))
    }
}
