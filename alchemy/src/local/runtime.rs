//! The local runtime: the clients a service gets when it runs on this machine.

use std::collections::BTreeMap;

use crate::bind::{Phase, Runtime};
use crate::bucket::BucketClient;
use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::state::{Snapshot, Status};

use super::bucket::LocalBucket;
use super::LocalBucketProps;

/// What a service running locally binds to: the resources a local deploy made.
#[derive(Debug, Clone, Default)]
pub struct LocalRuntime {
    stage: String,
    buckets: BTreeMap<String, BucketClient>,
}

impl LocalRuntime {
    /// Opens every resource recorded in `state` (a stage deployed on the local platform).
    pub async fn from_state(state: &Snapshot) -> Result<Self> {
        let mut buckets = BTreeMap::new();
        for (id, rec) in &state.resources {
            if rec.kind != LocalBucketProps::KIND || rec.status != Status::Created {
                continue;
            }
            let path = rec
                .output
                .as_ref()
                .and_then(|o| o["path"].as_str())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "the state of bucket `{id}` has no path: deploy the stage again"
                    ))
                })?;
            let bucket = LocalBucket::open(path)
                .await
                .map_err(|e| Error::Config(format!("cannot open bucket `{id}` at {path}: {e}")))?;
            buckets.insert(id.clone(), BucketClient::new(bucket));
        }
        Ok(LocalRuntime {
            stage: state.stage.clone(),
            buckets,
        })
    }
}

impl LocalRuntime {
    /// Stops what the runtime runs (actors finish their turns).
    pub async fn shutdown(self) {}
}

impl Runtime for LocalRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    fn provider(&self) -> &str {
        "local"
    }

    fn bucket(&self, id: &str) -> Result<BucketClient> {
        self.buckets.get(id).cloned().ok_or_else(|| {
            Error::Config(format!(
                "bucket `{id}` is not deployed on stage `{}`: run `deploy` first",
                self.stage
            ))
        })
    }
}
