//! [`Aws`]: the AWS provider as a cloud an app registers (feature `deploy`).

use std::process::ExitCode;
use std::sync::Arc;

use alchemy::cloud::{Cloud, StageConfig};
use alchemy::platform::Platform;
use alchemy::App;

use crate::control::{AwsPlatform, AwsPlatformOptions};
use crate::lambda::{self, ResponseMode};
use crate::runtime::AwsRuntime;

/// The AWS cloud: register it with `.cloud(alchemy_aws::Aws)` and a stage with
/// `provider = "aws"` in `alchemy.toml` deploys to AWS, while the deployed function, which runs
/// the same program, serves the app's service there.
///
/// - [`Cloud::platform`]: an [`AwsPlatform`] with the options of the stage's `settings` table
///   (see [`AwsPlatformOptions::from_settings`]).
/// - [`Cloud::host`]: when Lambda started the process (`AWS_LAMBDA_RUNTIME_API` is set), runs
///   the init of the service named by `ALCHEMY_SERVICE` (or of the app's only service) on an
///   [`AwsRuntime`] and serves its handler with the [Lambda adapter](crate::lambda), in the
///   response mode `ALCHEMY_LAMBDA_RESPONSE` asks for. Every actor type of the app
///   ([`App::actor_classes`]) is registered with the runtime first, so the service's bound
///   actor namespaces run their turns in the function (over DynamoDB; see
///   [`crate::actor`]). One runtime serves every invocation of the process, so a warm
///   function reuses its clients and actor instances.
///
/// ```no_run
/// use alchemy::http::{handler_fn, BoxHandler, ByteStream};
/// use alchemy::{Init, Service};
///
/// struct Api;
/// impl Service for Api {
///     type Handler = BoxHandler;
///     async fn init(_ctx: &mut Init<'_>) -> alchemy::Result<BoxHandler> {
///         Ok(BoxHandler::new(handler_fn(|_: http::Request<ByteStream>| async {
///             http::Response::new(ByteStream::from("hello"))
///         })))
///     }
/// }
///
/// // With `[stages.aws]` and `provider = "aws"` in alchemy.toml, `deploy --stage aws`
/// // deploys this program to Lambda, where it serves `api`.
/// fn main() -> std::process::ExitCode {
///     alchemy::app("hello").service::<Api>("api").cloud(alchemy_aws::Aws).run()
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Aws;

impl Cloud for Aws {
    fn name(&self) -> &str {
        "aws"
    }

    fn platform(&self, stage: &StageConfig) -> alchemy::Result<Arc<dyn Platform>> {
        let options = AwsPlatformOptions::from_settings(&stage.settings)?;
        Ok(Arc::new(AwsPlatform::new(options, &stage.state_dir)))
    }

    fn host(&self, app: &App) -> Option<ExitCode> {
        if !lambda::started_by_lambda() {
            return None;
        }
        Some(match host(app) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        })
    }

    fn state_bucket<'a>(
        &'a self,
        settings: &'a serde_json::Value,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = alchemy::Result<alchemy::bucket::BucketClient>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(crate::state::state_bucket(settings))
    }

    /// An S3 client for a bucket placed on AWS and bound by a service on another provider:
    /// the bucket's name is the binding's `bucket`; credentials, region and endpoint come from
    /// the standard chain with the stage's AWS settings over it, as for deploying.
    fn open_bucket<'a>(
        &'a self,
        binding: &'a serde_json::Value,
        settings: &'a serde_json::Value,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = alchemy::Result<alchemy::bucket::BucketClient>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            let options = AwsPlatformOptions::from_settings(settings)?;
            let Some(bucket) = binding["bucket"].as_str() else {
                return Err(alchemy::Error::Config(format!(
                    "the binding of bucket `{}` has no S3 bucket name: deploy the stage again",
                    binding["name"].as_str().unwrap_or("?")
                )));
            };
            let config = options.sdk_config().await;
            Ok(alchemy::bucket::BucketClient::new(
                crate::s3::S3Bucket::from_sdk_config(&config, bucket),
            ))
        })
    }
}

/// The service this function serves: `ALCHEMY_SERVICE`, or the app's only service.
fn service_id(app: &App) -> Result<String, String> {
    if let Some(id) = std::env::var(lambda::SERVICE_ENV)
        .ok()
        .filter(|id| !id.is_empty())
    {
        return Ok(id);
    }
    let ids: Vec<&str> = app.service_ids().collect();
    match ids.as_slice() {
        [only] => Ok(only.to_string()),
        _ => Err(format!(
            "app `{}` runs in Lambda without `{}`, and it has {} services ({}): set `{}` on the function to the service it serves (deploying does)",
            app.name(),
            lambda::SERVICE_ENV,
            ids.len(),
            ids.join(", "),
            lambda::SERVICE_ENV
        )),
    }
}

fn host(app: &App) -> Result<(), String> {
    let service = service_id(app)?;
    let mode = ResponseMode::from_env().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime to serve `{service}`: {e}"))?;
    runtime.block_on(async {
        let aws = AwsRuntime::from_env().await;
        for (namespace, class) in app.actor_classes() {
            aws.register_actors(&namespace, class)
                .map_err(|e| format!("cannot host actor namespace `{namespace}` in Lambda: {e}"))?;
        }
        let handler = app
            .handler(&service, &aws)
            .await
            .map_err(|e| format!("the init of service `{service}` failed in Lambda: {e}"))?;
        lambda::serve(handler, mode)
            .await
            .map_err(|e| format!("serving `{service}` in Lambda stopped: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn stage(settings: serde_json::Value) -> StageConfig {
        StageConfig {
            app: "photo-share".into(),
            stage: "aws".into(),
            state_dir: PathBuf::from("/tmp/state/aws"),
            settings,
        }
    }

    #[test]
    fn the_platform_is_aws_with_the_stage_settings() {
        let platform = Aws
            .platform(&stage(serde_json::json!({ "memory_mb": 256 })))
            .unwrap();
        assert_eq!(platform.name(), "aws");
        assert_eq!(Aws.name(), "aws");
    }

    #[test]
    fn unknown_settings_are_refused() {
        let error = Aws
            .platform(&stage(serde_json::json!({ "regoin": "eu-west-1" })))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("unknown field `regoin`"), "{error}");
    }

    #[test]
    fn outside_lambda_the_command_line_runs() {
        // Tests never run inside Lambda, so the variable is unset here.
        assert!(!lambda::started_by_lambda());
        assert!(Aws.host(&alchemy::app("photo-share")).is_none());
    }

    #[test]
    fn an_app_with_one_service_needs_no_service_variable() {
        struct Api;
        impl alchemy::Service for Api {
            type Handler = alchemy::http::BoxHandler;
            async fn init(_: &mut alchemy::Init<'_>) -> alchemy::Result<alchemy::http::BoxHandler> {
                unreachable!("not initialised in this test")
            }
        }
        let one = alchemy::app("a").service::<Api>("api");
        assert_eq!(service_id(&one).unwrap(), "api");
        let two = alchemy::app("a")
            .service::<Api>("api")
            .service::<Api>("admin");
        assert_eq!(
            service_id(&two).unwrap_err(),
            "app `a` runs in Lambda without `ALCHEMY_SERVICE`, and it has 2 services (api, admin): set `ALCHEMY_SERVICE` on the function to the service it serves (deploying does)"
        );
    }
}
