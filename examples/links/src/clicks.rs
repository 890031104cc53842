//! [`Clicks`]: one actor per link, counting its visits.

use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Result};
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// The click counters, one per link code.
pub static CLICKS: Actors<Clicks> = Actors::new("clicks");

/// What a counter knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickStats {
    /// Visits so far.
    pub clicks: u64,
    /// When the last one was, in milliseconds since the Unix epoch (0: never).
    pub last_ms: u64,
}

/// Counts the clicks of one link: `POST /` records one, `GET /` tells, `DELETE /` forgets.
///
/// Each counter is a single writer, so concurrent clicks are never lost.
pub struct Clicks {
    ctx: ActorContext,
}

impl Actor for Clicks {
    async fn init(ctx: ActorContext) -> Result<Self> {
        Ok(Clicks { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        let storage = self.ctx.storage();
        let mut stats = storage
            .get::<ClickStats>("stats")
            .await?
            .unwrap_or_default();
        match *req.method() {
            Method::POST => {
                stats.clicks += 1;
                stats.last_ms = self
                    .ctx
                    .now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                storage.put("stats", &stats).await?;
            }
            Method::DELETE => {
                storage.delete("stats").await?;
                stats = ClickStats::default();
            }
            Method::GET => {}
            _ => {
                return Ok(Response::builder()
                    .status(StatusCode::METHOD_NOT_ALLOWED)
                    .body(ByteStream::from("counters take GET, POST and DELETE"))?)
            }
        }
        let body = serde_json::to_vec(&stats).expect("stats serialise");
        Ok(Response::builder()
            .header("content-type", "application/json")
            .body(ByteStream::from(body))?)
    }
}
