//! The function URL that serves a service's HTTP: an HTTPS endpoint for one Lambda function.

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Error, Input, Resource, Result};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::types::FunctionUrlAuthType;
use aws_sdk_lambda::Client;
use serde::{Deserialize, Serialize};

use super::sdk::{reason, retry_config};

/// Who may call a function URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UrlAuth {
    /// Anyone: the URL is public, and the function's resource policy allows every caller
    /// (the service does its own authentication).
    #[default]
    None,
    /// Callers who sign their requests with IAM credentials allowed to invoke the URL.
    AwsIam,
}

impl UrlAuth {
    fn sdk(self) -> FunctionUrlAuthType {
        match self {
            UrlAuth::None => FunctionUrlAuthType::None,
            UrlAuth::AwsIam => FunctionUrlAuthType::AwsIam,
        }
    }
}

/// A function URL. KIND `aws.lambda.url`.
///
/// With [`UrlAuth::None`] the function's resource policy also gets the two statements that
/// let anyone call it through its URL: `lambda:InvokeFunctionUrl` (auth type `NONE`) and
/// `lambda:InvokeFunction` (only when invoked via the URL), both of which AWS requires for a
/// public URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionUrlProps {
    /// The function's name, usually a reference to a
    /// [`LambdaFunctionOutput`](super::LambdaFunctionOutput)'s `name`.
    pub function_name: Input<String>,
    /// Who may call it (default [`UrlAuth::None`]).
    #[serde(default)]
    pub auth: UrlAuth,
}

/// What a deployed function URL is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionUrlOutput {
    /// The URL, `https://<id>.lambda-url.<region>.on.aws/` on AWS.
    pub url: String,
    /// The function it invokes.
    pub function_name: String,
}

impl Resource for FunctionUrlProps {
    const KIND: &'static str = "aws.lambda.url";
    type Output = FunctionUrlOutput;
}

/// The statement id of the permission that lets anyone call the URL.
const PUBLIC_URL_STATEMENT: &str = "alchemy-public-url";
/// The statement id of the permission that lets anyone invoke the function via the URL.
const PUBLIC_INVOKE_STATEMENT: &str = "alchemy-public-url-invoke";

/// Creates, reads, updates and deletes function URLs over `aws-sdk-lambda`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode.
#[derive(Debug, Clone)]
pub struct FunctionUrlProvider {
    client: Client,
}

impl FunctionUrlProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        FunctionUrlProvider { client }
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

    /// The URL of `function`, or `None` if it has none.
    async fn get(&self, function: &str) -> Result<Option<String>> {
        match self
            .client
            .get_function_url_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.function_url().to_owned())),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed("read the URL of", function, e)),
        }
    }

    /// The URL of `props`'s function, if it exists as `props` asks: its auth type, and the
    /// public permissions exactly when its auth type is `NONE`.
    async fn lookup(&self, props: &FunctionUrlProps) -> Result<Option<FunctionUrlOutput>> {
        let function = props.function_name.get();
        let config = match self
            .client
            .get_function_url_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(failed("read the URL of", function, e)),
        };
        if config.auth_type() != &props.auth.sdk() {
            return Ok(None);
        }
        let policy = match self
            .client
            .get_policy()
            .function_name(function)
            .send()
            .await
        {
            Ok(out) => out.policy().unwrap_or_default().to_owned(),
            Err(e) if e.code() == Some("ResourceNotFoundException") => String::new(),
            Err(e) => return Err(failed("read the permissions of", function, e)),
        };
        let public = [PUBLIC_URL_STATEMENT, PUBLIC_INVOKE_STATEMENT]
            .iter()
            .all(|sid| policy.contains(&format!("\"{sid}\"")));
        if public != (props.auth == UrlAuth::None) {
            return Ok(None);
        }
        Ok(Some(FunctionUrlOutput {
            url: config.function_url().to_owned(),
            function_name: function.clone(),
        }))
    }

    /// Makes or changes the URL of `function` to `props`, and its public permissions.
    async fn apply(&self, props: &FunctionUrlProps) -> Result<FunctionUrlOutput> {
        let function = props.function_name.get();
        let created = self
            .client
            .create_function_url_config()
            .function_name(function)
            .auth_type(props.auth.sdk())
            .send()
            .await;
        let url = match created {
            Ok(out) => out.function_url().to_owned(),
            // The function has a URL already (a create that was not recorded, or an update).
            Err(e) if e.code() == Some("ResourceConflictException") => self
                .client
                .update_function_url_config()
                .function_name(function)
                .auth_type(props.auth.sdk())
                .send()
                .await
                .map_err(|e| failed("update the URL of", function, e))?
                .function_url()
                .to_owned(),
            Err(e) => return Err(failed("create the URL of", function, e)),
        };
        match props.auth {
            UrlAuth::None => self.allow_public(function).await?,
            UrlAuth::AwsIam => self.remove_public(function).await?,
        }
        Ok(FunctionUrlOutput {
            url,
            function_name: function.clone(),
        })
    }

    async fn allow_public(&self, function: &str) -> Result<()> {
        let url = self
            .client
            .add_permission()
            .function_name(function)
            .statement_id(PUBLIC_URL_STATEMENT)
            .action("lambda:InvokeFunctionUrl")
            .principal("*")
            .function_url_auth_type(FunctionUrlAuthType::None)
            .send()
            .await;
        match url {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceConflictException") => {}
            Err(e) => return Err(failed("allow public calls to the URL of", function, e)),
        }
        let invoke = self
            .client
            .add_permission()
            .function_name(function)
            .statement_id(PUBLIC_INVOKE_STATEMENT)
            .action("lambda:InvokeFunction")
            .principal("*")
            .invoked_via_function_url(true)
            .send()
            .await;
        match invoke {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceConflictException") => Ok(()),
            Err(e) => Err(failed(
                "allow public invocations via the URL of",
                function,
                e,
            )),
        }
    }

    async fn remove_public(&self, function: &str) -> Result<()> {
        for statement in [PUBLIC_URL_STATEMENT, PUBLIC_INVOKE_STATEMENT] {
            match self
                .client
                .remove_permission()
                .function_name(function)
                .statement_id(statement)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                Err(e) => return Err(failed("remove the public permissions of", function, e)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provider<FunctionUrlProps> for FunctionUrlProvider {
    async fn read(
        &self,
        _ctx: &Context,
        props: &FunctionUrlProps,
        output: Option<FunctionUrlOutput>,
    ) -> Result<Option<FunctionUrlOutput>> {
        let Some(output) = output else {
            // No output recorded (a create that was interrupted, or `--adopt`): a URL whose
            // auth type or public permissions are not yet those of `props` counts as not made
            // yet, so creating again finishes it.
            return self.lookup(props).await;
        };
        let function = output.function_name;
        Ok(self.get(&function).await?.map(|url| FunctionUrlOutput {
            url,
            function_name: function,
        }))
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &FunctionUrlProps,
        new: &FunctionUrlProps,
        _output: &FunctionUrlOutput,
    ) -> Result<Diff> {
        // A URL belongs to one function: another function needs another URL.
        if old.function_name != new.function_name {
            return Ok(Diff::Replace {
                delete_first: false,
            });
        }
        Ok(Diff::Update)
    }

    async fn create(&self, _ctx: &Context, props: &FunctionUrlProps) -> Result<FunctionUrlOutput> {
        self.apply(props).await
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &FunctionUrlProps,
        new: &FunctionUrlProps,
        _output: &FunctionUrlOutput,
    ) -> Result<FunctionUrlOutput> {
        self.apply(new).await
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &FunctionUrlProps,
        output: &FunctionUrlOutput,
    ) -> Result<()> {
        let function = &output.function_name;
        match self
            .client
            .delete_function_url_config()
            .function_name(function)
            .send()
            .await
        {
            // Gone already: the function with it, or an earlier delete whose answer was
            // lost, which may have left the public permissions behind.
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(failed("delete the URL of", function, e)),
        }
        // Removing the permissions of a function that is gone finds nothing to remove.
        self.remove_public(function).await
    }
}

/// A Lambda call on the URL of `function` that failed.
fn failed<E, R>(what: &str, function: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.code() == Some("ResourceNotFoundException") {
        return Error::NotFound(format!("the URL of Lambda function `{function}`"));
    }
    Error::provider(format!(
        "could not {what} Lambda function `{function}`: {}",
        reason(&e)
    ))
}
