//! Where the client connects, with which credentials, and how it retries.

use std::time::Duration;

use super::ApiError;

/// The variable holding the account id.
pub const ACCOUNT_ID_VAR: &str = "CLOUDFLARE_ACCOUNT_ID";
/// The variable holding the API token.
pub const API_TOKEN_VAR: &str = "CLOUDFLARE_API_TOKEN";
/// The variable that overrides the API's base URL (for tests and proxies).
pub const BASE_URL_VAR: &str = "CLOUDFLARE_API_BASE_URL";
/// The v4 API.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// The settings of a [`Client`](super::Client).
#[derive(Clone)]
pub struct Config {
    /// The account every resource lives in.
    pub account_id: String,
    /// The API token, sent as a bearer token.
    pub api_token: String,
    /// The API's base URL, without a trailing slash.
    pub base_url: String,
    /// How many times one request is tried before its error is returned (at least 1).
    pub max_attempts: u32,
    /// The first pause between attempts after a server error or a lost connection; it doubles
    /// with every attempt.
    pub base_delay: Duration,
    /// The longest pause between attempts, whatever `Retry-After` asks for.
    pub max_delay: Duration,
    /// How many requests may be in flight at once.
    pub max_in_flight: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("account_id", &self.account_id)
            .field("api_token", &"[secret]")
            .field("base_url", &self.base_url)
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl Config {
    /// Settings for `account_id` with `api_token` against the real API: 5 attempts, a first
    /// pause of 500 ms, pauses of at most 60 s, and 8 requests in flight.
    pub fn new(account_id: impl Into<String>, api_token: impl Into<String>) -> Self {
        Config {
            account_id: account_id.into(),
            api_token: api_token.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_in_flight: 8,
        }
    }

    /// Settings from `CLOUDFLARE_ACCOUNT_ID`, `CLOUDFLARE_API_TOKEN` and, when set,
    /// `CLOUDFLARE_API_BASE_URL`.
    pub fn from_env() -> Result<Self, ApiError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Settings from the variables `lookup` gives, as [`Config::from_env`] reads them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let required = |name: &'static str, what: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(ApiError::MissingVariable { name, what })
        };
        let account_id = required(ACCOUNT_ID_VAR, "the id of the Cloudflare account to deploy to (the dashboard shows it on the account's home page)")?;
        let api_token = required(API_TOKEN_VAR, "an API token with Workers Scripts, Workers R2 Storage and Account Settings edit permissions (create one under My Profile > API Tokens)")?;
        let mut config = Config::new(account_id, api_token);
        if let Some(url) = lookup(BASE_URL_VAR).filter(|v| !v.trim().is_empty()) {
            config = config.with_base_url(url.trim());
        }
        Ok(config)
    }

    /// The same settings against `base_url` (a trailing slash is dropped).
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }
}
