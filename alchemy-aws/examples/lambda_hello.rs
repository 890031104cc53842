//! The smallest useful Lambda function written with `lambda_runtime` alone: it answers every
//! event with a fixed function URL response. The baseline of the Lambda bootstrap benchmark
//! (`cargo bench -p alchemy-aws --bench lambda`), which deploys it next to photo-share.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200, "body": "hello" }))
    }))
    .await
}
