//! The R2 bucket as a deployable resource.

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Error, Resource, Result};
use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::api::{Body, Client};

/// Where R2 places a new bucket's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// Asia-Pacific.
    Apac,
    /// Eastern Europe.
    Eeur,
    /// Eastern North America.
    Enam,
    /// Western Europe.
    Weur,
    /// Western North America.
    Wnam,
}

/// The storage class of new objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageClass {
    /// Standard storage.
    #[default]
    Standard,
    /// Cheaper storage for data read rarely.
    InfrequentAccess,
}

/// An R2 bucket, named after the resource's physical name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct R2BucketProps {
    /// Where to place the data; R2 chooses when absent. Changing it makes a new bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_hint: Option<Location>,
    /// The storage class of new objects. Changing it makes a new bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<StorageClass>,
}

/// The bucket R2 made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct R2BucketOutput {
    /// Its name, which bindings refer to.
    pub name: String,
    /// Where R2 placed it, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Resource for R2BucketProps {
    const KIND: &'static str = "cloudflare.r2.bucket";
    type Output = R2BucketOutput;
}

/// Creates, finds and deletes R2 buckets.
#[derive(Debug, Clone)]
pub struct R2BucketProvider {
    client: Client,
}

/// The R2 name for a physical name: lower case letters, digits and `-`, 3 to 63 characters,
/// starting and ending with a letter or digit. A name longer than 63 keeps its first 54
/// characters and ends with 8 hex digits of a hash of the whole name, so it stays unique.
pub fn bucket_name(physical: &str) -> String {
    let mut name: String = physical
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut name = name.trim_matches('-').to_owned();
    if name.len() > 63 {
        let hash = super::hash::hex_digest(physical.as_bytes());
        name.truncate(54);
        name = format!("{}-{}", name.trim_end_matches('-'), &hash[..8]);
    }
    while name.len() < 3 {
        name.push('0');
    }
    name
}

impl R2BucketProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        R2BucketProvider { client }
    }

    fn path(&self, name: &str) -> String {
        self.client.account_path(&format!("/r2/buckets/{name}"))
    }

    async fn get(&self, name: &str) -> Result<Option<R2BucketOutput>> {
        match self
            .client
            .call(Method::GET, &self.path(name), Body::Empty)
            .await
        {
            Ok(result) => Ok(Some(output(name, &result))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn output(name: &str, result: &Value) -> R2BucketOutput {
    R2BucketOutput {
        name: name.to_owned(),
        location: result
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

#[async_trait]
impl Provider<R2BucketProps> for R2BucketProvider {
    async fn read(
        &self,
        ctx: &Context,
        _props: &R2BucketProps,
        output: Option<R2BucketOutput>,
    ) -> Result<Option<R2BucketOutput>> {
        let name = output.map_or_else(|| bucket_name(&ctx.physical_name()), |o| o.name);
        self.get(&name).await
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &R2BucketProps,
        new: &R2BucketProps,
        _output: &R2BucketOutput,
    ) -> Result<Diff> {
        // R2 cannot move a bucket or change its default class: a new bucket (a new name, so
        // both exist until the old one is deleted at the end).
        Ok(if old == new {
            Diff::Noop
        } else {
            Diff::Replace {
                delete_first: false,
            }
        })
    }

    async fn create(&self, ctx: &Context, props: &R2BucketProps) -> Result<R2BucketOutput> {
        let name = bucket_name(&ctx.physical_name());
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        if let Some(location) = props.location_hint {
            body.insert("locationHint".into(), serde_json::to_value(location)?);
        }
        if let Some(class) = props.storage_class {
            body.insert("storageClass".into(), serde_json::to_value(class)?);
        }
        let path = self.client.account_path("/r2/buckets");
        match self
            .client
            .call(Method::POST, &path, Body::Json(Value::Object(body)))
            .await
        {
            Ok(result) => Ok(output(&name, &result)),
            // An earlier create that was not recorded: adopt the bucket.
            Err(e) if e.status() == Some(409) => self.get(&name).await?.ok_or_else(|| {
                Error::provider(format!(
                    "R2 says bucket `{name}` exists but cannot find it: {e}"
                ))
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &R2BucketProps,
        _new: &R2BucketProps,
        output: &R2BucketOutput,
    ) -> Result<R2BucketOutput> {
        // Nothing changes in place (see `diff`).
        Ok(output.clone())
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &R2BucketProps,
        output: &R2BucketOutput,
    ) -> Result<()> {
        let name = &output.name;
        match self
            .client
            .call(Method::DELETE, &self.path(name), Body::Empty)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.status() == Some(409) => Err(Error::provider(format!(
                "R2 bucket `{name}` was not deleted because it is not empty: {e}. Delete its \
                 objects (for example with `wrangler r2 object delete`) and destroy again"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_name;

    #[test]
    fn names_are_r2_valid() {
        assert_eq!(
            bucket_name("photo-share-dev-photos"),
            "photo-share-dev-photos"
        );
        assert_eq!(bucket_name("App_Stage--x"), "app-stage-x");
        assert_eq!(bucket_name("a"), "a00");
        let long = "a".repeat(80);
        let name = bucket_name(&long);
        assert_eq!(name.len(), 63);
        assert_ne!(
            name,
            bucket_name(&"a".repeat(81)),
            "distinct long names stay distinct"
        );
    }
}
