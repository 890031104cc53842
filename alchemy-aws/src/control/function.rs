//! The Lambda function that runs a service: the app's `bootstrap` on `provided.al2023`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use alchemy::provider::{Context, Provider};
use alchemy::{Error, Input, Resource, Result};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime,
    State,
};
use aws_sdk_lambda::Client;
use serde::{Deserialize, Serialize};

use super::name::function_name;
use super::sdk::{reason, retry_config};

/// A Lambda function whose code is a `bootstrap` zip (see
/// [`bootstrap::package`](super::bootstrap::package)). KIND `aws.lambda.function`.
///
/// Its name is the resource's physical name made Lambda-valid ([`function_name`]), so a
/// create interrupted before it was recorded is found again. A change of `code_sha256`
/// updates the code alone; a change of anything else updates the configuration alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaFunctionProps {
    /// The execution role's ARN, usually a reference to an
    /// [`IamRoleOutput`](super::IamRoleOutput)'s `arn`.
    pub role_arn: Input<String>,
    /// The runtime (default `provided.al2023`: the zip's `bootstrap` is the function).
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// The handler (default `bootstrap`; the `provided` runtimes do not use it).
    #[serde(default = "default_handler")]
    pub handler: String,
    /// The instruction set of the bootstrap (default `x86_64`; or `arm64`).
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// Memory in MiB, 128 to 10240 (default 128).
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    /// How long one invocation may run, in seconds, 1 to 900 (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    /// Environment variables; values may be references to outputs.
    #[serde(default)]
    pub environment: BTreeMap<String, Input<String>>,
    /// The base64 SHA-256 of the zip, as Lambda reports it in `CodeSha256`.
    pub code_sha256: String,
    /// Where the zip is.
    pub zip_path: String,
}

fn default_runtime() -> String {
    "provided.al2023".to_owned()
}

fn default_handler() -> String {
    "bootstrap".to_owned()
}

fn default_architecture() -> String {
    "x86_64".to_owned()
}

fn default_memory() -> u32 {
    128
}

fn default_timeout() -> u32 {
    30
}

impl LambdaFunctionProps {
    /// A function running the package `code` (on its architecture) as the role `role_arn`,
    /// with the defaults.
    pub fn new(role_arn: impl Into<Input<String>>, code: &super::bootstrap::Package) -> Self {
        LambdaFunctionProps {
            role_arn: role_arn.into(),
            runtime: default_runtime(),
            handler: default_handler(),
            architecture: code.architecture.clone(),
            memory_mb: default_memory(),
            timeout_s: default_timeout(),
            environment: BTreeMap::new(),
            code_sha256: code.code_sha256.clone(),
            zip_path: code.zip_path.display().to_string(),
        }
    }

    fn environment(&self) -> HashMap<String, String> {
        self.environment
            .iter()
            .map(|(k, v)| (k.clone(), v.get().clone()))
            .collect()
    }
}

/// What a deployed function is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaFunctionOutput {
    /// The function's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
}

impl Resource for LambdaFunctionProps {
    const KIND: &'static str = "aws.lambda.function";
    type Output = LambdaFunctionOutput;
}

/// How long a function may take to become active or finish an update.
const READY_WITHIN: Duration = Duration::from_secs(300);
/// How long a new role may take to become assumable by Lambda (IAM is eventually consistent).
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// Creates, reads, updates and deletes Lambda functions over `aws-sdk-lambda`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode.
/// A create or configuration update that Lambda refuses because it cannot assume a role just
/// made ("The role defined for the function cannot be assumed by Lambda") is retried with
/// backoff for up to two minutes, the time IAM takes to propagate a new role.
#[derive(Debug, Clone)]
pub struct LambdaFunctionProvider {
    client: Client,
    role_propagation: Duration,
}

impl LambdaFunctionProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        LambdaFunctionProvider {
            client,
            role_propagation: ROLE_PROPAGATION,
        }
    }

    /// A provider with credentials, region and endpoint from `config`.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let lambda = aws_sdk_lambda::config::Builder::from(config)
            .retry_config(retry_config())
            .build();
        Self::new(Client::from_conf(lambda))
    }

    /// A provider with credentials, region and endpoint from the standard AWS chain.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// Waits up to `wait` (instead of two minutes) for Lambda to be able to assume a role
    /// before a create or configuration update fails.
    pub fn with_role_propagation(self, wait: Duration) -> Self {
        LambdaFunctionProvider {
            role_propagation: wait,
            ..self
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls `send` again, with backoff, while Lambda says it cannot assume the function's
    /// role: a role just made takes a while to reach Lambda. The error once the wait is over
    /// says what to check.
    async fn until_role_assumable<T, E, R, F, Fut>(
        &self,
        what: &str,
        name: &str,
        role: &str,
        mut send: F,
    ) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        let deadline = tokio::time::Instant::now() + self.role_propagation;
        let mut pause = Duration::from_millis(500);
        loop {
            match send().await {
                Err(e) if role_not_assumable(&e) => {
                    if tokio::time::Instant::now() + pause > deadline {
                        return Err(Error::provider(format!(
                            "could not {what} Lambda function `{name}`: Lambda still cannot \
                             assume the role {role} after {}s ({}); check that the role exists \
                             and that its trust policy lets lambda.amazonaws.com assume it",
                            self.role_propagation.as_secs(),
                            reason(&e)
                        )));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(failed(what, name, e)),
                Ok(out) => return Ok(out),
            }
        }
    }

    /// The configuration of `name`, or `None` if there is no such function.
    async fn configuration(&self, name: &str) -> Result<Option<FunctionConfiguration>> {
        match self.client.get_function().function_name(name).send().await {
            Ok(out) => Ok(out.configuration().cloned()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed("read", name, e)),
        }
    }

    /// Waits until `name` is active and no update is in progress; its configuration then.
    async fn ready(&self, name: &str) -> Result<FunctionConfiguration> {
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let mut pause = Duration::from_millis(250);
        loop {
            let config = self
                .configuration(name)
                .await?
                .ok_or_else(|| Error::NotFound(format!("Lambda function `{name}`")))?;
            let state = config.state();
            let update = config.last_update_status();
            if state == Some(&State::Failed) {
                return Err(Error::provider(format!(
                    "Lambda function `{name}` failed to become active: {}",
                    config.state_reason().unwrap_or("no reason given")
                )));
            }
            if update == Some(&LastUpdateStatus::Failed) {
                return Err(Error::provider(format!(
                    "the last update of Lambda function `{name}` failed: {}",
                    config
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                )));
            }
            let busy = matches!(state, Some(State::Pending))
                || matches!(update, Some(LastUpdateStatus::InProgress));
            if !busy {
                return Ok(config);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::provider(format!(
                    "Lambda function `{name}` is still {} after {}s; deploy again to wait longer",
                    if matches!(state, Some(State::Pending)) {
                        "pending"
                    } else {
                        "updating"
                    },
                    READY_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Sets the code and configuration of the existing function `name` to `props`, calling
    /// only what differs from what is live.
    async fn converge(
        &self,
        name: &str,
        props: &LambdaFunctionProps,
    ) -> Result<FunctionConfiguration> {
        let mut live = self.ready(name).await?;
        let architecture = Architecture::from(props.architecture.as_str());
        // Lambda leaves out the architecture of a function made without one: x86_64.
        let same_architecture = match live.architectures() {
            [] => architecture == Architecture::X8664,
            live => live == [architecture.clone()],
        };
        if live.code_sha256() != Some(props.code_sha256.as_str()) || !same_architecture {
            let zip = read_zip(props)?;
            self.client
                .update_function_code()
                .function_name(name)
                .zip_file(zip)
                .architectures(architecture)
                .send()
                .await
                .map_err(|e| failed("update the code of", name, e))?;
            live = self.ready(name).await?;
        }
        if !configured(&live, props) {
            let env = props.environment();
            self.until_role_assumable(
                "update the configuration of",
                name,
                props.role_arn.get(),
                || {
                    self.client
                        .update_function_configuration()
                        .function_name(name)
                        .role(props.role_arn.get())
                        .runtime(Runtime::from(props.runtime.as_str()))
                        .handler(&props.handler)
                        .memory_size(i32_of(props.memory_mb))
                        .timeout(i32_of(props.timeout_s))
                        .environment(
                            Environment::builder()
                                .set_variables(Some(env.clone()))
                                .build(),
                        )
                        .send()
                },
            )
            .await?;
            live = self.ready(name).await?;
        }
        Ok(live)
    }
}

/// Whether `live` runs the code of `props` with its settings.
fn matches(live: &FunctionConfiguration, props: &LambdaFunctionProps) -> bool {
    live.code_sha256() == Some(props.code_sha256.as_str()) && configured(live, props)
}

/// Whether everything but the code of `live` is as `props` asks.
fn configured(live: &FunctionConfiguration, props: &LambdaFunctionProps) -> bool {
    let env = live
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    live.role() == Some(props.role_arn.get().as_str())
        && live.runtime().map(Runtime::as_str) == Some(props.runtime.as_str())
        && live.handler() == Some(props.handler.as_str())
        && live.memory_size() == Some(i32_of(props.memory_mb))
        && live.timeout() == Some(i32_of(props.timeout_s))
        && env == props.environment()
}

/// The zip of `props`, checked against the digest the plan recorded.
fn read_zip(props: &LambdaFunctionProps) -> Result<Blob> {
    use base64::Engine as _;
    use sha2::Digest as _;

    let bytes = std::fs::read(&props.zip_path).map_err(|e| {
        Error::provider(format!(
            "cannot read the function's code {}: {e}; plan again to package it",
            props.zip_path
        ))
    })?;
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    if digest != props.code_sha256 {
        return Err(Error::provider(format!(
            "the function's code {} changed since it was planned (SHA-256 {digest}, planned \
             {}); plan again",
            props.zip_path, props.code_sha256
        )));
    }
    Ok(Blob::new(bytes))
}

/// Whether Lambda refused a role it cannot (yet) assume.
fn role_not_assumable<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("InvalidParameterValueException")
        && e.message().is_some_and(|m| m.contains("cannot be assumed"))
}

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn output(config: &FunctionConfiguration, name: &str) -> LambdaFunctionOutput {
    LambdaFunctionOutput {
        name: config.function_name().unwrap_or(name).to_owned(),
        arn: config.function_arn().unwrap_or_default().to_owned(),
    }
}

#[async_trait]
impl Provider<LambdaFunctionProps> for LambdaFunctionProvider {
    async fn read(
        &self,
        ctx: &Context,
        props: &LambdaFunctionProps,
        output: Option<LambdaFunctionOutput>,
    ) -> Result<Option<LambdaFunctionOutput>> {
        let Some(output) = output else {
            // No output recorded (a create that was interrupted, or `--adopt`): a function
            // that exists with other code or settings counts as not made yet, so creating
            // again adopts it and sets it to `props`.
            let name = function_name(&ctx.physical_name());
            return Ok(self
                .configuration(&name)
                .await?
                .filter(|config| matches(config, props))
                .map(|config| self::output(&config, &name)));
        };
        let name = output.name;
        Ok(self
            .configuration(&name)
            .await?
            .map(|config| self::output(&config, &name)))
    }

    async fn create(
        &self,
        ctx: &Context,
        props: &LambdaFunctionProps,
    ) -> Result<LambdaFunctionOutput> {
        let name = function_name(&ctx.physical_name());
        let zip = read_zip(props)?;
        let env = props.environment();
        let created = self
            .until_role_assumable("create", &name, props.role_arn.get(), || {
                self.client
                    .create_function()
                    .function_name(&name)
                    .role(props.role_arn.get())
                    .runtime(Runtime::from(props.runtime.as_str()))
                    .handler(&props.handler)
                    .architectures(Architecture::from(props.architecture.as_str()))
                    .memory_size(i32_of(props.memory_mb))
                    .timeout(i32_of(props.timeout_s))
                    .environment(
                        Environment::builder()
                            .set_variables(Some(env.clone()))
                            .build(),
                    )
                    .code(FunctionCode::builder().zip_file(zip.clone()).build())
                    .description(format!(
                        "Service `{}` of app {}, stage {}",
                        ctx.id, ctx.app, ctx.stage
                    ))
                    .send()
            })
            .await;
        let config = match created {
            Ok(_) => self.ready(&name).await?,
            // An earlier create that was not recorded: adopt the function and set it to
            // `props`.
            Err(Error::AlreadyExists(_)) => self.converge(&name, props).await?,
            Err(e) => return Err(e),
        };
        Ok(output(&config, &name))
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &LambdaFunctionProps,
        new: &LambdaFunctionProps,
        output: &LambdaFunctionOutput,
    ) -> Result<LambdaFunctionOutput> {
        let config = self.converge(&output.name, new).await?;
        Ok(self::output(&config, &output.name))
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &LambdaFunctionProps,
        output: &LambdaFunctionOutput,
    ) -> Result<()> {
        match self
            .client
            .delete_function()
            .function_name(&output.name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed("delete", &output.name, e)),
        }
    }
}

/// A Lambda call on the function `name` that failed.
fn failed<E, R>(what: &str, name: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some("ResourceNotFoundException") => {
            return Error::NotFound(format!("Lambda function `{name}`"))
        }
        Some("ResourceConflictException") if what == "create" => {
            return Error::AlreadyExists(format!("Lambda function `{name}`"))
        }
        _ => {}
    }
    Error::provider(format!(
        "could not {what} Lambda function `{name}`: {}",
        reason(&e)
    ))
}
