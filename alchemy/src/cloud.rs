//! Clouds: provider packages that plug into an app.
//!
//! A provider crate (`alchemy_aws::Aws`, for instance) implements [`Cloud`] and the app
//! registers it with [`App::cloud`](crate::App::cloud). Then the cloud does two jobs for the
//! one program:
//!
//! - at deploy time, a stage whose `provider` in `alchemy.toml` is the cloud's
//!   [`name`](Cloud::name) gets its [`Platform`] from [`Cloud::platform`], built from the
//!   stage's `settings` table;
//! - at run time, when the cloud's own runtime started the program (inside a Lambda function,
//!   say), [`Cloud::host`] serves the app there instead of running the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::Value;

use crate::app::App;
use crate::bucket::BucketClient;
use crate::error::Result;
use crate::platform::Platform;

/// What a cloud is told about the stage it builds a platform for.
#[derive(Debug, Clone, PartialEq)]
pub struct StageConfig {
    /// The app's name.
    pub app: String,
    /// The stage's name.
    pub stage: String,
    /// The stage's state directory (`<state root>/<stage>`).
    pub state_dir: PathBuf,
    /// The stage's `[stages.NAME.settings]` table from `alchemy.toml`, as JSON (an empty
    /// object when the stage has none).
    pub settings: Value,
}

/// A provider package plugged into the app: it builds the platform of the stages configured
/// for it, and hosts the app when its runtime started the program.
///
/// ```no_run
/// use std::process::ExitCode;
/// use std::sync::Arc;
///
/// use alchemy::cloud::{Cloud, StageConfig};
/// use alchemy::local::LocalPlatform;
/// use alchemy::platform::Platform;
/// use alchemy::App;
///
/// /// A "cloud" that keeps a stage's resources in a directory named by its settings.
/// struct Folder;
///
/// impl Cloud for Folder {
///     fn name(&self) -> &str {
///         "folder"
///     }
///
///     fn platform(&self, stage: &StageConfig) -> alchemy::Result<Arc<dyn Platform>> {
///         let dir = stage.settings["dir"].as_str().unwrap_or("folder");
///         Ok(Arc::new(LocalPlatform::new(stage.state_dir.join(dir))))
///     }
///
///     fn host(&self, _app: &App) -> Option<ExitCode> {
///         None // never started by a runtime of its own
///     }
/// }
///
/// fn main() -> ExitCode {
///     alchemy::app("hello").cloud(Folder).run()
/// }
/// ```
pub trait Cloud: Send + Sync + 'static {
    /// The name stages use for it in `alchemy.toml` (`provider = "aws"`).
    fn name(&self) -> &str;

    /// The platform of a stage configured for this cloud, built from its settings. Settings
    /// the cloud does not know are an error that names them.
    fn platform(&self, stage: &StageConfig) -> Result<Arc<dyn Platform>>;

    /// When this cloud's runtime started the process (for AWS: `AWS_LAMBDA_RUNTIME_API` is
    /// set), serves `app` there and returns the exit code once serving ends; otherwise `None`,
    /// and the command line runs.
    fn host(&self, app: &App) -> Option<ExitCode>;

    /// A bucket of this cloud to keep stage state in, from a `[stages.NAME.state]` table that
    /// names this cloud (`settings` holds its keys but `provider` and `prefix`). The default:
    /// this cloud keeps no state.
    fn state_bucket<'a>(
        &'a self,
        settings: &'a Value,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<BucketClient>> + Send + 'a>>
    {
        let _ = settings;
        Box::pin(async move {
            Err(crate::Error::Config(format!(
                "the {} cloud does not keep state: name another provider in `[stages.NAME.state]`, such as `local` with a `path`",
                self.name()
            )))
        })
    }

    /// A client for a bucket of this cloud bound by a service running on another provider (a
    /// local service under `dev`, say), when a stage places the bucket here: `binding` is the
    /// binding's metadata as this cloud's platform contributed it, its references resolved
    /// (for AWS, `{"type": "bucket", "name": "photos", "bucket": "<S3 name>", ...}`), and
    /// `settings` the stage's settings of this cloud. The default: this cloud's buckets are
    /// reachable only from its own services.
    fn open_bucket<'a>(
        &'a self,
        binding: &'a Value,
        settings: &'a Value,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<BucketClient>> + Send + 'a>>
    {
        let _ = settings;
        Box::pin(async move {
            Err(crate::Error::Config(format!(
                "bucket `{}` is on the {} cloud, which cannot open it for a service on another provider: place the bucket on the service's provider",
                binding["name"].as_str().unwrap_or("?"),
                self.name()
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::config::Config;
    use crate::local::LocalPlatform;

    /// A cloud that records the stages it was asked for and hosts when told to.
    #[derive(Clone, Default)]
    struct Recorder {
        asked: Arc<Mutex<Vec<StageConfig>>>,
        hosts_with: Option<u8>,
    }

    impl Cloud for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }

        fn platform(&self, stage: &StageConfig) -> Result<Arc<dyn Platform>> {
            self.asked.lock().unwrap().push(stage.clone());
            Ok(Arc::new(LocalPlatform::new(
                stage.state_dir.join("recorded"),
            )))
        }

        fn host(&self, _: &App) -> Option<ExitCode> {
            self.hosts_with.map(ExitCode::from)
        }
    }

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("conf/alchemy.toml")).unwrap()
    }

    #[test]
    fn a_configured_stage_gets_its_platform_from_its_cloud() {
        let recorder = Recorder::default();
        let app = crate::app("snaps")
            .state_dir("/tmp/state")
            .cloud(recorder.clone());
        let config = config(
            "[stages.prod]\nprovider = \"recorder\"\n[stages.prod.settings]\nregion = \"eu-west-1\"\n",
        );
        let platform = app.platform_in(&config, "prod").unwrap();
        assert_eq!(platform.name(), "local");
        assert_eq!(
            *recorder.asked.lock().unwrap(),
            [StageConfig {
                app: "snaps".into(),
                stage: "prod".into(),
                state_dir: PathBuf::from("/tmp/state/prod"),
                settings: serde_json::json!({ "region": "eu-west-1" }),
            }]
        );
    }

    #[test]
    fn other_stages_stay_on_the_default_platform() {
        let recorder = Recorder::default();
        let app = crate::app("snaps").cloud(recorder.clone());
        let config =
            config("[stages.prod]\nprovider = \"recorder\"\n[stages.qa]\nprovider = \"local\"\n");
        for stage in ["dev", "qa", "staging"] {
            assert_eq!(app.platform_in(&config, stage).unwrap().name(), "local");
        }
        assert!(recorder.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn an_explicit_platform_still_hosts_unconfigured_stages() {
        let app = crate::app("snaps").platform(|stage, _| {
            Err(crate::Error::Config(format!(
                "custom platform asked for {stage}"
            )))
        });
        let error = app.platform_in(&Config::none(), "qa").err().unwrap();
        assert_eq!(error.to_string(), "custom platform asked for qa");
    }

    #[test]
    fn an_unregistered_provider_names_stage_provider_and_fix() {
        let app = crate::app("snaps").cloud(Recorder::default());
        let config = config("[stages.prod]\nprovider = \"aws\"\n[stages.edge]\nprovider = \"cloudflare\"\n[stages.x]\nprovider = \"azure\"\n");
        let message = |stage| app.platform_in(&config, stage).err().unwrap().to_string();
        assert_eq!(
            message("prod"),
            "stage `prod` in conf/alchemy.toml uses provider `aws`, which this app does not register (registered: local, recorder): add `.cloud(alchemy_aws::Aws)` to the app"
        );
        assert_eq!(
            message("edge"),
            "stage `edge` in conf/alchemy.toml uses provider `cloudflare`, which this app does not register (registered: local, recorder): add `.cloud(alchemy_cloudflare::Cloudflare)` to the app"
        );
        assert_eq!(
            message("x"),
            "stage `x` in conf/alchemy.toml uses provider `azure`, which this app does not register (registered: local, recorder): register a cloud named `azure` with `.cloud(...)`, or use one of the registered providers"
        );
    }

    #[test]
    fn a_cloud_that_hosts_takes_over_run() {
        let recorder = Recorder {
            hosts_with: Some(7),
            ..Recorder::default()
        };
        let code = crate::app("snaps").cloud(recorder).run();
        assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::from(7)));
    }
}
