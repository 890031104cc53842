//! The IAM role a Lambda function runs as, with the inline policy its bindings ask for.

use std::collections::{BTreeMap, BTreeSet};

use alchemy::provider::{Context, Provider};
use alchemy::stack::Permission;
use alchemy::{Error, Resource, Result};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::Client;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::name::role_name;
use super::sdk::{reason, retry_config};

/// The AWS managed policy that lets a function write its logs to CloudWatch Logs.
pub const BASIC_EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// The name of the inline policy that holds the bindings' statements.
pub const INLINE_POLICY_NAME: &str = "alchemy-bindings";

/// One grant of a binding, as a role's props hold it: `resources` are ARNs, or reference
/// markers `{"$ref": "id.arn"}` the engine resolves before the provider sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePermission {
    /// IAM actions, such as `s3:GetObject`.
    pub actions: Vec<String>,
    /// What they are allowed on.
    pub resources: Vec<Value>,
}

impl From<&Permission> for RolePermission {
    fn from(p: &Permission) -> Self {
        RolePermission {
            actions: p.actions.clone(),
            resources: p.resources.clone(),
        }
    }
}

impl From<&RolePermission> for Permission {
    fn from(p: &RolePermission) -> Self {
        Permission {
            actions: p.actions.clone(),
            resources: p.resources.clone(),
        }
    }
}

/// An IAM role that Lambda assumes to run a function. KIND `aws.iam.role`.
///
/// Its name is the resource's physical name made IAM-valid ([`role_name`]), so a create
/// interrupted before it was recorded is found again. The trust policy lets
/// `lambda.amazonaws.com` assume it; `managed_policies` are attached; the inline policy
/// [`INLINE_POLICY_NAME`] is [`policy_document`] of `permissions`, and the role has no inline
/// policy when `permissions` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IamRoleProps {
    /// What the role's function may do: the permissions of its bindings, and no more.
    pub permissions: Vec<RolePermission>,
    /// ARNs of managed policies to attach (default: [`BASIC_EXECUTION_POLICY`], for logs).
    pub managed_policies: Vec<String>,
}

impl Default for IamRoleProps {
    fn default() -> Self {
        IamRoleProps {
            permissions: Vec::new(),
            managed_policies: vec![BASIC_EXECUTION_POLICY.to_owned()],
        }
    }
}

/// What a deployed role is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamRoleOutput {
    /// The role's name.
    pub name: String,
    /// Its ARN, which a function names as its execution role.
    pub arn: String,
}

impl Resource for IamRoleProps {
    const KIND: &'static str = "aws.iam.role";
    type Output = IamRoleOutput;
}

/// The IAM policy document that grants exactly `permissions`: one `Allow` statement per
/// resource, in resource order, with the actions asked on it sorted and deduplicated.
///
/// Resources are ARNs (strings); anything else is kept as it is, so IAM rejects it at deploy
/// time rather than the policy granting more than asked.
///
/// ```
/// use alchemy::Access;
/// use alchemy_aws::control::{bucket_permissions, policy_document};
/// use serde_json::json;
///
/// let permissions = bucket_permissions(&json!("arn:aws:s3:::photos"), Access::ReadOnly);
/// assert_eq!(
///     policy_document(&permissions)["Statement"][0],
///     json!({ "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::photos" }),
/// );
/// ```
pub fn policy_document(permissions: &[Permission]) -> Value {
    let mut by_resource: BTreeMap<String, (Value, BTreeSet<&str>)> = BTreeMap::new();
    for permission in permissions {
        for resource in &permission.resources {
            let key = match resource {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (_, actions) = by_resource
                .entry(key)
                .or_insert_with(|| (resource.clone(), BTreeSet::new()));
            actions.extend(permission.actions.iter().map(String::as_str));
        }
    }
    let statements: Vec<Value> = by_resource
        .into_values()
        .filter(|(_, actions)| !actions.is_empty())
        .map(|(resource, actions)| {
            json!({ "Effect": "Allow", "Action": actions, "Resource": resource })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The trust policy of every role [`IamRoleProvider`] makes: Lambda may assume it. A role made
/// by other means (by hand, or by a test) needs the same for a function to run as it.
pub fn lambda_trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole",
        }],
    })
    .to_string()
}

/// A policy document as IAM returns it: URL-encoded JSON (RFC 3986), or plain JSON from
/// emulators that do not encode it.
pub fn decode_policy_document(document: &str) -> Result<Value> {
    let decoded = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_decode(document)?
    };
    serde_json::from_str(&decoded)
        .map_err(|e| Error::provider(format!("IAM returned a policy that is not JSON: {e}")))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else {
                    return Err(Error::provider(format!(
                        "IAM returned a policy with a malformed escape at byte {i}"
                    )));
                };
                out.push(b);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|e| Error::provider(format!("IAM returned a policy that is not UTF-8: {e}")))
}

/// Creates, reads, updates and deletes IAM roles for Lambda functions over `aws-sdk-iam`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode.
#[derive(Debug, Clone)]
pub struct IamRoleProvider {
    client: Client,
}

impl IamRoleProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        IamRoleProvider { client }
    }

    /// A provider with credentials, region and endpoint from `config`.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_config(retry_config())
            .build();
        Self::new(Client::from_conf(iam))
    }

    /// A provider with credentials, region and endpoint from the standard AWS chain.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sets the inline policy and the managed policies of `name` to those of `props`.
    async fn apply(&self, name: &str, props: &IamRoleProps) -> Result<()> {
        let permissions: Vec<Permission> = props.permissions.iter().map(Into::into).collect();
        let document = policy_document(&permissions);
        let empty = document["Statement"].as_array().is_none_or(Vec::is_empty);
        if empty {
            self.delete_inline_policy(name).await?;
        } else {
            self.client
                .put_role_policy()
                .role_name(name)
                .policy_name(INLINE_POLICY_NAME)
                .policy_document(document.to_string())
                .send()
                .await
                .map_err(|e| failed("set the inline policy of", name, e))?;
        }
        let attached = self.attached(name).await?;
        for arn in &props.managed_policies {
            if !attached.contains(arn) {
                self.client
                    .attach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::provider(format!(
                            "could not attach the managed policy {arn} to IAM role `{name}`: \
                             {}; check that the policy exists in this account and partition",
                            reason(&e)
                        ))
                    })?;
            }
        }
        for arn in attached.difference(&props.managed_policies.iter().cloned().collect()) {
            self.detach(name, arn).await?;
        }
        Ok(())
    }

    async fn attached(&self, name: &str) -> Result<BTreeSet<String>> {
        let mut arns = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_attached_role_policies()
                .role_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| failed("list the managed policies of", name, e))?;
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned)),
            );
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(arns),
            }
        }
    }

    async fn detach(&self, name: &str, arn: &str) -> Result<()> {
        match self
            .client
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed(&format!("detach {arn} from"), name, e)),
        }
    }

    async fn delete_inline_policy(&self, name: &str) -> Result<()> {
        match self
            .client
            .delete_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY_NAME)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed("delete the inline policy of", name, e)),
        }
    }

    /// Whether the role `name` has the inline policy and the managed policies of `props`.
    async fn set_up(&self, name: &str, props: &IamRoleProps) -> Result<bool> {
        let permissions: Vec<Permission> = props.permissions.iter().map(Into::into).collect();
        let document = policy_document(&permissions);
        let empty = document["Statement"].as_array().is_none_or(Vec::is_empty);
        let inline = self.inline_policy(name).await?;
        let policy_ok = if empty {
            inline.is_none()
        } else {
            inline.as_ref() == Some(&document)
        };
        let managed: BTreeSet<String> = props.managed_policies.iter().cloned().collect();
        Ok(policy_ok && self.attached(name).await? == managed)
    }

    /// The role `name`, or `None` if there is none.
    async fn get(&self, name: &str) -> Result<Option<IamRoleOutput>> {
        match self.client.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().map(|role| IamRoleOutput {
                name: role.role_name().to_owned(),
                arn: role.arn().to_owned(),
            })),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(failed("read", name, e)),
        }
    }

    /// The inline policy of `name` as a document, or `None` if it has none.
    pub async fn inline_policy(&self, name: &str) -> Result<Option<Value>> {
        match self
            .client
            .get_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY_NAME)
            .send()
            .await
        {
            Ok(out) => decode_policy_document(out.policy_document()).map(Some),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(failed("read the inline policy of", name, e)),
        }
    }
}

#[async_trait]
impl Provider<IamRoleProps> for IamRoleProvider {
    /// With no output recorded (a create that was interrupted, or `--adopt`), a role that
    /// exists but lacks the policies of `props` counts as not made yet: a create that stopped
    /// between making the role and setting its policies is then finished by creating again,
    /// which adopts the role.
    async fn read(
        &self,
        ctx: &Context,
        props: &IamRoleProps,
        output: Option<IamRoleOutput>,
    ) -> Result<Option<IamRoleOutput>> {
        let Some(output) = output else {
            let name = role_name(&ctx.physical_name());
            let Some(found) = self.get(&name).await? else {
                return Ok(None);
            };
            return Ok(self.set_up(&name, props).await?.then_some(found));
        };
        self.get(&output.name).await
    }

    async fn create(&self, ctx: &Context, props: &IamRoleProps) -> Result<IamRoleOutput> {
        let name = role_name(&ctx.physical_name());
        let created = self
            .client
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(lambda_trust_policy())
            .description(format!(
                "Execution role of `{}` (app {}, stage {})",
                ctx.id, ctx.app, ctx.stage
            ))
            .send()
            .await;
        let output = match created {
            Ok(out) => out.role().map(|role| IamRoleOutput {
                name: role.role_name().to_owned(),
                arn: role.arn().to_owned(),
            }),
            // An earlier create that was not recorded: adopt the role, and make sure Lambda
            // may assume it.
            Err(e) if e.code() == Some("EntityAlreadyExists") => {
                self.client
                    .update_assume_role_policy()
                    .role_name(&name)
                    .policy_document(lambda_trust_policy())
                    .send()
                    .await
                    .map_err(|e| failed("set the trust policy of", &name, e))?;
                self.get(&name).await?
            }
            Err(e) => return Err(failed("create", &name, e)),
        };
        let output = output.ok_or_else(|| {
            Error::provider(format!("IAM did not describe the role `{name}` it created"))
        })?;
        self.apply(&name, props).await?;
        Ok(output)
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &IamRoleProps,
        new: &IamRoleProps,
        output: &IamRoleOutput,
    ) -> Result<IamRoleOutput> {
        self.apply(&output.name, new).await?;
        Ok(output.clone())
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &IamRoleProps,
        output: &IamRoleOutput,
    ) -> Result<()> {
        let name = &output.name;
        // IAM refuses to delete a role that still has policies.
        self.delete_inline_policy(name).await?;
        let attached = match self.attached(name).await {
            Err(Error::NotFound(_)) => return Ok(()),
            other => other?,
        };
        for arn in &attached {
            self.detach(name, arn).await?;
        }
        match self.client.delete_role().role_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed("delete", name, e)),
        }
    }
}

/// An IAM call on the role `name` that failed.
fn failed<E, R>(what: &str, name: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.code() == Some("NoSuchEntity") {
        return Error::NotFound(format!("IAM role `{name}`"));
    }
    Error::provider(format!(
        "could not {what} IAM role `{name}`: {}",
        reason(&e)
    ))
}

#[cfg(test)]
mod tests {
    use alchemy::Access;

    use super::*;
    use crate::control::bucket_permissions;

    const BUCKET: &str = "arn:aws:s3:::photo-share-dev-photos";
    const OBJECTS: &str = "arn:aws:s3:::photo-share-dev-photos/*";

    fn statements(document: &Value) -> &[Value] {
        assert_eq!(document["Version"], "2012-10-17");
        document["Statement"].as_array().expect("a statement list")
    }

    #[test]
    fn a_read_only_bucket_binding_lists_the_bucket_and_gets_objects() {
        let document = policy_document(&bucket_permissions(&json!(BUCKET), Access::ReadOnly));
        let statements = statements(&document);
        assert_eq!(statements.len(), 2, "{document:#}");
        assert_eq!(
            statements[0],
            json!({ "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": BUCKET })
        );
        assert_eq!(
            statements[1],
            json!({ "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": OBJECTS })
        );
    }

    #[test]
    fn a_read_write_bucket_binding_adds_put_delete_and_abort_on_objects() {
        let document = policy_document(&bucket_permissions(&json!(BUCKET), Access::ReadWrite));
        let statements = statements(&document);
        assert_eq!(statements.len(), 2, "{document:#}");
        assert_eq!(
            statements[0],
            json!({ "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": BUCKET })
        );
        assert_eq!(
            statements[1],
            json!({
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:GetObject",
                    "s3:PutObject",
                ],
                "Resource": OBJECTS,
            })
        );
    }

    #[test]
    fn statements_are_grouped_by_resource_with_actions_deduplicated() {
        let other = "arn:aws:s3:::thumbnails";
        let mut permissions = bucket_permissions(&json!(BUCKET), Access::ReadOnly);
        permissions.extend(bucket_permissions(&json!(BUCKET), Access::ReadWrite));
        permissions.extend(bucket_permissions(&json!(other), Access::ReadOnly));
        let document = policy_document(&permissions);
        let statements = statements(&document);
        let resources: Vec<&str> = statements
            .iter()
            .map(|s| s["Resource"].as_str().unwrap())
            .collect();
        assert_eq!(
            resources,
            [BUCKET, OBJECTS, other, "arn:aws:s3:::thumbnails/*"]
        );
        assert_eq!(statements[0]["Action"], json!(["s3:ListBucket"]));
        assert_eq!(
            statements[1]["Action"],
            json!([
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:PutObject"
            ])
        );
        assert_eq!(statements[3]["Action"], json!(["s3:GetObject"]));
    }

    #[test]
    fn no_permissions_is_no_statement() {
        let document = policy_document(&[]);
        assert!(statements(&document).is_empty());
    }

    #[test]
    fn policies_are_decoded_whether_or_not_iam_encoded_them() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_policy_document(plain).unwrap(),
            json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(
            decode_policy_document(encoded).unwrap(),
            decode_policy_document(plain).unwrap()
        );
        assert!(decode_policy_document("%7").is_err());
    }
}
