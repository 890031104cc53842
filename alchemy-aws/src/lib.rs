//! The AWS provider for Alchemy: S3, IAM, Lambda and Lambda-backed actors.
//!
//! This crate is still empty: nothing here deploys to AWS yet.
