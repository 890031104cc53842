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
    ///
    /// In a stage across providers, a binding whose resource is on another provider carries
    /// that provider's name under `"provider"` in its metadata; a platform that cannot use
    /// the other provider's metadata hands the service the binding's `env` and `secrets`.
    fn service(&self, stack: &mut Stack, service: &str, bindings: &[Binding]) -> Result<()>;

    /// Whether a service hosted here reaches other providers with the credentials of the
    /// machine it runs on (their standard chains: environment, profile files, instance
    /// metadata). A process on this machine does; a Cloudflare Worker does not, and then
    /// every other provider it binds adds the credentials it needs with [`Platform::reach`].
    /// The default is yes.
    fn ambient_credentials(&self) -> bool {
        true
    }

    /// What `service`, hosted on another provider that has no
    /// [ambient credentials](Platform::ambient_credentials), needs to reach the resources of
    /// this platform it binds (`bindings`, each already holding this platform's
    /// contribution): the credentials resources, which this adds to `stack` (for AWS, an IAM
    /// user whose policy is exactly the bindings' permissions, and its access key), and the
    /// binding that hands them to the service, whose contribution's `env` and `secrets`
    /// (references to secret outputs) the service's platform passes on. `None` (the default):
    /// nothing to add.
    fn reach(
        &self,
        stack: &mut Stack,
        service: &str,
        bindings: &[Binding],
    ) -> Result<Option<Binding>> {
        let _ = (stack, service, bindings);
        Ok(None)
    }

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
