//! The IAM user a service outside AWS signs its requests as, with the inline policy its
//! bindings ask for, and the access key it signs them with.

use std::collections::BTreeSet;

use alchemy::provider::{Context, Diff, Provider};
use alchemy::stack::Permission;
use alchemy::{Error, Input, Resource, Result, Secret};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::name::user_name;
use super::role::{decode_policy_document, policy_document, RolePermission, INLINE_POLICY_NAME};
use super::sdk::{reason, retry_config};

/// An IAM user for a service that runs outside AWS (a Cloudflare Worker, say) and so has no
/// role to assume: it signs its requests with an [`IamAccessKeyProps`] of this user. KIND
/// `aws.iam.user`.
///
/// Its name is the resource's physical name made IAM-valid ([`user_name`]), so a create
/// interrupted before it was recorded is found again. Its inline policy
/// [`INLINE_POLICY_NAME`] is [`policy_document`] of `permissions` (the same statements a
/// Lambda role gets for the same bindings), and it has no inline policy when `permissions`
/// is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IamUserProps {
    /// What the user may do: the permissions of its service's bindings, and no more.
    pub permissions: Vec<RolePermission>,
}

/// What a deployed user is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamUserOutput {
    /// The user's name, which its access keys name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
}

impl Resource for IamUserProps {
    const KIND: &'static str = "aws.iam.user";
    type Output = IamUserOutput;
}

/// An access key of an IAM user: the credentials a service outside AWS signs with. KIND
/// `aws.iam.access_key`.
///
/// Both halves are [`Secret`]s in its output, so they are sealed in state and never shown.
/// IAM tells the secret half only when the key is made: a create whose answer was lost leaves
/// a key nobody can use, so a create first deletes the keys the user already has (a user
/// holds one key, made for its service; a key being created is one state does not hold) and
/// then makes a new one. A change of user replaces the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamAccessKeyProps {
    /// The user's name (usually a reference to an [`IamUserOutput`]'s `name`).
    pub user: Input<String>,
}

/// What a deployed access key is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamAccessKeyOutput {
    /// The user the key belongs to.
    pub user: String,
    /// The key's id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: Secret,
    /// The key's secret (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Secret,
}

impl Resource for IamAccessKeyProps {
    const KIND: &'static str = "aws.iam.access_key";
    type Output = IamAccessKeyOutput;
}

/// The policy document of `permissions`, `None` when it grants nothing.
fn document_of(permissions: &[RolePermission]) -> Option<Value> {
    let permissions: Vec<Permission> = permissions.iter().map(Into::into).collect();
    let document = policy_document(&permissions);
    let empty = document["Statement"].as_array().is_none_or(Vec::is_empty);
    (!empty).then_some(document)
}

/// The permissions a policy document grants, one per statement (the inverse of
/// [`policy_document`] up to grouping).
fn permissions_of(document: &Value) -> Vec<RolePermission> {
    let statements = document["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    statements
        .iter()
        .map(|s| RolePermission {
            actions: match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            },
            resources: match &s["Resource"] {
                Value::Array(r) => r.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            },
        })
        .collect()
}

/// Creates, reads, updates and deletes IAM users, and their access keys, over `aws-sdk-iam`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode.
#[derive(Debug, Clone)]
pub struct IamUserProvider {
    client: Client,
}

impl IamUserProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        IamUserProvider { client }
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

    /// The user `name`, or `None` if there is none.
    async fn get(&self, name: &str) -> Result<Option<IamUserOutput>> {
        match self.client.get_user().user_name(name).send().await {
            Ok(out) => Ok(out.user().map(|user| IamUserOutput {
                name: user.user_name().to_owned(),
                arn: user.arn().to_owned(),
            })),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(failed("read", name, e)),
        }
    }

    /// The inline policy [`INLINE_POLICY_NAME`] of user `name` as a document, or `None` if it
    /// has none.
    pub async fn inline_policy(&self, name: &str) -> Result<Option<Value>> {
        match self
            .client
            .get_user_policy()
            .user_name(name)
            .policy_name(INLINE_POLICY_NAME)
            .send()
            .await
        {
            Ok(out) => decode_policy_document(out.policy_document()).map(Some),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(failed("read the inline policy of", name, e)),
        }
    }

    /// Sets the inline policy of `name` to that of `props`.
    async fn apply(&self, name: &str, props: &IamUserProps) -> Result<()> {
        match document_of(&props.permissions) {
            Some(document) => self
                .client
                .put_user_policy()
                .user_name(name)
                .policy_name(INLINE_POLICY_NAME)
                .policy_document(document.to_string())
                .send()
                .await
                .map(drop)
                .map_err(|e| failed("set the inline policy of", name, e)),
            None => self.delete_policy(name, INLINE_POLICY_NAME).await,
        }
    }

    async fn delete_policy(&self, name: &str, policy: &str) -> Result<()> {
        match self
            .client
            .delete_user_policy()
            .user_name(name)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed(&format!("delete the policy `{policy}` of"), name, e)),
        }
    }

    /// The names of the inline policies of user `name`.
    async fn policy_names(&self, name: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_user_policies()
                .user_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| failed("list the inline policies of", name, e))?;
            names.extend(page.policy_names().iter().cloned());
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    /// The ids of the access keys of user `name`.
    pub async fn access_keys(&self, name: &str) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_access_keys()
                .user_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| failed("list the access keys of", name, e))?;
            ids.extend(
                page.access_key_metadata()
                    .iter()
                    .filter_map(|k| k.access_key_id().map(str::to_owned)),
            );
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(ids),
            }
        }
    }

    async fn delete_key(&self, user: &str, id: &str) -> Result<()> {
        match self
            .client
            .delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed("delete an access key of", user, e)),
        }
    }
}

#[async_trait]
impl Provider<IamUserProps> for IamUserProvider {
    /// With no output recorded (a create that was interrupted, or `--adopt`), a user that
    /// exists but lacks the inline policy of `props` counts as not made yet: creating again
    /// adopts it and sets the policy.
    async fn read(
        &self,
        ctx: &Context,
        props: &IamUserProps,
        output: Option<IamUserOutput>,
    ) -> Result<Option<IamUserOutput>> {
        let Some(output) = output else {
            let name = user_name(&ctx.physical_name());
            let Some(found) = self.get(&name).await? else {
                return Ok(None);
            };
            let set_up = self.inline_policy(&name).await? == document_of(&props.permissions);
            return Ok(set_up.then_some(found));
        };
        self.get(&output.name).await
    }

    /// The user as IAM has it: its inline policy read back, so a policy changed outside
    /// Alchemy shows as drift and the next deploy sets it back.
    async fn refresh(
        &self,
        _ctx: &Context,
        props: &IamUserProps,
        output: &IamUserOutput,
    ) -> Result<Option<(IamUserProps, IamUserOutput)>> {
        let Some(live) = self.get(&output.name).await? else {
            return Ok(None);
        };
        let policy = self.inline_policy(&output.name).await?;
        let props = if policy == document_of(&props.permissions) {
            props.clone()
        } else {
            IamUserProps {
                permissions: policy.as_ref().map(permissions_of).unwrap_or_default(),
            }
        };
        Ok(Some((props, live)))
    }

    async fn create(&self, ctx: &Context, props: &IamUserProps) -> Result<IamUserOutput> {
        let name = user_name(&ctx.physical_name());
        let created = self.client.create_user().user_name(&name).send().await;
        let output = match created {
            Ok(out) => out.user().map(|user| IamUserOutput {
                name: user.user_name().to_owned(),
                arn: user.arn().to_owned(),
            }),
            // An earlier create that was not recorded: adopt the user.
            Err(e) if e.code() == Some("EntityAlreadyExists") => self.get(&name).await?,
            Err(e) => return Err(failed("create", &name, e)),
        };
        let output = output.ok_or_else(|| {
            Error::provider(format!("IAM did not describe the user `{name}` it created"))
        })?;
        self.apply(&name, props).await?;
        Ok(output)
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &IamUserProps,
        new: &IamUserProps,
        output: &IamUserOutput,
    ) -> Result<IamUserOutput> {
        self.apply(&output.name, new).await?;
        Ok(output.clone())
    }

    /// IAM refuses to delete a user that still has access keys or inline policies: they go
    /// first.
    async fn delete(
        &self,
        _ctx: &Context,
        _props: &IamUserProps,
        output: &IamUserOutput,
    ) -> Result<()> {
        match self.delete_user(&output.name).await {
            Err(Error::NotFound(_)) => Ok(()),
            other => other,
        }
    }
}

impl IamUserProvider {
    /// Deletes user `name` after its access keys and inline policies.
    async fn delete_user(&self, name: &str) -> Result<()> {
        for id in &self.access_keys(name).await? {
            self.delete_key(name, id).await?;
        }
        for policy in self.policy_names(name).await? {
            self.delete_policy(name, &policy).await?;
        }
        match self.client.delete_user().user_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(failed("delete", name, e)),
        }
    }
}

/// Creates, reads and deletes access keys of IAM users over `aws-sdk-iam`.
#[derive(Debug, Clone)]
pub struct IamAccessKeyProvider {
    users: IamUserProvider,
}

impl IamAccessKeyProvider {
    /// A provider over `client`.
    pub fn new(client: Client) -> Self {
        IamAccessKeyProvider {
            users: IamUserProvider::new(client),
        }
    }

    /// A provider with credentials, region and endpoint from `config`.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        IamAccessKeyProvider {
            users: IamUserProvider::from_sdk_config(config),
        }
    }

    /// Whether `user` still has the key `id`; `false` when the user is gone too.
    async fn has(&self, user: &str, id: &str) -> Result<bool> {
        match self.users.access_keys(user).await {
            Ok(keys) => Ok(keys.contains(id)),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Provider<IamAccessKeyProps> for IamAccessKeyProvider {
    /// With no output recorded, there is nothing to find: a key whose secret was never
    /// recorded cannot be used, and the create that follows deletes it.
    async fn read(
        &self,
        _ctx: &Context,
        _props: &IamAccessKeyProps,
        output: Option<IamAccessKeyOutput>,
    ) -> Result<Option<IamAccessKeyOutput>> {
        let Some(output) = output else {
            return Ok(None);
        };
        let live = self
            .has(&output.user, output.access_key_id.expose())
            .await?;
        Ok(live.then_some(output))
    }

    async fn diff(
        &self,
        _ctx: &Context,
        old: &IamAccessKeyProps,
        new: &IamAccessKeyProps,
        _output: &IamAccessKeyOutput,
    ) -> Result<Diff> {
        Ok(if old.user == new.user {
            Diff::Noop
        } else {
            Diff::Replace {
                delete_first: false,
            }
        })
    }

    /// Deletes the keys the user already has (left by a create whose answer was lost: their
    /// secrets are unknowable, and state holds none of them while this key is created), then
    /// makes a new one.
    async fn create(
        &self,
        _ctx: &Context,
        props: &IamAccessKeyProps,
    ) -> Result<IamAccessKeyOutput> {
        let user = props.user.get();
        for stray in self.users.access_keys(user).await? {
            self.users.delete_key(user, &stray).await?;
        }
        let created = self
            .users
            .client
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| failed("make an access key of", user, e))?;
        let key = created.access_key().ok_or_else(|| {
            Error::provider(format!(
                "IAM did not describe the access key it made for user `{user}`"
            ))
        })?;
        Ok(IamAccessKeyOutput {
            user: user.clone(),
            access_key_id: Secret::new(key.access_key_id()),
            secret_access_key: Secret::new(key.secret_access_key()),
        })
    }

    /// Nothing of a key changes in place (a new user is a new key): the output stays.
    async fn update(
        &self,
        _ctx: &Context,
        _old: &IamAccessKeyProps,
        _new: &IamAccessKeyProps,
        output: &IamAccessKeyOutput,
    ) -> Result<IamAccessKeyOutput> {
        Ok(output.clone())
    }

    /// Succeeds when the key, or its whole user, is already gone.
    async fn delete(
        &self,
        _ctx: &Context,
        _props: &IamAccessKeyProps,
        output: &IamAccessKeyOutput,
    ) -> Result<()> {
        self.users
            .delete_key(&output.user, output.access_key_id.expose())
            .await
    }
}

/// An IAM call on the user `name` that failed.
fn failed<E, R>(what: &str, name: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.code() == Some("NoSuchEntity") {
        return Error::NotFound(format!("IAM user `{name}`"));
    }
    Error::provider(format!(
        "could not {what} IAM user `{name}`: {}",
        reason(&e)
    ))
}

#[cfg(test)]
mod tests {
    use alchemy::Access;
    use serde_json::json;

    use super::*;
    use crate::control::bucket_permissions;

    #[test]
    fn a_policy_read_back_gives_permissions_with_the_same_document() {
        let permissions: Vec<RolePermission> =
            bucket_permissions(&json!("arn:aws:s3:::photos"), Access::ReadWrite)
                .iter()
                .map(Into::into)
                .collect();
        let document = document_of(&permissions).expect("statements");
        let back = permissions_of(&document);
        assert_eq!(document_of(&back), Some(document));
        assert_eq!(document_of(&[]), None);
    }

    #[test]
    fn the_key_output_never_shows_its_secrets() {
        let output = IamAccessKeyOutput {
            user: "u".into(),
            access_key_id: Secret::new("AKIAEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI"),
        };
        let shown = format!("{output:?}");
        assert!(!shown.contains("AKIAEXAMPLE") && !shown.contains("wJalrXUtnFEMI"));
        let value = serde_json::to_value(&output).unwrap();
        assert_eq!(
            value["secret_access_key"],
            json!({ "$secret": "wJalrXUtnFEMI" })
        );
    }
}
