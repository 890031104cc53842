//! A namespace of actors: a Durable Object class, hosted by a Worker script.

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Resource, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A Durable Object namespace of the app's actors.
///
/// Cloudflare makes the namespace itself when the Worker that exports the class is uploaded
/// with a migration (see [`WorkerProps::durable_objects`](super::WorkerProps)); this resource
/// records the class and the binding name the app's services reach it under, so the plan shows
/// the namespace and other resources can refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurableObjectNamespaceProps {
    /// The exported class.
    pub class_name: String,
    /// The binding name services have it under.
    pub binding: String,
}

/// The class and binding of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableObjectNamespaceOutput {
    /// The exported class.
    pub class_name: String,
    /// The binding name services have it under.
    pub binding: String,
}

impl Resource for DurableObjectNamespaceProps {
    const KIND: &'static str = "cloudflare.durable_object_namespace";
    type Output = DurableObjectNamespaceOutput;
}

/// The provider of [`DurableObjectNamespaceProps`]: it makes no API call (the hosting Worker's
/// migrations do the work).
#[derive(Debug, Clone, Copy, Default)]
pub struct DurableObjectNamespaceProvider;

fn output(props: &DurableObjectNamespaceProps) -> DurableObjectNamespaceOutput {
    DurableObjectNamespaceOutput {
        class_name: props.class_name.clone(),
        binding: props.binding.clone(),
    }
}

#[async_trait]
impl Provider<DurableObjectNamespaceProps> for DurableObjectNamespaceProvider {
    async fn read(
        &self,
        _ctx: &Context,
        props: &DurableObjectNamespaceProps,
        _output: Option<DurableObjectNamespaceOutput>,
    ) -> Result<Option<DurableObjectNamespaceOutput>> {
        Ok(Some(output(props)))
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &DurableObjectNamespaceProps,
        new: &DurableObjectNamespaceProps,
        _output: &DurableObjectNamespaceOutput,
    ) -> Result<Diff> {
        Ok(if old == new { Diff::Noop } else { Diff::Update })
    }

    async fn create(
        &self,
        _ctx: &Context,
        props: &DurableObjectNamespaceProps,
    ) -> Result<DurableObjectNamespaceOutput> {
        Ok(output(props))
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &DurableObjectNamespaceProps,
        new: &DurableObjectNamespaceProps,
        _output: &DurableObjectNamespaceOutput,
    ) -> Result<DurableObjectNamespaceOutput> {
        Ok(output(new))
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &DurableObjectNamespaceProps,
        _output: &DurableObjectNamespaceOutput,
    ) -> Result<()> {
        // The hosting Worker's next upload carries the delete migration.
        Ok(())
    }
}
