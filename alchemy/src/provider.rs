//! Providers: the code that creates, reads, updates and deletes one kind of resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::resource::Resource;

/// What a change of props needs, as the provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diff {
    /// Nothing to do: the difference does not matter to the provider.
    Noop,
    /// Update in place.
    Update,
    /// Make a new one and delete the old.
    Replace {
        /// Delete the old one first (when two cannot exist at once, e.g. a fixed name);
        /// otherwise the new one is created first and the old deleted at the end.
        delete_first: bool,
    },
}

/// Where a provider call happens: the app, the stage, the resource and its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The app.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// The logical id.
    pub id: String,
    /// Bumped by every replacement, so old and new can exist side by side.
    pub generation: u64,
}

impl Context {
    /// The name to give the real thing: `app-stage-id`, with `-gN` after a replacement.
    ///
    /// It is stable, so a create interrupted before it was recorded is found again by [`Provider::read`].
    pub fn physical_name(&self) -> String {
        if self.generation == 0 {
            format!("{}-{}-{}", self.app, self.stage, self.id)
        } else {
            format!(
                "{}-{}-{}-g{}",
                self.app, self.stage, self.id, self.generation
            )
        }
    }
}

/// The life cycle of one kind of resource.
///
/// Contract, which the engine relies on to converge after a crash:
/// - `read` finds the resource from its props and [`Context`] alone when `output` is `None`
///   (a create that may have happened but was not recorded), and answers `None` if it is absent.
/// - `delete` succeeds when the resource is already gone.
/// - `update` sets the resource to `new`, whatever state a half-done earlier update left.
#[async_trait]
pub trait Provider<R: Resource>: Send + Sync + 'static {
    /// The live resource, or `None` if it does not exist.
    async fn read(
        &self,
        ctx: &Context,
        props: &R,
        output: Option<R::Output>,
    ) -> Result<Option<R::Output>>;

    /// What moving from `old` to `new` needs. The default is an update in place.
    async fn diff(&self, ctx: &Context, old: &R, new: &R, output: &R::Output) -> Result<Diff> {
        let _ = (ctx, old, new, output);
        Ok(Diff::Update)
    }

    /// Reads the live resource for `plan --refresh`: its props as they are now (changed outside
    /// Alchemy, say) and its output, or `None` when it is gone.
    ///
    /// The default finds it with [`read`](Self::read) and takes the recorded props to be
    /// current; providers that can read a resource's settings back override it, so that
    /// drift shows in the plan and the next deploy sets them back.
    async fn refresh(
        &self,
        ctx: &Context,
        props: &R,
        output: &R::Output,
    ) -> Result<Option<(R, R::Output)>> {
        Ok(self
            .read(ctx, props, Some(output.clone()))
            .await?
            .map(|live| (props.clone(), live)))
    }

    /// Makes the resource.
    async fn create(&self, ctx: &Context, props: &R) -> Result<R::Output>;

    /// Changes the resource in place.
    async fn update(
        &self,
        ctx: &Context,
        old: &R,
        new: &R,
        output: &R::Output,
    ) -> Result<R::Output>;

    /// Removes the resource.
    async fn delete(&self, ctx: &Context, props: &R, output: &R::Output) -> Result<()>;
}

/// A provider over JSON, as the engine drives it.
#[async_trait]
pub(crate) trait ErasedProvider: Send + Sync {
    fn provider(&self) -> &str;
    fn check(&self, id: &str, props: &Value) -> Result<()>;
    async fn read(
        &self,
        ctx: &Context,
        props: &Value,
        output: Option<&Value>,
    ) -> Result<Option<Value>>;
    async fn diff(&self, ctx: &Context, old: &Value, new: &Value, output: &Value) -> Result<Diff>;
    async fn refresh(
        &self,
        ctx: &Context,
        props: &Value,
        output: &Value,
    ) -> Result<Option<(Value, Value)>>;
    async fn create(&self, ctx: &Context, props: &Value) -> Result<Value>;
    async fn update(
        &self,
        ctx: &Context,
        old: &Value,
        new: &Value,
        output: &Value,
    ) -> Result<Value>;
    async fn delete(&self, ctx: &Context, props: &Value, output: &Value) -> Result<()>;
}

struct Typed<R, P> {
    provider: String,
    inner: P,
    _kind: std::marker::PhantomData<fn() -> R>,
}

fn props<R: Resource>(ctx: &Context, v: &Value) -> Result<R> {
    serde_json::from_value(v.clone()).map_err(|e| Error::InvalidProps {
        id: ctx.id.clone(),
        kind: R::KIND.to_string(),
        reason: e.to_string(),
    })
}

fn output<R: Resource>(ctx: &Context, v: &Value) -> Result<R::Output> {
    serde_json::from_value(v.clone()).map_err(|e| Error::InvalidProps {
        id: ctx.id.clone(),
        kind: R::KIND.to_string(),
        reason: format!("recorded output does not match the kind: {e}"),
    })
}

impl<R: Resource, P> Typed<R, P> {
    fn named(&self, ctx: &Context, operation: &str, e: Error) -> Error {
        match e {
            Error::Provider { message, .. } => Error::Provider {
                provider: self.provider.clone(),
                operation: operation.to_string(),
                id: ctx.id.clone(),
                message,
            },
            other => other,
        }
    }
}

#[async_trait]
impl<R: Resource, P: Provider<R>> ErasedProvider for Typed<R, P> {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn check(&self, id: &str, v: &Value) -> Result<()> {
        serde_json::from_value::<R>(v.clone())
            .map(drop)
            .map_err(|e| Error::InvalidProps {
                id: id.to_string(),
                kind: R::KIND.to_string(),
                reason: e.to_string(),
            })
    }

    async fn read(&self, ctx: &Context, p: &Value, o: Option<&Value>) -> Result<Option<Value>> {
        let p = props::<R>(ctx, p)?;
        let o = o.map(|o| output::<R>(ctx, o)).transpose()?;
        let live = self
            .inner
            .read(ctx, &p, o)
            .await
            .map_err(|e| self.named(ctx, "read", e))?;
        live.map(|o| serde_json::to_value(o).map_err(Error::from))
            .transpose()
    }

    async fn diff(&self, ctx: &Context, old: &Value, new: &Value, o: &Value) -> Result<Diff> {
        let (old, new, o) = (
            props::<R>(ctx, old)?,
            props::<R>(ctx, new)?,
            output::<R>(ctx, o)?,
        );
        self.inner
            .diff(ctx, &old, &new, &o)
            .await
            .map_err(|e| self.named(ctx, "diff", e))
    }

    async fn refresh(&self, ctx: &Context, p: &Value, o: &Value) -> Result<Option<(Value, Value)>> {
        let (p, o) = (props::<R>(ctx, p)?, output::<R>(ctx, o)?);
        let live = self
            .inner
            .refresh(ctx, &p, &o)
            .await
            .map_err(|e| self.named(ctx, "refresh", e))?;
        live.map(|(p, o)| Ok((serde_json::to_value(p)?, serde_json::to_value(o)?)))
            .transpose()
    }

    async fn create(&self, ctx: &Context, p: &Value) -> Result<Value> {
        let p = props::<R>(ctx, p)?;
        let o = self
            .inner
            .create(ctx, &p)
            .await
            .map_err(|e| self.named(ctx, "create", e))?;
        Ok(serde_json::to_value(o)?)
    }

    async fn update(&self, ctx: &Context, old: &Value, new: &Value, o: &Value) -> Result<Value> {
        let (old, new, o) = (
            props::<R>(ctx, old)?,
            props::<R>(ctx, new)?,
            output::<R>(ctx, o)?,
        );
        let o = self
            .inner
            .update(ctx, &old, &new, &o)
            .await
            .map_err(|e| self.named(ctx, "update", e))?;
        Ok(serde_json::to_value(o)?)
    }

    async fn delete(&self, ctx: &Context, p: &Value, o: &Value) -> Result<()> {
        let (p, o) = (props::<R>(ctx, p)?, output::<R>(ctx, o)?);
        match self.inner.delete(ctx, &p, &o).await {
            Ok(()) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(self.named(ctx, "delete", e)),
        }
    }
}

/// The providers of a stage, by resource kind.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: BTreeMap<String, Arc<dyn ErasedProvider>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_kind.keys()).finish()
    }
}

impl Providers {
    /// No providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `provider` (named `name`, e.g. `local` or `aws`) for resources of kind `R`.
    pub fn register<R: Resource>(&mut self, name: &str, provider: impl Provider<R>) -> &mut Self {
        self.by_kind.insert(
            R::KIND.to_string(),
            Arc::new(Typed::<R, _> {
                provider: name.to_string(),
                inner: provider,
                _kind: std::marker::PhantomData,
            }),
        );
        self
    }

    /// Adds every provider of `other`.
    pub fn extend(&mut self, other: Providers) -> &mut Self {
        self.by_kind.extend(other.by_kind);
        self
    }

    /// Whether a provider is registered for `kind`.
    pub fn handles(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }

    pub(crate) fn get(&self, id: &str, kind: &str) -> Result<&Arc<dyn ErasedProvider>> {
        self.by_kind.get(kind).ok_or_else(|| Error::UnknownKind {
            id: id.to_string(),
            kind: kind.to_string(),
            known: self.kinds(),
        })
    }

    fn kinds(&self) -> String {
        if self.by_kind.is_empty() {
            return "none".into();
        }
        self.by_kind.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}
