//! [`Cloudflare`]: the Cloudflare provider as a [`Cloud`] an app registers, so that stages
//! configured with `provider = "cloudflare"` in `alchemy.toml` deploy there.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use alchemy::bucket::remote::RemoteBucket;
use alchemy::bucket::BucketClient;
use alchemy::cloud::{Cloud, StageConfig};
use alchemy::platform::Platform;
use alchemy::{App, Error};
use serde::Deserialize;
use serde_json::Value;

use crate::control::CloudflarePlatform;

/// The Cloudflare cloud: `.cloud(alchemy_cloudflare::Cloudflare)` on an app.
///
/// - [`Cloud::platform`]: a [`CloudflarePlatform`] with the options of the stage's `settings`
///   table (see [`CloudflarePlatformOptions::from_settings`](crate::control::CloudflarePlatformOptions::from_settings))
///   and credentials from `CLOUDFLARE_ACCOUNT_ID` and `CLOUDFLARE_API_TOKEN`.
/// - [`Cloud::host`]: never: on Cloudflare the app runs as the Worker built from it, not as
///   this program.
///
/// ```toml
/// [stages.edge]
/// provider = "cloudflare"
///
/// [stages.edge.settings]
/// bundle = { dir = "build/worker", main_module = "shim.js", modules = ["index.js", "index_bg.wasm"] }
///
/// [stages.from-source]
/// provider = "cloudflare"
///
/// [stages.from-source.settings]   # the crate is built to wasm while planning (feature `build`)
/// bundle = { crate = "." }
/// ```
///
/// `CLOUDFLARE_API_BASE_URL` points the stage elsewhere than api.cloudflare.com, such as a
/// `testing::LocalCloudflare` on this machine (see the crate docs,
/// "A Cloudflare stage on this machine").
///
/// - [`Cloud::state_bucket`]: stage state in R2, reached through a Worker that serves its
///   bucket with [`alchemy::bucket::remote`] (see `tests/state-worker`): `url` is the Worker's
///   base URL and `token_env` the environment variable holding its bearer token.
///
/// ```toml
/// [stages.prod.state]
/// provider = "cloudflare"
/// url = "http://127.0.0.1:8787"
/// token_env = "ALCHEMY_STATE_TOKEN"
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Cloudflare;

impl Cloud for Cloudflare {
    fn name(&self) -> &str {
        "cloudflare"
    }

    fn platform(&self, stage: &StageConfig) -> alchemy::Result<Arc<dyn Platform>> {
        Ok(Arc::new(CloudflarePlatform::from_env(&stage.settings)?))
    }

    fn host(&self, _app: &App) -> Option<ExitCode> {
        None
    }

    fn state_bucket<'a>(
        &'a self,
        settings: &'a Value,
    ) -> Pin<Box<dyn Future<Output = alchemy::Result<BucketClient>> + Send + 'a>> {
        Box::pin(async move {
            let settings = StateSettings::from_settings(settings)?;
            let token = std::env::var(&settings.token_env).map_err(|_| {
                Error::Config(format!(
                    "the state bucket's token is read from `{}`, which is not set: export the \
                     bearer token of the state Worker at {} in it",
                    settings.token_env, settings.url
                ))
            })?;
            RemoteBucket::client(&settings.url, &token)
                .await
                .map_err(|e| Error::Config(format!("the cloudflare state bucket: {e}")))
        })
    }
}

/// The keys of a `[stages.NAME.state]` table with `provider = "cloudflare"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSettings {
    /// The state Worker's base URL.
    url: String,
    /// The environment variable holding the Worker's bearer token.
    #[serde(default = "default_token_env")]
    token_env: String,
}

fn default_token_env() -> String {
    "ALCHEMY_STATE_TOKEN".to_owned()
}

impl StateSettings {
    fn from_settings(settings: &Value) -> alchemy::Result<Self> {
        serde_json::from_value(settings.clone()).map_err(|e| {
            Error::Config(format!(
                "invalid `[stages.NAME.state]` for provider `cloudflare`: {e}. The keys are \
                 `url` (required: the base URL of the Worker serving the R2 bucket) and \
                 `token_env` (default `ALCHEMY_STATE_TOKEN`), besides `provider` and `prefix`"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(settings: serde_json::Value) -> StageConfig {
        StageConfig {
            app: "photo-share".into(),
            stage: "edge".into(),
            state_dir: std::env::temp_dir(),
            settings,
        }
    }

    #[test]
    fn unknown_settings_are_refused_by_name() {
        let error = Cloudflare
            .platform(&stage(serde_json::json!({ "bundel": {} })))
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("bundel"), "{error}");
    }

    #[tokio::test]
    async fn state_settings_are_checked_and_the_token_must_be_set() {
        let error = Cloudflare
            .state_bucket(&serde_json::json!({ "ur": "http://127.0.0.1:1" }))
            .await
            .expect_err("refused")
            .to_string();
        assert!(error.contains("unknown field `ur`"), "{error}");
        assert!(error.contains("`url` (required"), "{error}");
        let error = Cloudflare
            .state_bucket(&serde_json::json!({
                "url": "http://127.0.0.1:1",
                "token_env": "ALCHEMY_TEST_STATE_TOKEN_THAT_IS_NEVER_SET",
            }))
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("`ALCHEMY_TEST_STATE_TOKEN_THAT_IS_NEVER_SET`, which is not set"),
            "{error}"
        );
    }

    #[test]
    fn it_is_named_as_stages_name_it_and_never_hosts() {
        assert_eq!(Cloudflare.name(), "cloudflare");
        assert!(Cloudflare.host(&alchemy::app("x")).is_none());
    }
}
