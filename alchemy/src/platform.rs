//! Platforms: what a stage's provider makes of the neutral declarations, services and bindings.

use crate::actor::Capabilities;
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

    /// Whether this platform can host resources of the neutral `kind` (`bucket`, `actors`, or
    /// `service` for the services themselves). A stage that places something on a platform
    /// that cannot host its kind is refused at plan time. The default says yes to every kind
    /// and leaves the refusal to [`Platform::declare`].
    fn hosts(&self, kind: &str) -> bool {
        let _ = kind;
        true
    }

    /// What this platform's actors support, so that an actor namespace using a capability
    /// they lack ([`Actors::uses`](crate::actor::Actors::uses)) is refused at plan time.
    /// `None` (the default): not declared, and not checked.
    fn actor_capabilities(&self) -> Option<Capabilities> {
        None
    }

    /// Checks, before anything of stage `stage` is declared, that this platform can host the
    /// app: its resources (`declarations`) and its services (by id). The default checks every
    /// kind with [`Platform::hosts`] and every actor namespace's declared capabilities with
    /// [`Platform::actor_capabilities`]; a [`PlacedPlatform`](crate::placement::PlacedPlatform)
    /// also checks its placements.
    fn check(&self, stage: &str, declarations: &[Declaration], services: &[String]) -> Result<()> {
        crate::placement::check_single(self, stage, declarations, services)
    }
}
