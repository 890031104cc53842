//! The Worker that the alchemy-cloudflare tests build to wasm and run in workerd.

use alchemy::actor::conformance::ConformanceActor;
use alchemy::actor::Actors;

/// The actors of the actor conformance suite.
pub static SUITE: Actors<ConformanceActor> = Actors::new("suite");

alchemy_cloudflare::durable_object!(SuiteObject, SUITE);
