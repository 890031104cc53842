//! links: short links that redirect, with a click counter per link.
//!
//! Written only against the neutral traits: the links live in a bucket (`links/<code>`, one
//! small JSON object each, created with a create-only write so that two links never share a
//! code), and each link's clicks are counted by an actor of its own (one writer per link, no
//! lost increments, no locks). The same code runs on the local provider (`dev`), on AWS (stage
//! `aws` of its `alchemy.toml`: S3, DynamoDB-backed actors, a Lambda function) and on Cloudflare
//! (stage `cloudflare`: R2, Durable Objects, a Worker). Unit tests put a mock bucket behind
//! [`Links`] (see `tests`).
//!
//! The library is also a Cloudflare Worker: built for `wasm32-unknown-unknown`, it exports the
//! API as the fetch handler and the Durable Object class `ClicksObject` (for
//! [`clicks::CLICKS`]).

pub mod clicks;
pub mod http;

use alchemy::bucket::{Bucket, BucketClient, BucketError, ListOptions};
#[cfg(not(target_arch = "wasm32"))]
use alchemy::App;
use alchemy::{Init, Service};
use serde::{Deserialize, Serialize};

/// Every link, by code.
pub static LINKS: Bucket = Bucket::new("links");

// The Worker (built for wasm32 with `alchemy_cloudflare::build::build_worker`): the API as its
// fetch handler, and the click counters' Durable Object class. On the host these only check
// their arguments.
alchemy_cloudflare::serve!(Api, "api");
alchemy_cloudflare::durable_object!(ClicksObject, clicks::CLICKS);

/// The app: its service and what it binds (on the host, where it is planned and deployed).
#[cfg(not(target_arch = "wasm32"))]
pub fn app() -> App {
    alchemy::app("links")
        .service::<Api>("api")
        .actors(&clicks::CLICKS)
}

/// The API service.
pub struct Api;

impl Service for Api {
    type Handler = axum::Router;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<axum::Router> {
        let links = Links::new(ctx.bind(&LINKS).await?);
        let clicks = ctx.bind(&clicks::CLICKS).await?;
        Ok(http::router(http::AppState { links, clicks }))
    }
}

/// The longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The length of generated codes (62^7 = 3.5 * 10^12 of them).
pub const CODE_LEN: usize = 7;
/// Attempts at a fresh generated code before giving up (each collision is one more).
const CODE_ATTEMPTS: usize = 8;
/// The largest link object read back, in bytes.
const MAX_LINK_BYTES: usize = 16 * 1024;

/// A short link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its code: the path after `/r/`.
    pub code: String,
    /// Where it redirects.
    pub url: String,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// An error of the links API; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A URL that cannot be a link target.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// A code that is not allowed.
    #[error("invalid code `{0}`: use 1 to 64 letters, digits, `-` or `_`")]
    InvalidCode(String),
    /// A code asked for that another link has.
    #[error("the code `{0}` is taken: pick another, or leave it out to get a fresh one")]
    Taken(String),
    /// No link has this code.
    #[error("no link has the code `{0}`")]
    NotFound(String),
    /// The bucket said no.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// A stored link that does not parse.
    #[error("the link `{code}` is stored damaged: {reason}")]
    Damaged {
        /// Its code.
        code: String,
        /// What is wrong.
        reason: String,
    },
}

/// Checks that `url` is an absolute `http` or `https` URL with a host, of at most
/// [`MAX_URL_BYTES`], without spaces or control characters.
pub fn validate_url(url: &str) -> Result<(), LinkError> {
    let invalid = |why: &str| {
        Err(LinkError::InvalidUrl(format!(
            "{why} (got `{}`)",
            url.escape_debug()
        )))
    };
    if url.len() > MAX_URL_BYTES {
        return Err(LinkError::InvalidUrl(format!(
            "it is {} bytes; at most {MAX_URL_BYTES} bytes are accepted",
            url.len()
        )));
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return invalid("it must start with http:// or https://");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it must not contain spaces or control characters");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return invalid("it must name a host");
    }
    Ok(())
}

/// Checks a code: 1 to 64 ASCII letters, digits, `-` or `_`.
pub fn validate_code(code: &str) -> Result<(), LinkError> {
    let valid = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(LinkError::InvalidCode(code.escape_debug().to_string()))
    }
}

fn key(code: &str) -> String {
    format!("links/{code}")
}

/// A fresh random code of [`CODE_LEN`] letters and digits.
fn fresh_code() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; CODE_LEN];
    getrandom::getrandom(&mut bytes).expect("the system has a source of randomness");
    // 62 * 4 = 248: bytes above it are folded in with a negligible bias.
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Milliseconds since the Unix epoch, from the system clock.
#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch, from JS: `SystemTime::now()` panics in
/// `wasm32-unknown-unknown`.
#[cfg(target_arch = "wasm32")]
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The links, in a bucket.
#[derive(Debug, Clone)]
pub struct Links {
    bucket: BucketClient,
}

impl Links {
    /// Links kept in `bucket`.
    pub fn new(bucket: BucketClient) -> Self {
        Links { bucket }
    }

    /// Makes a link to `url`, with the code asked for (which must be free) or a fresh one.
    pub async fn shorten(&self, url: &str, code: Option<&str>) -> Result<Link, LinkError> {
        validate_url(url)?;
        if let Some(code) = code {
            validate_code(code)?;
            return match self.create(code, url).await {
                Err(LinkError::Bucket(BucketError::AlreadyExists { .. })) => {
                    Err(LinkError::Taken(code.to_owned()))
                }
                other => other,
            };
        }
        let mut last = None;
        for _ in 0..CODE_ATTEMPTS {
            match self.create(&fresh_code(), url).await {
                Err(LinkError::Bucket(e @ BucketError::AlreadyExists { .. })) => last = Some(e),
                other => return other,
            }
        }
        Err(LinkError::Bucket(
            last.expect("at least one attempt was made"),
        ))
    }

    async fn create(&self, code: &str, url: &str) -> Result<Link, LinkError> {
        let link = Link {
            code: code.to_owned(),
            url: url.to_owned(),
            created_ms: now_ms(),
        };
        let body = serde_json::to_vec(&link).expect("a link serialises");
        self.bucket.put_if_absent(&key(code), body).await?;
        Ok(link)
    }

    /// The link with `code`.
    pub async fn resolve(&self, code: &str) -> Result<Link, LinkError> {
        validate_code(code)?;
        let bytes = match self.bucket.get_bytes(&key(code), MAX_LINK_BYTES).await {
            Ok(bytes) => bytes,
            Err(BucketError::NotFound { .. }) => return Err(LinkError::NotFound(code.to_owned())),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes).map_err(|e| LinkError::Damaged {
            code: code.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Deletes the link with `code`.
    pub async fn remove(&self, code: &str) -> Result<(), LinkError> {
        validate_code(code)?;
        if !self.bucket.exists(&key(code)).await? {
            return Err(LinkError::NotFound(code.to_owned()));
        }
        Ok(self.bucket.delete(&key(code)).await?)
    }

    /// Up to `limit` codes in order, after the code `after`, and where the next page starts.
    pub async fn list(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), LinkError> {
        if let Some(after) = after {
            validate_code(after)?;
        }
        let page = self
            .bucket
            .list(ListOptions {
                prefix: Some("links/".into()),
                start_after: after.map(key),
                max_keys: Some(limit.clamp(1, 1000)),
                ..ListOptions::default()
            })
            .await?;
        let codes: Vec<String> = page
            .objects
            .into_iter()
            .filter_map(|o| o.key.strip_prefix("links/").map(str::to_owned))
            .collect();
        let next = page.next.and(codes.last().cloned());
        Ok((codes, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alchemy::bucket::{MockBucketStore, PutMode, PutResult};

    #[test]
    fn urls_are_checked_before_anything_is_stored() {
        for good in [
            "https://example.com",
            "http://example.com:8080/a/b?c=d#e",
            "https://user@example.com/",
        ] {
            assert!(validate_url(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ftp://example.com", "must start with http:// or https://"),
            ("example.com", "must start with http:// or https://"),
            ("https://", "must name a host"),
            ("https:///path", "must name a host"),
            ("https://exa mple.com", "must not contain spaces"),
        ] {
            let e = validate_url(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(validate_url(&long)
            .unwrap_err()
            .to_string()
            .contains("at most 2048 bytes"));
    }

    #[test]
    fn codes_are_letters_digits_dashes_and_underscores() {
        assert!(validate_code("abc-DEF_123").is_ok());
        for bad in ["", "a/b", "a.b", "ü", &"a".repeat(65)] {
            assert!(validate_code(bad).is_err(), "{bad}");
        }
        let code = fresh_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(validate_code(&code).is_ok());
    }

    #[tokio::test]
    async fn a_generated_code_that_collides_is_drawn_again() {
        let mut store = MockBucketStore::new();
        let mut calls = 0;
        store
            .expect_put()
            .times(3)
            .withf(|key, _, options| key.starts_with("links/") && options.mode == PutMode::Create)
            .returning(move |key, _, _| {
                calls += 1;
                if calls < 3 {
                    Err(BucketError::AlreadyExists { key: key.into() })
                } else {
                    Ok(PutResult {
                        etag: "e".into(),
                        version: None,
                    })
                }
            });
        let links = Links::new(BucketClient::new(store));
        let link = links.shorten("https://example.com", None).await.unwrap();
        assert_eq!(link.code.len(), CODE_LEN);
        assert_eq!(link.url, "https://example.com");
    }

    #[tokio::test]
    async fn a_code_asked_for_that_is_taken_is_refused() {
        let mut store = MockBucketStore::new();
        store
            .expect_put()
            .times(1)
            .withf(|key, _, _| key == "links/home")
            .returning(|key, _, _| Err(BucketError::AlreadyExists { key: key.into() }));
        let links = Links::new(BucketClient::new(store));
        let e = links
            .shorten("https://example.com", Some("home"))
            .await
            .unwrap_err();
        assert!(matches!(e, LinkError::Taken(ref c) if c == "home"), "{e}");
    }

    #[tokio::test]
    async fn bad_input_never_reaches_the_bucket() {
        let links = Links::new(BucketClient::new(MockBucketStore::new()));
        assert!(matches!(
            links.shorten("nope", None).await,
            Err(LinkError::InvalidUrl(_))
        ));
        assert!(matches!(
            links.shorten("https://example.com", Some("a b")).await,
            Err(LinkError::InvalidCode(_))
        ));
        assert!(matches!(
            links.resolve("../x").await,
            Err(LinkError::InvalidCode(_))
        ));
    }
}
