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
}
