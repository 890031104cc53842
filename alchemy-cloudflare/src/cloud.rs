//! [`Cloudflare`]: the Cloudflare provider as a [`Cloud`] an app registers, so that stages
//! configured with `provider = "cloudflare"` in `alchemy.toml` deploy there.

use std::process::ExitCode;
use std::sync::Arc;

use alchemy::cloud::{Cloud, StageConfig};
use alchemy::platform::Platform;
use alchemy::App;

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

    #[test]
    fn it_is_named_as_stages_name_it_and_never_hosts() {
        assert_eq!(Cloudflare.name(), "cloudflare");
        assert!(Cloudflare.host(&alchemy::app("x")).is_none());
    }
}
