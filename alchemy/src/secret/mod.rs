//! Secrets: values that never appear in plan output, logs, errors or JSON, encrypted in state.
//!
//! A [`Secret`] is a string that prints as `[secret]`. Serialized, it is the marker
//! `{"$secret": "<value>"}`: the in-memory form the engine works with. Two walkers over
//! [`serde_json::Value`] take it from there:
//!
//! - before state is written, [`Cipher::seal`] turns every `{"$secret": ...}` into
//!   `{"$sealed": "<base64>"}`, and [`Cipher::open`] turns them back when state is read;
//! - before anything is shown (plan output, `--json`, logs, errors), [`redact`] replaces both
//!   markers with the string `"[secret]"`.
//!
//! ```
//! use alchemy::secret::{redact, Cipher, Secret};
//! use serde_json::json;
//!
//! # fn main() -> alchemy::Result<()> {
//! let props = json!({ "name": "db", "password": Secret::new("hunter2") });
//! assert_eq!(props["password"], json!({ "$secret": "hunter2" }));
//!
//! // In real use the key comes from the environment: `Cipher::from_env(state.secrets.as_ref())`.
//! let (cipher, header) = Cipher::from_key([7; 32], None)?;
//! let sealed = cipher.seal(&props)?;
//! assert!(!sealed.to_string().contains("hunter2"));
//!
//! let (cipher, _) = Cipher::from_key([7; 32], Some(&header))?;
//! assert_eq!(cipher.open(&sealed)?, props);
//! assert_eq!(redact(&props), json!({ "name": "db", "password": "[secret]" }));
//! # Ok(())
//! # }
//! ```
//!
//! [`Secret`], [`redact`], [`has_secrets`] and [`has_sealed`] are available everywhere, also
//! inside a Worker or a Lambda function; [`Cipher`] needs the `deploy` feature.

#[cfg(feature = "deploy")]
mod cipher;
mod json;
mod value;

#[cfg(feature = "deploy")]
pub use cipher::Cipher;
pub use json::{has_sealed, has_secrets, redact};
pub use value::Secret;

/// The key of the marker object a [`Secret`] serializes to: `{"$secret": "<value>"}`.
pub const SECRET_MARKER: &str = "$secret";

/// The key of the marker object a sealed secret is stored as: `{"$sealed": "<base64>"}`.
pub const SEALED_MARKER: &str = "$sealed";

/// What a secret is shown as, wherever it is shown.
pub const REDACTED: &str = "[secret]";
