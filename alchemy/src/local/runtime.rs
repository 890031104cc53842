//! The local runtime: the clients a service gets when it runs on this machine.

use std::collections::BTreeMap;
use std::path::Path;

use crate::app::App;
use crate::bind::{Declaration, Phase, Runtime};
use crate::bucket::BucketClient;
use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::state::{Snapshot, Status};

use super::actor::{LocalActors, LocalActorsOptions};
use super::bucket::LocalBucket;
use super::{LocalBucketProps, LocalServiceProps};

/// What a service running locally binds to: the resources a local deploy made, and the app's
/// actors hosted in this process.
pub struct LocalRuntime {
    stage: String,
    buckets: BTreeMap<String, BucketClient>,
    actors: LocalActors,
}

impl std::fmt::Debug for LocalRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRuntime")
            .field("stage", &self.stage)
            .field("buckets", &self.buckets.keys().collect::<Vec<_>>())
            .field("actors", &self.actors)
            .finish()
    }
}

impl LocalRuntime {
    /// Opens every bucket recorded in `state` (a stage deployed on the local platform rooted
    /// at `root`) and hosts `app`'s actors on a local actor runtime under `root`.
    pub async fn open(
        root: &Path,
        state: &Snapshot,
        app: &App,
        options: LocalActorsOptions,
    ) -> Result<Self> {
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
        open_placed(&mut buckets, state, app).await?;
        let actors = LocalActors::open(root, options)?;
        for (_, host) in app.actor_hosts() {
            host(&actors).await?;
        }
        Ok(LocalRuntime {
            stage: state.stage.clone(),
            buckets,
            actors,
        })
    }

    /// The local actor runtime.
    pub fn actors(&self) -> &LocalActors {
        &self.actors
    }

    /// Stops the actors, letting their current turns finish.
    pub async fn shutdown(self) {
        self.actors.shutdown().await;
    }
}

/// Opens, through the app's registered clouds, every bucket that a local service of `state`
/// binds on another provider (a stage placing it there): the service manifests name the
/// provider of such a binding under `"provider"`, with what its cloud needs to open it.
async fn open_placed(
    buckets: &mut BTreeMap<String, BucketClient>,
    state: &Snapshot,
    app: &App,
) -> Result<()> {
    let mut config = None;
    for (id, rec) in &state.resources {
        if rec.kind != LocalServiceProps::KIND || rec.status != Status::Created {
            continue;
        }
        let Some(manifest) = rec.output.as_ref().and_then(|o| o["manifest"].as_str()) else {
            continue;
        };
        let text = tokio::fs::read(manifest).await.map_err(|e| {
            Error::Config(format!(
                "cannot read the manifest {manifest} of service `{id}`: {e}; deploy the stage again"
            ))
        })?;
        let manifest: serde_json::Value = serde_json::from_slice(&text)?;
        let bindings = manifest["bindings"].as_array().into_iter().flatten();
        for binding in bindings {
            let (Some(provider), Some(kind), Some(name)) = (
                binding["provider"].as_str(),
                binding["type"].as_str(),
                binding["name"].as_str(),
            ) else {
                continue;
            };
            if provider == crate::config::LOCAL || buckets.contains_key(name) {
                continue;
            }
            if kind != "bucket" {
                return Err(Error::Config(format!(
                    "service `{id}` runs locally and binds `{name}` ({kind}) on provider `{provider}`, which a local service can reach only for buckets: place `{name}` on `local` for stage `{}`, or place the service on `{provider}` too",
                    state.stage
                )));
            }
            let Some(cloud) = app.clouds().find(|c| c.name() == provider) else {
                return Err(Error::Config(format!(
                    "service `{id}` binds bucket `{name}` on provider `{provider}`, which this app does not register: add the cloud with `.cloud(...)`"
                )));
            };
            if config.is_none() {
                config = Some(app.config()?);
            }
            let settings = config
                .as_ref()
                .and_then(|c| c.stage(&state.stage))
                .map_or(serde_json::Value::Null, |e| e.settings_of(provider));
            let client = cloud.open_bucket(binding, &settings).await?;
            buckets.insert(name.to_string(), client);
        }
    }
    Ok(())
}

impl Runtime for LocalRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    /// The environment of the `dev` process.
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
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

    fn custom(&self, declaration: &Declaration) -> Result<Box<dyn std::any::Any>> {
        if declaration.kind != "actors" {
            return Err(Error::Config(format!(
                "the local runtime has no client for `{}` (kind {})",
                declaration.id, declaration.kind
            )));
        }
        let client = self.actors.client(&declaration.id)?;
        Ok(Box::new(client))
    }
}
