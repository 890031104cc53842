//! The table of an actor namespace as a deployable resource.

use std::time::Duration;

use alchemy::provider::{Context, Diff, Provider};
use alchemy::{Error, Resource, Result};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TableDescription, TableStatus,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

/// The table of an actor namespace, as [`DynamoActors`](super::DynamoActors) needs it. KIND
/// `aws.dynamodb.table`.
///
/// The table is created on demand (`PAY_PER_REQUEST`) with a string partition key `pk` and a
/// string sort key `sk`. Its name is `table_name` when given (to adopt a table that exists
/// already), else the resource's physical name made DynamoDB-valid, so a create interrupted
/// before it was recorded is found again. An existing table with that name is adopted when
/// its keys are the actor layout's, and refused otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorTableProps {
    /// The table's name; by default, derived from the resource's physical name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
}

/// What a deployed actor table is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorTableOutput {
    /// The table's name: what [`DynamoActors::new`](super::DynamoActors::new)'s table-name
    /// function must return for the namespace.
    pub name: String,
    /// Its ARN, for IAM statements (see [`actor_permissions`](super::actor_permissions)).
    pub arn: String,
    /// The region it lives in.
    pub region: String,
}

impl Resource for ActorTableProps {
    const KIND: &'static str = "aws.dynamodb.table";
    type Output = ActorTableOutput;
}

/// Creates, reads and deletes actor tables over `aws-sdk-dynamodb`.
///
/// Clients made by [`from_env`](Self::from_env) and [`from_sdk_config`](Self::from_sdk_config)
/// retry throttling, 5xx answers and failed connections with the SDK's standard retry mode:
/// five attempts, exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct ActorTableProvider {
    client: Client,
    region: String,
}

/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 5;
/// How long a new table may stay `CREATING` before the create gives up.
const ACTIVE_DEADLINE: Duration = Duration::from_secs(300);

/// The DynamoDB table name for `physical_name`: every character outside `[A-Za-z0-9_.-]`
/// made a `-`, at least 3 and at most 255 characters.
pub(crate) fn table_name(physical_name: &str) -> String {
    let mut name: String = physical_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.len() < 3 {
        name.push('-');
    }
    name.truncate(255);
    name
}

impl ActorTableProvider {
    /// A provider over `client`, whose region must be set: tables are created there.
    pub fn new(client: Client) -> Self {
        let region = client
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        ActorTableProvider { client, region }
    }

    /// A provider with credentials, region and endpoint from `config`.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .build();
        Self::new(Client::from_conf(dynamodb))
    }

    /// A provider with credentials, region and endpoint from the standard AWS chain.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn name_of(ctx: &Context, props: &ActorTableProps) -> String {
        props
            .table_name
            .clone()
            .unwrap_or_else(|| table_name(&ctx.physical_name()))
    }

    fn output(&self, table: &TableDescription, name: &str) -> ActorTableOutput {
        ActorTableOutput {
            name: name.to_owned(),
            arn: table.table_arn().map_or_else(
                || format!("arn:aws:dynamodb:{}:000000000000:table/{name}", self.region),
                str::to_owned,
            ),
            region: self.region.clone(),
        }
    }

    /// The table `name`, if it exists.
    async fn describe(&self, name: &str) -> Result<Option<TableDescription>> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(output) => Ok(output.table().cloned()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(failed("describe", name, &e)),
        }
    }

    /// Checks that `table` has the actor layout's keys.
    fn check_keys(table: &TableDescription, name: &str) -> Result<()> {
        let keys: Vec<(&str, &KeyType)> = table
            .key_schema()
            .iter()
            .map(|key| (key.attribute_name(), key.key_type()))
            .collect();
        let string = |attribute: &str| {
            table.attribute_definitions().iter().any(|definition| {
                definition.attribute_name() == attribute
                    && definition.attribute_type() == &ScalarAttributeType::S
            })
        };
        let expected = [("pk", &KeyType::Hash), ("sk", &KeyType::Range)];
        if keys.len() == 2
            && expected.iter().all(|key| keys.contains(key))
            && string("pk")
            && string("sk")
        {
            return Ok(());
        }
        Err(Error::provider(format!(
            "the DynamoDB table `{name}` exists but its keys are {keys:?}, not the actor layout (string partition key `pk`, string sort key `sk`): it cannot hold actors; name another table with `table_name`"
        )))
    }

    /// Waits until the table `name` is `ACTIVE`.
    async fn wait_active(&self, name: &str) -> Result<TableDescription> {
        let started = std::time::Instant::now();
        loop {
            match self.describe(name).await? {
                Some(table) if table.table_status() == Some(&TableStatus::Active) => {
                    return Ok(table)
                }
                Some(_) | None if started.elapsed() < ACTIVE_DEADLINE => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                status => {
                    return Err(Error::provider(format!(
                        "the DynamoDB table `{name}` is not active {ACTIVE_DEADLINE:?} after it was created (status {:?}); look at it in the console, then deploy again",
                        status.and_then(|table| table.table_status().cloned())
                    )))
                }
            }
        }
    }
}

#[async_trait]
impl Provider<ActorTableProps> for ActorTableProvider {
    async fn read(
        &self,
        ctx: &Context,
        props: &ActorTableProps,
        output: Option<ActorTableOutput>,
    ) -> Result<Option<ActorTableOutput>> {
        let name = output.map_or_else(|| Self::name_of(ctx, props), |o| o.name);
        match self.describe(&name).await? {
            Some(table) if table.table_status() == Some(&TableStatus::Deleting) => Ok(None),
            Some(table) => {
                Self::check_keys(&table, &name)?;
                Ok(Some(self.output(&table, &name)))
            }
            None => Ok(None),
        }
    }

    async fn diff(
        &self,
        ctx: &Context,
        old: &ActorTableProps,
        new: &ActorTableProps,
        _output: &ActorTableOutput,
    ) -> Result<Diff> {
        Ok(if Self::name_of(ctx, old) == Self::name_of(ctx, new) {
            Diff::Noop
        } else {
            Diff::Replace {
                delete_first: false,
            }
        })
    }

    async fn create(&self, ctx: &Context, props: &ActorTableProps) -> Result<ActorTableOutput> {
        let name = Self::name_of(ctx, props);
        let key = |attribute: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(key_type)
                .build()
                .map_err(|e| invalid(&name, e))
        };
        let string = |attribute: &str| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| invalid(&name, e))
        };
        let created = self
            .client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(string("pk")?)
            .attribute_definitions(string("sk")?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // It exists: adopted below when its keys fit.
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(failed("create", &name, &e)),
        }
        let table = self.wait_active(&name).await?;
        Self::check_keys(&table, &name)?;
        Ok(self.output(&table, &name))
    }

    async fn update(
        &self,
        _ctx: &Context,
        _old: &ActorTableProps,
        _new: &ActorTableProps,
        output: &ActorTableOutput,
    ) -> Result<ActorTableOutput> {
        // Nothing of the table changes in place: a new name is a replacement (see `diff`).
        Ok(output.clone())
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _props: &ActorTableProps,
        output: &ActorTableOutput,
    ) -> Result<()> {
        match self
            .client
            .delete_table()
            .table_name(&output.name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(failed("delete", &output.name, &e)),
        }
    }
}

fn failed<E, R>(what: &str, name: &str, e: &SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let reason = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(e).to_string(),
    };
    Error::provider(format!(
        "could not {what} DynamoDB table `{name}`: {reason}"
    ))
}

fn invalid(name: &str, e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::provider(format!("invalid request for DynamoDB table `{name}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::table_name;

    #[test]
    fn names_keep_the_allowed_characters() {
        assert_eq!(
            table_name("photo-share-prod-rooms"),
            "photo-share-prod-rooms"
        );
        assert_eq!(table_name("a b/c"), "a-b-c");
        assert_eq!(table_name("a"), "a--");
        assert_eq!(table_name(&"x".repeat(300)).len(), 255);
    }
}
