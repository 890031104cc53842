//! [`Table`]: the DynamoDB requests of the actor runtime, on one namespace's table.
//!
//! Layout (partition key `pk` = actor id, sort key `sk`, both strings):
//!
//! ```text
//! pk = <id>, sk = "meta"                     holder, expires (ms since the epoch), fence, gen
//! pk = <id>, sk = "d/<gen: 16 hex>/<key>"     v (binary): the value stored under <key>
//! ```
//!
//! `fence` grows by one on every acquisition of the lease; a commit is conditional on it, so
//! a holder whose lease was taken over can never commit. `gen` is the storage generation:
//! `delete_all` moves the actor to a fresh generation in its commit (one item, whatever the
//! number of keys), and the items of earlier generations are removed afterwards.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alchemy::actor::{ActorError, Result};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, ReturnValue, TransactWriteItem, Update,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use bytes::Bytes;

use super::PROVIDER;

/// The sort key of an actor's meta item.
pub(crate) const META: &str = "meta";
/// The bytes a data item's sort key spends before the storage key: `d/`, 16 hex digits, `/`.
pub(crate) const DATA_PREFIX_BYTES: usize = 19;
/// DynamoDB's limit on a sort key, in bytes.
const MAX_SORT_KEY_BYTES: usize = 1024;
/// The longest storage key: what a sort key leaves after the data prefix.
pub(crate) const MAX_KEY_BYTES: usize = MAX_SORT_KEY_BYTES - DATA_PREFIX_BYTES;
/// The largest stored value: DynamoDB's 400 KB item limit, less 2 KiB for the key attributes
/// and attribute names.
pub(crate) const MAX_VALUE_BYTES: usize = 400 * 1024 - 2048;
/// The most keys one turn may write: DynamoDB allows 100 items per transaction, and one of
/// them is the actor's meta item.
pub(crate) const MAX_WRITES_PER_TURN: usize = 99;
/// The most value bytes one turn may write: DynamoDB's 4 MB per transaction, less 2 KiB for
/// the keys of each of its 100 items.
pub(crate) const MAX_TURN_BYTES: usize = 4 * 1024 * 1024 - 100 * 2048;
/// Items per BatchWriteItem request, DynamoDB's limit.
const BATCH_DELETE: usize = 25;

/// The prefix of every data item of generation `gen`.
pub(crate) fn data_prefix(gen: u64) -> String {
    format!("d/{gen:016x}/")
}

/// A lease as acquired: what the commit is conditional on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    /// The holder's token, unique to the turn.
    pub(crate) holder: String,
    /// The fencing token of this acquisition.
    pub(crate) fence: u64,
    /// The storage generation when the lease was acquired.
    pub(crate) gen: u64,
}

/// Why an acquisition did not happen.
pub(crate) enum Acquire {
    /// Another holder has a lease that has not expired.
    Held,
    /// A request failed.
    Failed(ActorError),
}

/// Why a commit did not happen.
pub(crate) enum Commit {
    /// The meta item no longer carries our fencing token: the lease was taken over.
    LeaseLost,
    /// A concurrent request touched the meta item; trying again may succeed.
    Conflict,
    /// A request failed.
    Failed(ActorError),
}

/// One write of a commit, with the storage key it concerns.
pub(crate) enum Write<'a> {
    Put(&'a str, &'a Bytes),
    Delete(&'a str),
}

/// One namespace's table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) client: Client,
    pub(crate) name: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(crate) fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

impl Table {
    /// A query of the items of actor `id`, its partition: `#pk` and `#sk` name the key
    /// attributes and `:pk` is bound to `id`, for the key condition to use.
    fn query_actor(&self, id: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.name)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(id))
    }

    fn key(&self, id: &str, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_string(), s(id)), ("sk".to_string(), s(sk))])
    }

    /// A [`ActorError::Backend`] for a failed request about actor `id`.
    fn failed<E, R>(&self, what: &str, id: &str, error: &SdkError<E, R>) -> ActorError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let reason = match (error.code(), error.message()) {
            (Some("ResourceNotFoundException"), _) => format!(
                "the table `{}` does not exist: deploy it (`ActorTableProps`) or fix the table name",
                self.name
            ),
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(error).to_string(),
        };
        ActorError::backend(
            PROVIDER,
            format!(
                "could not {what} of actor `{id}` in table `{}`: {reason}",
                self.name
            ),
        )
    }

    fn invalid(&self, error: impl std::fmt::Display) -> ActorError {
        ActorError::backend(
            PROVIDER,
            format!("invalid request for table `{}`: {error}", self.name),
        )
    }

    /// Takes the lease of actor `id` for `holder` until `now + lease`, if it is free, expired
    /// or already `holder`'s, incrementing the fencing token.
    pub(crate) async fn acquire(
        &self,
        id: &str,
        holder: &str,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Lease, Acquire> {
        let now_ms = millis(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(self.key(id, META.to_string())))
            .update_expression(
                "SET #holder = :holder, #expires = :expires, #gen = if_not_exists(#gen, :zero) ADD #fence :one",
            )
            .condition_expression(
                "attribute_not_exists(#sk) OR attribute_not_exists(#holder) OR #expires < :now OR #holder = :holder",
            )
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_names("#gen", "gen")
            .expression_attribute_names("#fence", "fence")
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":expires", n(now_ms + lease.as_millis() as u64))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                let busy = error.as_service_error().is_some_and(|e| {
                    e.is_conditional_check_failed_exception()
                        || e.is_transaction_conflict_exception()
                });
                return Err(if busy {
                    Acquire::Held
                } else {
                    Acquire::Failed(self.failed("take the lease", id, &error))
                });
            }
        };
        let item = output.attributes().cloned().unwrap_or_default();
        match (number(&item, "fence"), number(&item, "gen")) {
            (Some(fence), Some(gen)) => Ok(Lease {
                holder: holder.to_string(),
                fence,
                gen,
            }),
            _ => Err(Acquire::Failed(ActorError::backend(
                PROVIDER,
                format!(
                    "the meta item of actor `{id}` in table `{}` has no fencing token or generation after taking the lease: is the table used by something else?",
                    self.name
                ),
            ))),
        }
    }

    /// Extends the lease to `now + lease`, if it is still ours; says whether it was.
    pub(crate) async fn renew(
        &self,
        id: &str,
        lease: &Lease,
        now: SystemTime,
        duration: Duration,
    ) -> bool {
        self.client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(self.key(id, META.to_string())))
            .update_expression("SET #expires = :expires")
            .condition_expression("#fence = :fence AND #holder = :holder")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_names("#fence", "fence")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":expires", n(millis(now) + duration.as_millis() as u64))
            .expression_attribute_values(":fence", n(lease.fence))
            .expression_attribute_values(":holder", s(&lease.holder))
            .send()
            .await
            .is_ok()
    }

    /// Gives the lease up without writing anything, if it is still ours.
    pub(crate) async fn release(&self, id: &str, lease: &Lease) -> Result<(), Commit> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(self.key(id, META.to_string())))
            .update_expression("REMOVE #holder, #expires")
            .condition_expression("#fence = :fence")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_names("#fence", "fence")
            .expression_attribute_values(":fence", n(lease.fence))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => Err(Commit::LeaseLost),
                Some(e) if e.is_transaction_conflict_exception() => Err(Commit::Conflict),
                _ => Err(Commit::Failed(self.failed("release the lease", id, &error))),
            },
        }
    }

    /// Applies `writes` to generation `gen` and releases the lease, in one transaction that
    /// happens only while the meta item still carries the lease's fencing token.
    ///
    /// `token` makes the transaction idempotent: the SDK's own retries of a request whose
    /// answer was lost are applied once. Give each new attempt a token of its own.
    pub(crate) async fn commit(
        &self,
        id: &str,
        lease: &Lease,
        gen: u64,
        writes: &[Write<'_>],
        token: &str,
    ) -> Result<(), Commit> {
        let prefix = data_prefix(gen);
        let meta = Update::builder()
            .table_name(&self.name)
            .set_key(Some(self.key(id, META.to_string())))
            .update_expression("REMOVE #holder, #expires SET #gen = :gen")
            .condition_expression("#fence = :fence")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_names("#gen", "gen")
            .expression_attribute_names("#fence", "fence")
            .expression_attribute_values(":fence", n(lease.fence))
            .expression_attribute_values(":gen", n(gen))
            .build()
            .map_err(|e| Commit::Failed(self.invalid(e)))?;
        let mut items = vec![TransactWriteItem::builder().update(meta).build()];
        for write in writes {
            let item = match write {
                Write::Put(key, value) => {
                    let mut item = self.key(id, format!("{prefix}{key}"));
                    item.insert(
                        "v".to_string(),
                        AttributeValue::B(Blob::new(value.to_vec())),
                    );
                    let put = Put::builder()
                        .table_name(&self.name)
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| Commit::Failed(self.invalid(e)))?;
                    TransactWriteItem::builder().put(put).build()
                }
                Write::Delete(key) => {
                    let delete = Delete::builder()
                        .table_name(&self.name)
                        .set_key(Some(self.key(id, format!("{prefix}{key}"))))
                        .build()
                        .map_err(|e| Commit::Failed(self.invalid(e)))?;
                    TransactWriteItem::builder().delete(delete).build()
                }
            };
            items.push(item);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let reasons: Vec<&str> = match error.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|reason| reason.code().unwrap_or("None"))
                            .collect()
                    }
                    Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                        return Err(Commit::Conflict)
                    }
                    _ => Vec::new(),
                };
                match reasons.first() {
                    Some(&"ConditionalCheckFailed") => Err(Commit::LeaseLost),
                    _ if reasons.contains(&"TransactionConflict") => Err(Commit::Conflict),
                    _ => Err(Commit::Failed(self.failed("commit the writes", id, &error))),
                }
            }
        }
    }

    /// The value under storage key `key` of generation `gen`.
    pub(crate) async fn get(&self, id: &str, gen: u64, key: &str) -> Result<Option<Bytes>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(self.key(id, format!("{}{key}", data_prefix(gen)))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("read a key", id, &e))?;
        Ok(output
            .item()
            .and_then(|item| item.get("v"))
            .and_then(|v| v.as_b().ok())
            .map(|blob| Bytes::copy_from_slice(blob.as_ref())))
    }

    /// Every entry of generation `gen` whose key starts with `prefix`, in key order.
    pub(crate) async fn list(
        &self,
        id: &str,
        gen: u64,
        prefix: &str,
    ) -> Result<Vec<(String, Bytes)>> {
        let data = data_prefix(gen);
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .query_actor(id)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_values(":prefix", s(format!("{data}{prefix}")))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.failed("list the keys", id, &e))?;
            for item in page.items() {
                let key = item
                    .get("sk")
                    .and_then(|sk| sk.as_s().ok())
                    .and_then(|sk| sk.strip_prefix(&data));
                let value = item.get("v").and_then(|v| v.as_b().ok());
                if let (Some(key), Some(value)) = (key, value) {
                    entries.push((key.to_string(), Bytes::copy_from_slice(value.as_ref())));
                }
            }
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => break,
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    /// Deletes the data items of every generation before `gen`: unreachable since the
    /// commit that moved the actor to `gen`.
    pub(crate) async fn delete_generations_before(&self, id: &str, gen: u64) -> Result<()> {
        let mut start = None;
        loop {
            let page = self
                .query_actor(id)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_values(":low", s("d/"))
                // Items of `gen` sort after this: they continue with `/`.
                .expression_attribute_values(":high", s(format!("d/{gen:016x}")))
                .projection_expression("#pk, #sk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.failed("list the keys of earlier generations", id, &e))?;
            let keys: Vec<HashMap<String, AttributeValue>> = page.items().to_vec();
            for chunk in keys.chunks(BATCH_DELETE) {
                self.batch_delete(id, chunk).await?;
            }
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => return Ok(()),
            }
        }
    }

    async fn batch_delete(&self, id: &str, keys: &[HashMap<String, AttributeValue>]) -> Result<()> {
        let mut requests = keys
            .iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(|e| self.invalid(e))
            })
            .collect::<Result<Vec<_>>>()?;
        // Unprocessed items come back to be sent again; a few rounds, then leave them for
        // the next clean-up.
        for _ in 0..5 {
            if requests.is_empty() {
                break;
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.name, requests)
                .send()
                .await
                .map_err(|e| self.failed("delete the keys of earlier generations", id, &e))?;
            requests = output
                .unprocessed_items()
                .and_then(|items| items.get(&self.name))
                .cloned()
                .unwrap_or_default();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_prefix_has_a_fixed_width_that_the_key_limit_accounts_for() {
        assert_eq!(data_prefix(0).len(), DATA_PREFIX_BYTES);
        assert_eq!(data_prefix(u64::MAX).len(), DATA_PREFIX_BYTES);
        assert_eq!(MAX_KEY_BYTES + DATA_PREFIX_BYTES, 1024);
        // Generations sort in order, and every data item sorts before the meta item.
        assert!(data_prefix(9) < data_prefix(10));
        assert!(data_prefix(u64::MAX).as_str() < META);
    }
}
