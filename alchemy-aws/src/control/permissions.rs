//! Least-privilege IAM statements for a service bound to a bucket.

use alchemy::stack::Permission;
use alchemy::Access;
use serde_json::{json, Value};

/// The IAM permissions [`S3Bucket`](crate::s3::S3Bucket) needs on the bucket `bucket_arn`,
/// and no more.
///
/// The neutral client calls GetObject and HeadObject (`s3:GetObject`), ListObjectsV2
/// (`s3:ListBucket`, which also lets a missing key answer 404 rather than 403), and, for
/// read-write, PutObject, CopyObject (GetObject on the source and PutObject on the target,
/// both in the same bucket), the multipart calls (`s3:PutObject`; aborting a failed upload is
/// `s3:AbortMultipartUpload`) and DeleteObject. It never lists multipart uploads, so
/// `s3:ListBucketMultipartUploads` is not granted.
///
/// `bucket_arn` is the bucket's ARN as a string, or a reference marker `{"$ref": "id.arn"}`
/// to an [`S3BucketOutput`](super::S3BucketOutput). A reference cannot be suffixed, so the
/// object statements refer to the output's `objects_arn` (`ARN/*`) instead.
pub fn bucket_permissions(bucket_arn: &Value, access: Access) -> Vec<Permission> {
    let objects = objects_arn(bucket_arn);
    let mut object_actions = vec!["s3:GetObject"];
    if access == Access::ReadWrite {
        object_actions.extend(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]);
    }
    vec![
        Permission {
            actions: object_actions.into_iter().map(String::from).collect(),
            resources: vec![objects],
        },
        Permission {
            actions: vec!["s3:ListBucket".to_owned()],
            resources: vec![bucket_arn.clone()],
        },
    ]
}

/// `ARN/*` for a literal ARN; the `objects_arn` output for a reference to a bucket.
fn objects_arn(bucket_arn: &Value) -> Value {
    if let Some(arn) = bucket_arn.as_str() {
        return Value::String(format!("{arn}/*"));
    }
    let target = bucket_arn
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("$ref"))
        .and_then(Value::as_str);
    match target {
        Some(target) => {
            let id = target.split_once('.').map_or(target, |(id, _)| id);
            json!({ "$ref": format!("{id}.objects_arn") })
        }
        // Neither a string nor a reference: nothing sensible to suffix, so keep it as it is
        // and let IAM reject it at deploy time rather than grant more than asked.
        None => bucket_arn.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(p: &Permission) -> Vec<&str> {
        p.actions.iter().map(String::as_str).collect()
    }

    #[test]
    fn read_only_is_get_on_objects_and_list_on_the_bucket() {
        let arn = json!("arn:aws:s3:::photos");
        let p = bucket_permissions(&arn, Access::ReadOnly);
        assert_eq!(p.len(), 2);
        assert_eq!(actions(&p[0]), ["s3:GetObject"]);
        assert_eq!(p[0].resources, [json!("arn:aws:s3:::photos/*")]);
        assert_eq!(actions(&p[1]), ["s3:ListBucket"]);
        assert_eq!(p[1].resources, [json!("arn:aws:s3:::photos")]);
    }

    #[test]
    fn read_write_adds_put_delete_and_abort_on_objects() {
        let arn = json!("arn:aws:s3:::photos");
        let p = bucket_permissions(&arn, Access::ReadWrite);
        assert_eq!(p.len(), 2);
        assert_eq!(
            actions(&p[0]),
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload"
            ]
        );
        assert_eq!(p[0].resources, [json!("arn:aws:s3:::photos/*")]);
        assert_eq!(actions(&p[1]), ["s3:ListBucket"]);
        assert_eq!(p[1].resources, [json!("arn:aws:s3:::photos")]);
    }

    #[test]
    fn a_reference_uses_the_objects_arn_output() {
        let arn = json!({ "$ref": "photos.arn" });
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let p = bucket_permissions(&arn, access);
            assert_eq!(p[0].resources, [json!({ "$ref": "photos.objects_arn" })]);
            assert_eq!(p[1].resources, [json!({ "$ref": "photos.arn" })]);
        }
    }
}
