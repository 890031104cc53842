//! The HTTP side: one request, its retries, and the decoding of its envelope.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{ApiError, Config, Message};

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct Part {
    /// The part's name (for a Worker module, its file name).
    pub name: String,
    /// The file name sent with it, if any.
    pub filename: Option<String>,
    /// Its content type.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A request body. Kept as data, so that a retried request sends the same bytes again.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Value),
    /// A `multipart/form-data` body.
    Multipart(Vec<Part>),
}

/// A client of the v4 API for one account. Cheap to clone: clones share the connection pool
/// and the cap on requests in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: Config,
    in_flight: Semaphore,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<Message>,
    #[serde(default)]
    result: Value,
}

impl Client {
    /// A client with `config`.
    pub fn new(config: Config) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("alchemy-cloudflare/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Invalid {
                method: String::new(),
                path: config.base_url.clone(),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        let in_flight = Semaphore::new(config.max_in_flight.max(1));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config,
                in_flight,
            }),
        })
    }

    /// A client configured from the environment; see [`Config::from_env`].
    pub fn from_env() -> Result<Self, ApiError> {
        Self::new(Config::from_env()?)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.inner.config.account_id
    }

    /// `/accounts/<account id><rest>`: the path of an account-level operation.
    pub fn account_path(&self, rest: &str) -> String {
        format!("/accounts/{}{rest}", self.account_id())
    }

    /// Sends `method path` with `body` and returns the envelope's `result`.
    ///
    /// Throttled requests (429) wait as long as `Retry-After` says; server errors (5xx) and lost
    /// connections wait with exponential backoff; both up to [`Config::max_attempts`] attempts.
    /// An error envelope becomes [`ApiError::Api`] with Cloudflare's codes and messages.
    pub async fn call(&self, method: Method, path: &str, body: Body) -> Result<Value, ApiError> {
        let config = &self.inner.config;
        let attempts = config.max_attempts.max(1);
        let mut last_failure = String::new();
        let mut throttled = 0;
        for attempt in 1..=attempts {
            let answer = {
                let _permit = self
                    .inner
                    .in_flight
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                match self.send(&method, path, &body).await {
                    Ok(response) => {
                        let status = response.status();
                        let headers = response.headers().clone();
                        let bytes = response.bytes().await;
                        bytes.map(|b| (status, headers, b))
                    }
                    Err(e) => Err(e),
                }
            };
            let backoff = config
                .base_delay
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(config.max_delay);
            let (status, headers, bytes) = match answer {
                Ok(answer) => answer,
                Err(e) if e.is_builder() => {
                    return Err(self.invalid(
                        &method,
                        path,
                        format!("cannot build the request: {e}"),
                    ))
                }
                Err(e) => {
                    last_failure = format!("a transport error ({e})");
                    if attempt < attempts {
                        tokio::time::sleep(backoff).await;
                    }
                    continue;
                }
            };
            if status == StatusCode::TOO_MANY_REQUESTS {
                throttled += 1;
                last_failure = "HTTP 429".to_owned();
                if attempt < attempts {
                    let wait = retry_after(&headers)
                        .unwrap_or(backoff)
                        .min(config.max_delay);
                    tokio::time::sleep(wait).await;
                }
                continue;
            }
            if status.is_server_error() {
                last_failure = format!("HTTP {}", status.as_u16());
                if attempt < attempts {
                    tokio::time::sleep(backoff).await;
                }
                continue;
            }
            return self.decode(&method, path, status, &bytes);
        }
        let (method, path) = (method.to_string(), path.to_owned());
        if throttled == attempts {
            Err(ApiError::Throttled {
                method,
                path,
                attempts,
            })
        } else {
            Err(ApiError::Unavailable {
                method,
                path,
                attempts,
                last: last_failure,
            })
        }
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: &Body,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let config = &self.inner.config;
        let url = format!("{}{path}", config.base_url);
        let request = self
            .inner
            .http
            .request(method.clone(), url)
            .bearer_auth(&config.api_token);
        let request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Multipart(parts) => {
                // Module names are paths (`snippets/<crate>/inline0.js`): sent as they are, as
                // wrangler sends them, not as RFC 5987 `name*=` parameters.
                let mut form = reqwest::multipart::Form::new().percent_encode_noop();
                for part in parts {
                    let mut p = reqwest::multipart::Part::bytes(part.bytes.clone())
                        .mime_str(&part.content_type)?;
                    if let Some(filename) = &part.filename {
                        p = p.file_name(filename.clone());
                    }
                    form = form.part(part.name.clone(), p);
                }
                request.multipart(form)
            }
        };
        request.send().await
    }

    fn decode(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        bytes: &[u8],
    ) -> Result<Value, ApiError> {
        let envelope: Envelope = match serde_json::from_slice(bytes) {
            Ok(envelope) => envelope,
            Err(_) => {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                return Err(self.invalid(
                    method,
                    path,
                    format!(
                        "HTTP {} with a body that is not a v4 envelope: {text:?}; check {} (set it to {} or unset it)",
                        status.as_u16(),
                        super::BASE_URL_VAR,
                        super::DEFAULT_BASE_URL
                    ),
                ));
            }
        };
        if status.is_success() && envelope.success {
            return Ok(envelope.result);
        }
        Err(ApiError::Api {
            method: method.to_string(),
            path: path.to_owned(),
            status: status.as_u16(),
            errors: envelope.errors,
        })
    }

    fn invalid(&self, method: &Method, path: &str, detail: String) -> ApiError {
        ApiError::Invalid {
            method: method.to_string(),
            path: path.to_owned(),
            detail,
        }
    }
}

/// `Retry-After` in seconds (the form Cloudflare sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}
