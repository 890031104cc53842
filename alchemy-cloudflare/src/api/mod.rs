//! A client of the Cloudflare v4 API (feature `deploy`): credentials from the environment,
//! envelope decoding, retries of throttled and failed requests, and a cap on requests in flight.
//!
//! ```no_run
//! # async fn example() -> Result<(), alchemy_cloudflare::api::ApiError> {
//! use alchemy_cloudflare::api::{Body, Client, Method};
//!
//! // CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN, optionally CLOUDFLARE_API_BASE_URL.
//! let client = Client::from_env()?;
//! let buckets = client
//!     .call(Method::GET, &client.account_path("/r2/buckets"), Body::Empty)
//!     .await?;
//! println!("{buckets}");
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;

pub use client::{Body, Client, Part};
pub use config::{Config, ACCOUNT_ID_VAR, API_TOKEN_VAR, BASE_URL_VAR, DEFAULT_BASE_URL};
pub use error::{ApiError, Message};
/// The HTTP method of a [`Client::call`].
pub use reqwest::Method;
