//! Least-privilege IAM statements for a service that hosts a namespace of DynamoDB-backed
//! actors.

use alchemy::stack::Permission;
use serde_json::Value;

/// The DynamoDB actions the actor runtime calls on a namespace's table, and only those.
///
/// A turn takes and releases the lease with `UpdateItem`, reads keys with `GetItem` and
/// lists them with `Query`, and commits with `TransactWriteItems`, whose `Update`, `Put` and
/// `Delete` actions are authorised as `UpdateItem`, `PutItem` and `DeleteItem` (a transaction
/// has no IAM action of its own). After `delete_all`, the keys of the earlier storage
/// generation are removed with `BatchWriteItem`. The runtime never scans, never creates or
/// describes tables, and uses no index, so the statement covers the table's ARN alone.
pub const ACTOR_ACTIONS: [&str; 6] = [
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

/// The IAM permissions a service needs to host the actor namespace whose table is
/// `table_arn`: [`ACTOR_ACTIONS`] on that table.
///
/// `table_arn` is the table's ARN as a string, or a reference marker `{"$ref": "id.arn"}` to
/// an [`ActorTableOutput`](super::ActorTableOutput).
///
/// ```
/// use alchemy_aws::actor::actor_permissions;
/// use serde_json::json;
///
/// let arn = json!("arn:aws:dynamodb:us-east-1:123456789012:table/app-prod-rooms");
/// let permissions = actor_permissions(&arn);
/// assert_eq!(permissions.len(), 1);
/// assert_eq!(permissions[0].resources, [arn]);
/// ```
pub fn actor_permissions(table_arn: &Value) -> Vec<Permission> {
    vec![Permission {
        actions: ACTOR_ACTIONS
            .iter()
            .map(|action| action.to_string())
            .collect(),
        resources: vec![table_arn.clone()],
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exactly_the_item_actions_on_the_table() {
        let arn = json!({ "$ref": "rooms.arn" });
        let permissions = actor_permissions(&arn);
        assert_eq!(permissions.len(), 1);
        assert_eq!(
            permissions[0].actions,
            [
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem"
            ]
        );
        assert_eq!(permissions[0].resources, [arn]);
    }
}
