//! Platforms: what a stage's provider makes of the neutral declarations, services and bindings.

use crate::bind::{Declaration, Request};
use crate::error::Result;
use crate::provider::Providers;
use crate::stack::{Binding, Contribution, Stack};

/// One provider's way of hosting an app: it turns neutral declarations into its own resources,
/// says what each binding contributes to a service, and declares the services themselves.
///
/// The local platform is the default; the AWS and Cloudflare crates bring their own.
pub trait Platform: Send + Sync {
    /// The provider's name, as shown in plans (`local`, `aws`, `cloudflare`).
    fn name(&self) -> &str;

    /// The providers for every resource kind this platform declares.
    fn providers(&self) -> Providers;

    /// Adds the resources that stand for `declaration` to the stack, under its id.
    fn declare(&self, stack: &mut Stack, declaration: &Declaration) -> Result<()>;

    /// What binding `request` contributes to `service`: environment, binding metadata and the
    /// permissions its client needs. The bound resource is already in `stack`.
    fn bind(&self, stack: &Stack, service: &str, request: &Request) -> Result<Contribution>;

    /// Adds the resources that host `service` with its `bindings`.
    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()>;
}
