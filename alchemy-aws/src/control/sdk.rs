//! What every control-plane client shares: the retry policy, error text, and an SDK
//! configuration loaded on first use.

use std::sync::Arc;
use std::time::Duration;

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Resource, Result};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

/// Attempts per request, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The retry policy of every control-plane client: the SDK's standard mode (throttling, 5xx
/// answers and failed connections are retried), five attempts, exponential backoff with
/// jitter from 200 ms.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
}

/// The service's error code and message, or the whole error chain when it has neither.
pub(crate) fn reason<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

/// Loads an [`SdkConfig`] once, when a provider first needs it: platforms are built
/// synchronously, while the standard AWS chain is read asynchronously.
pub(crate) type LoadConfig =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, SdkConfig> + Send + Sync>;

/// A provider made from the SDK configuration on its first call.
pub(crate) struct Lazy<P> {
    config: Arc<OnceCell<SdkConfig>>,
    load: LoadConfig,
    make: fn(&SdkConfig) -> P,
    provider: OnceCell<P>,
}

impl<P> Lazy<P> {
    /// A provider that `make` builds from the configuration in `config`, loaded by `load`
    /// if no provider has loaded it yet.
    pub(crate) fn new(
        config: Arc<OnceCell<SdkConfig>>,
        load: LoadConfig,
        make: fn(&SdkConfig) -> P,
    ) -> Self {
        Lazy {
            config,
            load,
            make,
            provider: OnceCell::new(),
        }
    }

    async fn get(&self) -> &P {
        self.provider
            .get_or_init(|| async {
                let config = self.config.get_or_init(|| (self.load)()).await;
                (self.make)(config)
            })
            .await
    }
}

#[async_trait]
impl<R: Resource, P: Provider<R>> Provider<R> for Lazy<P> {
    async fn read(
        &self,
        ctx: &Context,
        props: &R,
        output: Option<R::Output>,
    ) -> Result<Option<R::Output>> {
        self.get().await.read(ctx, props, output).await
    }

    async fn diff(&self, ctx: &Context, old: &R, new: &R, output: &R::Output) -> Result<Diff> {
        self.get().await.diff(ctx, old, new, output).await
    }

    async fn refresh(
        &self,
        ctx: &Context,
        props: &R,
        output: &R::Output,
    ) -> Result<Option<(R, R::Output)>> {
        self.get().await.refresh(ctx, props, output).await
    }

    async fn create(&self, ctx: &Context, props: &R) -> Result<R::Output> {
        self.get().await.create(ctx, props).await
    }

    async fn update(
        &self,
        ctx: &Context,
        old: &R,
        new: &R,
        output: &R::Output,
    ) -> Result<R::Output> {
        self.get().await.update(ctx, old, new, output).await
    }

    async fn delete(&self, ctx: &Context, props: &R, output: &R::Output) -> Result<()> {
        self.get().await.delete(ctx, props, output).await
    }
}
