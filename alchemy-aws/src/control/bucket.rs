//! The S3 bucket as a deployable resource.

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Error, Resource, Result};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CorsConfiguration, CreateBucketConfiguration, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRuleFilter, ObjectIdentifier, PublicAccessBlockConfiguration,
    VersioningConfiguration,
};
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};

use super::name::bucket_name;

/// An S3 bucket, as the user asks for it. KIND `aws.s3.bucket`.
///
/// The bucket's name is the resource's physical name made S3-valid ([`bucket_name`]), so a
/// create interrupted before it was recorded is found again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3BucketProps {
    /// Keep every version of every object (default `false`). Turning it off suspends
    /// versioning: S3 never returns a bucket to unversioned.
    pub versioning: bool,
    /// Block all public access: public ACLs and policies are refused and ignored (default
    /// `true`, all four flags).
    pub block_public_access: bool,
    /// Expiry rules; the bucket's lifecycle configuration is set to exactly these.
    pub lifecycle: Vec<LifecycleRule>,
    /// Cross-origin rules; the bucket's CORS configuration is set to exactly these.
    pub cors: Vec<CorsRule>,
    /// Let a destroy delete every object version and unfinished upload first (default
    /// `false`: a destroy of a non-empty bucket fails).
    pub force_destroy: bool,
}

impl Default for S3BucketProps {
    fn default() -> Self {
        S3BucketProps {
            versioning: false,
            block_public_access: true,
            lifecycle: Vec::new(),
            cors: Vec::new(),
            force_destroy: false,
        }
    }
}

/// One lifecycle rule: what to expire under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// The rule's id, unique in the bucket.
    pub id: String,
    /// The keys it applies to (`""`: every key).
    #[serde(default)]
    pub prefix: String,
    /// Delete objects this many days after they were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after_days: Option<u32>,
    /// Abort multipart uploads still unfinished this many days after they started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_days: Option<u32>,
}

/// One CORS rule: which origins may call the bucket from a browser, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// Origins allowed, such as `https://example.com` or `*`.
    pub allowed_origins: Vec<String>,
    /// Methods allowed: `GET`, `PUT`, `POST`, `DELETE`, `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Request headers allowed in a preflight.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// How long browsers may cache the preflight answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// What a deployed bucket is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3BucketOutput {
    /// The bucket's name.
    pub name: String,
    /// Its ARN, `arn:aws:s3:::NAME`.
    pub arn: String,
    /// `ARN/*`: every object in it, for IAM statements (see
    /// [`bucket_permissions`](super::bucket_permissions)).
    pub objects_arn: String,
    /// The region it lives in.
    pub region: String,
}

impl Resource for S3BucketProps {
    const KIND: &'static str = "aws.s3.bucket";
    type Output = S3BucketOutput;
}

/// Creates, reads, updates and deletes S3 buckets over `aws-sdk-s3`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode:
/// five attempts, exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct S3BucketProvider {
    client: Client,
    region: String,
}

impl S3BucketProvider {
    /// A provider over `client`, whose region must be set: buckets are created there.
    pub fn new(client: Client) -> Self {
        let region = client
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        S3BucketProvider { client, region }
    }

    /// A provider with credentials, region and endpoint from `config`. When `config`
    /// overrides the endpoint (an emulator), requests use path-style addressing.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .retry_config(super::sdk::retry_config())
            .build();
        Self::new(Client::from_conf(s3_config))
    }

    /// A provider with credentials, region and endpoint from the standard AWS chain.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn output(&self, name: &str) -> S3BucketOutput {
        let partition = if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let arn = format!("arn:{partition}:s3:::{name}");
        S3BucketOutput {
            name: name.to_owned(),
            objects_arn: format!("{arn}/*"),
            arn,
            region: self.region.clone(),
        }
    }

    /// Sets every setting of `props` on the bucket `name`, whatever it was before.
    async fn apply(&self, name: &str, props: &S3BucketProps) -> Result<()> {
        self.set_versioning(name, props.versioning).await?;
        self.set_public_access_block(name, props.block_public_access)
            .await?;
        self.set_lifecycle(name, &props.lifecycle).await?;
        self.set_cors(name, &props.cors).await
    }

    /// The versioning status of bucket `name`: `None` if it was never versioned.
    async fn versioning(&self, name: &str) -> Result<Option<BucketVersioningStatus>> {
        let answer = self
            .client
            .get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .map_err(|e| failed("read the versioning of", name, e))?;
        Ok(answer.status().cloned())
    }

    async fn set_versioning(&self, name: &str, enabled: bool) -> Result<()> {
        let status = match (enabled, self.versioning(name).await?) {
            (true, Some(BucketVersioningStatus::Enabled)) => return Ok(()),
            (true, _) => BucketVersioningStatus::Enabled,
            // Never versioned or already suspended: nothing to turn off.
            (false, Some(BucketVersioningStatus::Enabled)) => BucketVersioningStatus::Suspended,
            (false, _) => return Ok(()),
        };
        self.client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .map_err(|e| failed("set the versioning of", name, e))?;
        Ok(())
    }

    async fn set_public_access_block(&self, name: &str, block: bool) -> Result<()> {
        if block {
            let all = PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build();
            self.client
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(all)
                .send()
                .await
                .map_err(|e| failed("block public access to", name, e))?;
        } else {
            self.client
                .delete_public_access_block()
                .bucket(name)
                .send()
                .await
                .map_err(|e| failed("remove the public access block of", name, e))?;
        }
        Ok(())
    }

    async fn set_lifecycle(&self, name: &str, rules: &[LifecycleRule]) -> Result<()> {
        if rules.is_empty() {
            self.client
                .delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .map_err(|e| failed("remove the lifecycle rules of", name, e))?;
            return Ok(());
        }
        let mut config = BucketLifecycleConfiguration::builder();
        for rule in rules {
            let mut r = aws_sdk_s3::types::LifecycleRule::builder()
                .id(&rule.id)
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix(&rule.prefix).build());
            if let Some(days) = rule.expire_after_days {
                r = r.expiration(LifecycleExpiration::builder().days(days_i32(days)).build());
            }
            if let Some(days) = rule.abort_incomplete_multipart_days {
                r = r.abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(days_i32(days))
                        .build(),
                );
            }
            config = config.rules(r.build().map_err(|e| invalid(name, e))?);
        }
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(config.build().map_err(|e| invalid(name, e))?)
            .send()
            .await
            .map_err(|e| failed("set the lifecycle rules of", name, e))?;
        Ok(())
    }

    async fn set_cors(&self, name: &str, rules: &[CorsRule]) -> Result<()> {
        if rules.is_empty() {
            self.client
                .delete_bucket_cors()
                .bucket(name)
                .send()
                .await
                .map_err(|e| failed("remove the CORS rules of", name, e))?;
            return Ok(());
        }
        let mut config = CorsConfiguration::builder();
        for rule in rules {
            let r = aws_sdk_s3::types::CorsRule::builder()
                .set_allowed_origins(Some(rule.allowed_origins.clone()))
                .set_allowed_methods(Some(rule.allowed_methods.clone()))
                .set_allowed_headers(
                    (!rule.allowed_headers.is_empty()).then(|| rule.allowed_headers.clone()),
                )
                .set_max_age_seconds(rule.max_age_seconds.map(days_i32))
                .build()
                .map_err(|e| invalid(name, e))?;
            config = config.cors_rules(r);
        }
        self.client
            .put_bucket_cors()
            .bucket(name)
            .cors_configuration(config.build().map_err(|e| invalid(name, e))?)
            .send()
            .await
            .map_err(|e| failed("set the CORS rules of", name, e))?;
        Ok(())
    }

    /// The settings bucket `name` has now, as props (`force_destroy` is not a setting of the
    /// bucket: it is taken from `props`).
    async fn live(&self, name: &str, props: &S3BucketProps) -> Result<S3BucketProps> {
        let versioning = self.versioning(name).await?;
        let block_public_access = match self
            .client
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
        {
            Ok(answer) => answer.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
            Err(e) => return Err(failed("read the public access block of", name, e)),
        };
        let lifecycle = match self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
        {
            Ok(answer) => answer
                .rules()
                .iter()
                .filter(|r| r.status() == &ExpirationStatus::Enabled)
                .map(|r| LifecycleRule {
                    id: r.id().unwrap_or_default().to_owned(),
                    prefix: r
                        .filter()
                        .and_then(|f| f.prefix())
                        .unwrap_or_default()
                        .to_owned(),
                    expire_after_days: r
                        .expiration()
                        .and_then(|e| e.days())
                        .and_then(|d| u32::try_from(d).ok()),
                    abort_incomplete_multipart_days: r
                        .abort_incomplete_multipart_upload()
                        .and_then(|a| a.days_after_initiation())
                        .and_then(|d| u32::try_from(d).ok()),
                })
                .collect(),
            Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => Vec::new(),
            Err(e) => return Err(failed("read the lifecycle rules of", name, e)),
        };
        let cors = match self.client.get_bucket_cors().bucket(name).send().await {
            Ok(answer) => answer
                .cors_rules()
                .iter()
                .map(|r| CorsRule {
                    allowed_origins: r.allowed_origins().to_vec(),
                    allowed_methods: r.allowed_methods().to_vec(),
                    allowed_headers: r.allowed_headers().to_vec(),
                    max_age_seconds: r.max_age_seconds().and_then(|s| u32::try_from(s).ok()),
                })
                .collect(),
            Err(e) if e.code() == Some("NoSuchCORSConfiguration") => Vec::new(),
            Err(e) => return Err(failed("read the CORS rules of", name, e)),
        };
        Ok(S3BucketProps {
            versioning: versioning == Some(BucketVersioningStatus::Enabled),
            block_public_access,
            lifecycle,
            cors,
            force_destroy: props.force_destroy,
        })
    }

    /// Deletes every object version, delete marker and unfinished upload in `name`.
    async fn empty(&self, name: &str) -> Result<()> {
        let mut key_marker = None;
        let mut version_marker = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| failed("list the object versions of", name, e))?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let mut objects = Vec::new();
            for (key, version) in versions {
                let Some(key) = key else { continue };
                let id = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.filter(|v| *v != "null").map(str::to_owned))
                    .build()
                    .map_err(|e| invalid(name, e))?;
                objects.push(id);
            }
            if !objects.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| invalid(name, e))?;
                let answer = self
                    .client
                    .delete_objects()
                    .bucket(name)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| failed("delete the objects of", name, e))?;
                if let Some(error) = answer.errors().first() {
                    return Err(Error::provider(format!(
                        "could not delete `{}` from bucket `{name}`: {}",
                        error.key().unwrap_or_default(),
                        error.message().unwrap_or("no reason given")
                    )));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        let (mut key_marker, mut upload_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|e| failed("list the unfinished uploads of", name, e))?;
            for upload in page.uploads() {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                self.client
                    .abort_multipart_upload()
                    .bucket(name)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await
                    .map_err(|e| failed("abort an unfinished upload in", name, e))?;
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            upload_marker = page.next_upload_id_marker().map(str::to_owned);
        }
        Ok(())
    }
}

#[async_trait]
impl Provider<S3BucketProps> for S3BucketProvider {
    async fn read(
        &self,
        ctx: &Context,
        _props: &S3BucketProps,
        output: Option<S3BucketOutput>,
    ) -> Result<Option<S3BucketOutput>> {
        let name = output.map_or_else(|| bucket_name(&ctx.physical_name()), |o| o.name);
        match self.client.head_bucket().bucket(&name).send().await {
            Ok(_) => Ok(Some(self.output(&name))),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(failed("read", &name, e)),
        }
    }

    async fn refresh(
        &self,
        ctx: &Context,
        props: &S3BucketProps,
        output: &S3BucketOutput,
    ) -> Result<Option<(S3BucketProps, S3BucketOutput)>> {
        let Some(output) = self.read(ctx, props, Some(output.clone())).await? else {
            return Ok(None);
        };
        Ok(Some((self.live(&output.name, props).await?, output)))
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &S3BucketProps,
        new: &S3BucketProps,
        _output: &S3BucketOutput,
    ) -> Result<Diff> {
        // Every setting changes in place; the name comes from the context, not the props.
        Ok(if old == new { Diff::Noop } else { Diff::Update })
    }

    async fn create(&self, ctx: &Context, props: &S3BucketProps) -> Result<S3BucketOutput> {
        let name = bucket_name(&ctx.physical_name());
        let mut create = self.client.create_bucket().bucket(&name);
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            // An earlier create that was not recorded: adopt it.
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) if e.code() == Some("BucketAlreadyExists") => {
                return Err(Error::provider(format!(
                    "the bucket name `{name}` is taken by another AWS account (bucket names \
                     are global); rename the resource `{}` or change the app or stage name",
                    ctx.id
                )))
            }
            Err(e) => return Err(failed("create", &name, e)),
        }
        self.apply(&name, props).await?;
        Ok(self.output(&name))
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &S3BucketProps,
        new: &S3BucketProps,
        output: &S3BucketOutput,
    ) -> Result<S3BucketOutput> {
        self.apply(&output.name, new).await?;
        Ok(self.output(&output.name))
    }

    async fn delete(
        &self,
        _ctx: &Context,
        props: &S3BucketProps,
        output: &S3BucketOutput,
    ) -> Result<()> {
        let name = &output.name;
        if props.force_destroy {
            match self.empty(name).await {
                Err(Error::NotFound(_)) => return Ok(()),
                other => other?,
            }
        }
        match self.client.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchBucket") => Ok(()),
            Err(e) if e.code() == Some("BucketNotEmpty") => Err(Error::provider(format!(
                "bucket `{name}` is not empty, so it was not deleted; empty it first, or set \
                 `force_destroy: true` on it, deploy, and destroy again to delete its objects \
                 with it"
            ))),
            Err(e) => Err(failed("delete", name, e)),
        }
    }
}

/// An S3 call on `name` that failed: what was done, the bucket and S3's code and message.
fn failed<E, R>(what: &str, name: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.code() == Some("NoSuchBucket") {
        return Error::NotFound(format!("bucket `{name}`"));
    }
    let reason = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    };
    Error::provider(format!("could not {what} bucket `{name}`: {reason}"))
}

/// A request the SDK refused to build: a missing required field, a bug here.
fn invalid(name: &str, e: aws_sdk_s3::error::BuildError) -> Error {
    Error::provider(format!("invalid request for bucket `{name}`: {e}"))
}

/// S3 takes days and seconds as `i32`; larger values saturate.
fn days_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
