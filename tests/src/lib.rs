//! Test apps and providers for the end-to-end tests.
//!
//! [`cloud`] is a provider whose "cloud" is a directory: every resource is a file, a create
//! fails if the file exists (as a cloud refuses a duplicate name), and every create is logged,
//! so a test can check that each resource exists exactly once and nothing was made twice.
//!
//! [`archive`] is photo-share's photo API without its actors, deployable to AWS.

pub mod archive;
pub mod cloud;
