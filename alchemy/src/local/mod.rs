//! The local provider: the runtime side of a stage that runs on this machine.
//!
//! Everything here keeps its data in ordinary files under a directory of the stage, so `dev`
//! needs no cloud account and no running service.

pub mod bucket;
